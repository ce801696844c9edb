import { SMUGGLED, type RequestVector } from "./types.ts";

const req = (line: string, ...lines: string[]) => `${line}\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`;

/** Host and the request-target (RFC 9112 §3.2, RFC 9110 §7.2). */
export const hostTarget: RequestVector[] = [
  {
    name: "no Host on HTTP/1.1",
    bytes: req("GET /nohost HTTP/1.1"),
    expect: { reject: 400 },
    why: "RFC 9112 §3.2: MUST respond 400",
  },
  {
    name: "two Host headers, different values",
    bytes: req("GET /h HTTP/1.1", "Host: shop.example", "Host: evil.example"),
    expect: { reject: 400 },
    why: "RFC 9112 §3.2: MUST respond 400 (Node keeps the first silently)",
  },
  {
    name: "a request pipelined behind a refused one is not forwarded",
    bytes: req("GET /h HTTP/1.1", "Host: shop.example", "Host: evil.example") + SMUGGLED,
    expect: { reject: 400 },
    why: "after a 400 the connection is closed: nothing more is read from it",
  },
  {
    name: "two Host headers, same value",
    bytes: req("GET /h HTTP/1.1", "Host: shop.example", "Host: shop.example"),
    expect: { reject: 400 },
    why: "more than one Host field line is refused whatever the values",
  },
  {
    name: "two Host headers differing in case of the name",
    bytes: req("GET /h HTTP/1.1", "Host: shop.example", "hOST: evil.example"),
    expect: { reject: 400 },
    why: "field names are case-insensitive",
  },
  {
    name: "Host: a list of two hosts",
    bytes: req("GET /h HTTP/1.1", "Host: shop.example, evil.example"),
    expect: { reject: 400 },
    why: "Host is one uri-host [\":\" port], not a list; routing and the origin could pick different ones",
  },
  {
    name: "Host with a path",
    bytes: req("GET /h HTTP/1.1", "Host: shop.example/evil"),
    expect: { reject: 400 },
    why: "not uri-host [\":\" port]",
  },
  {
    name: "Host with userinfo",
    bytes: req("GET /h HTTP/1.1", "Host: user@evil.example"),
    expect: { reject: 400 },
    why: "not uri-host [\":\" port]",
  },
  {
    name: "Host with a space inside",
    bytes: req("GET /h HTTP/1.1", "Host: shop example"),
    expect: { reject: 400 },
    why: "not uri-host [\":\" port]",
  },
  {
    name: "Host with a port (valid)",
    bytes: req("GET /port HTTP/1.1", "Host: shop.example:8080"),
    expect: { forward: [{ method: "GET", target: "/port", headers: { host: ["shop.example:8080"] } }] },
    why: "uri-host \":\" port; passed on unchanged",
  },
  {
    name: "HTTP/1.0 without Host (valid)",
    bytes: req("GET /old HTTP/1.0"),
    expect: { forward: [{ method: "GET", target: "/old" }] },
    why: "Host is required from HTTP/1.1 on",
  },
  {
    name: "absolute-form target for another host",
    bytes: req("GET http://evil.example/x HTTP/1.1", "Host: shop.example"),
    expect: { reject: 400 },
    why: "RFC 9112 §3.2.2: the target's authority wins over Host; we route by Host, so they must agree",
  },
  {
    name: "absolute-form target for the same host, reduced to origin-form",
    bytes: req("GET http://shop.example/abs?q=1 HTTP/1.1", "Host: shop.example"),
    expect: { forward: [{ method: "GET", target: "/abs?q=1", headers: { host: ["shop.example"] } }] },
    why: "valid; the origin gets origin-form (RFC 9112 §3.2.1)",
  },
  {
    name: "absolute-form with userinfo",
    bytes: req("GET http://shop.example@evil.example/ HTTP/1.1", "Host: shop.example"),
    expect: { reject: 400 },
    why: "userinfo is deprecated in http URIs (RFC 9110 §4.2.4); user@host confuses parsers",
  },
  {
    name: "absolute-form with user:password",
    bytes: req("GET http://user:pw@shop.example/ HTTP/1.1", "Host: shop.example"),
    expect: { reject: 400 },
    why: "RFC 9110 §4.2.4",
  },
  {
    name: "//host/path stays a path on the configured origin",
    bytes: req("GET //evil.example/x HTTP/1.1", "Host: shop.example"),
    expect: { forward: [{ method: "GET", target: "//evil.example/x", headers: { host: ["shop.example"] } }] },
    why: "origin-form; never resolved as a network-path reference (new URL would name evil.example)",
  },
  {
    name: "CONNECT to another host",
    bytes: req("CONNECT evil.example:443 HTTP/1.1", "Host: evil.example:443"),
    expect: { reject: 400 },
    why: "we are a reverse proxy, not a tunnel (authority-form refused)",
  },
  {
    name: "authority-form target on a GET",
    bytes: req("GET shop.example:80 HTTP/1.1", "Host: shop.example"),
    expect: { reject: 400 },
    why: "authority-form is for CONNECT only",
  },
  {
    name: "asterisk-form on a GET",
    bytes: req("GET * HTTP/1.1", "Host: shop.example"),
    expect: { reject: 400 },
    why: "asterisk-form is for OPTIONS only",
  },
  {
    name: "a fragment in the target",
    bytes: req("GET /page#frag HTTP/1.1", "Host: shop.example"),
    expect: { reject: 400 },
    why: "a request-target has no fragment (RFC 9112 §3.2)",
  },
];
