import { get, post, type RequestVector } from "./types.ts";

/** Forwarding headers and Connection (RFC 9110 §7.6.1, RFC 7239). */
export const forwarding: RequestVector[] = [
  {
    name: "spoofed X-Forwarded-For is replaced",
    bytes: get("/xff", "X-Forwarded-For: 6.6.6.6"),
    expect: { forward: [{ method: "GET", target: "/xff", headers: { "x-forwarded-for": ["127.0.0.1"] } }] },
    why: "an untrusted peer's X-Forwarded-For is discarded, the socket address set",
  },
  {
    name: "two spoofed X-Forwarded-For lines in different case",
    bytes: get("/xff2", "x-forwarded-for: 6.6.6.6", "X-FORWARDED-FOR: 7.7.7.7"),
    expect: { forward: [{ method: "GET", target: "/xff2", headers: { "x-forwarded-for": ["127.0.0.1"] } }] },
    why: "names are case-insensitive",
  },
  {
    name: "spoofed Forwarded is dropped",
    bytes: get("/fwd", "Forwarded: for=6.6.6.6;proto=https"),
    expect: { forward: [{ method: "GET", target: "/fwd", headers: { forwarded: null, "x-forwarded-for": ["127.0.0.1"] } }] },
    why: "RFC 7239 from an untrusted peer is not believed",
  },
  {
    name: "spoofed X-Forwarded-Host and X-Forwarded-Proto are replaced",
    bytes: get("/xfh", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https"),
    expect: { forward: [{ method: "GET", target: "/xfh", headers: { "x-forwarded-host": ["shop.example"], "x-forwarded-proto": ["http"] } }] },
    why: "the origin builds absolute URLs from these",
  },
  {
    name: "Connection naming X-Forwarded-For cannot remove ours",
    bytes: get("/connxff", "Connection: X-Forwarded-For"),
    expect: { forward: [{ method: "GET", target: "/connxff", headers: { "x-forwarded-for": ["127.0.0.1"], connection: null } }] },
    why: "Connection-listed headers are the client's, not the ones we add",
  },
  {
    name: "Connection naming a custom header removes it",
    bytes: get("/connx", "X-Secret-Hop: 1", "Connection: close, X-Secret-Hop"),
    expect: { forward: [{ method: "GET", target: "/connx", headers: { "x-secret-hop": null, connection: null } }] },
    why: "RFC 9110 §7.6.1",
  },
  {
    name: "Connection naming Host",
    bytes: get("/connhost", "Connection: Host"),
    expect: { reject: 400 },
    why: "stripping Host would change the request's meaning at the origin",
  },
  {
    name: "Connection naming Content-Length",
    bytes: post(["Content-Length: 5", "Connection: Content-Length"], "hello"),
    expect: { reject: 400 },
    why: "stripping the length would change the message boundary",
  },
  {
    name: "Connection naming Transfer-Encoding",
    bytes: post(["Transfer-Encoding: chunked", "Connection: Transfer-Encoding"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "the same for chunked framing",
  },
  {
    name: "Connection naming Authorization",
    bytes: get("/connauth", "Authorization: Basic dTpw", "Connection: Authorization"),
    expect: { reject: 400 },
    why: "stripping credentials changes who the origin thinks is asking",
  },
  {
    name: "hop-by-hop headers are not forwarded",
    bytes: get("/hop", "Keep-Alive: timeout=5", "TE: trailers", "Proxy-Authorization: Basic dTpw", "Proxy-Connection: keep-alive"),
    expect: {
      forward: [{ method: "GET", target: "/hop", headers: { "keep-alive": null, te: null, "proxy-authorization": null, "proxy-connection": null } }],
    },
    why: "RFC 9110 §7.6.1",
  },
  {
    name: "h2c upgrade is not passed on",
    bytes: get("/h2c", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"),
    expect: { forward: [{ method: "GET", target: "/h2c", headers: { upgrade: null, "http2-settings": null, connection: null } }] },
    why: "h2c smuggling: an origin that upgrades would take the connection out of our hands",
  },
];
