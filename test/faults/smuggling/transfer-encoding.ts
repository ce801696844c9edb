import { post, type RequestVector } from "./types.ts";

/** Transfer-Encoding spellings (RFC 9112 §6.1: chunked is final and applied once; §6.3 item 4). */
export const transferEncoding: RequestVector[] = [
  {
    name: "Transfer-Encoding: chunked (the reference)",
    bytes: post(["Transfer-Encoding: chunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello", headers: { "transfer-encoding": null } }] },
    why: "valid; the origin gets the decoded body, framed by us",
  },
  {
    name: "Transfer-Encoding: CHUNKED (case-insensitive, valid)",
    bytes: post(["Transfer-Encoding: CHUNKED"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello" }] },
    why: "coding names are case-insensitive (RFC 9112 §7)",
  },
  {
    name: "Transfer-Encoding: chunked, chunked",
    bytes: post(["Transfer-Encoding: chunked, chunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "RFC 9112 §6.1: chunked MUST NOT be applied more than once",
  },
  {
    name: "two Transfer-Encoding: chunked headers",
    bytes: post(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "the same as chunked, chunked (RFC 9110 §5.3 joins the lines)",
  },
  {
    name: "Transfer-Encoding: xchunked",
    bytes: post(["Transfer-Encoding: xchunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "not chunked: a request with no length (RFC 9112 §6.3 item 4: 400 and close)",
  },
  {
    name: "Transfer-Encoding: chunkedx",
    bytes: post(["Transfer-Encoding: chunkedx"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "prefix-matching parsers read this as chunked",
  },
  {
    name: "Transfer-Encoding: gzip, chunked",
    bytes: post(["Transfer-Encoding: gzip, chunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "we would strip the gzip coding (hop-by-hop) and hand the origin bytes it cannot read; nginx answers 501",
  },
  {
    name: "Transfer-Encoding: chunked, identity",
    bytes: post(["Transfer-Encoding: chunked, identity"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "chunked not final: no length (RFC 9112 §6.3 item 4)",
  },
  {
    name: "Transfer-Encoding: identity",
    bytes: post(["Transfer-Encoding: identity"], "hello"),
    expect: { reject: 400 },
    why: "identity was removed from HTTP/1.1; no length",
  },
  {
    name: "Transfer-Encoding with an empty value",
    bytes: post(["Transfer-Encoding: "], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "present but not chunked",
  },
  {
    name: "Transfer-Encoding: chunked on HTTP/1.0",
    bytes: `POST /post HTTP/1.0\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    expect: { reject: 400 },
    why: "RFC 9112 §6.1: TE in an HTTP/1.0 message means the framing is faulty",
  },
  {
    name: "Transfer-Encoding folded onto a second line (obs-fold)",
    bytes: post(["Transfer-Encoding:", " chunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "RFC 9112 §5.2: obs-fold is refused (400) or unfolded; a hop that ignores the fold sees no TE",
  },
  {
    name: "Transfer-Encoding: chunked with a tab before the value (valid OWS)",
    bytes: post(["Transfer-Encoding:\tchunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello" }] },
    why: "HTAB is OWS",
  },
  {
    name: "Transfer-Encoding with a space before the colon",
    bytes: post(["Transfer-Encoding : chunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "RFC 9112 §5.1: MUST reject whitespace between name and colon",
  },
  {
    name: "Transfer-Encoding with a vertical tab before chunked",
    bytes: post(["Transfer-Encoding:\x0bchunked"], "5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "VT is not OWS; some parsers trim it",
  },
];
