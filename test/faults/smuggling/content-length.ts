import { post, SMUGGLED, type RequestVector } from "./types.ts";

/** Content-Length values and repetitions (RFC 9110 §8.6, RFC 9112 §6.3 item 5). */
export const contentLength: RequestVector[] = [
  {
    name: "two Content-Length headers, different values",
    bytes: post(["Content-Length: 5", "Content-Length: 6"], "hello!"),
    expect: { reject: 400 },
    why: "RFC 9112 §6.3: differing lengths are an unrecoverable error",
  },
  {
    name: "two Content-Length headers, equal values",
    bytes: post(["Content-Length: 5", "Content-Length: 5"], "hello"),
    expect: { reject: 400 },
    why: "RFC 9110 §8.6 allows merging equal values; refusing is the safe choice (no hop can disagree)",
  },
  {
    name: "Content-Length: 5, 5 (a list)",
    bytes: post(["Content-Length: 5, 5"], "hello"),
    expect: { reject: 400 },
    why: "a list is not a length; refused like a repeated header",
  },
  {
    name: "Content-Length: 1 2",
    bytes: post(["Content-Length: 1 2"], "hello world!"),
    expect: { reject: 400 },
    why: "not 1*DIGIT; a hop that stops at the space would read 1 byte",
  },
  {
    name: "Content-Length: +5",
    bytes: post(["Content-Length: +5"], "hello"),
    expect: { reject: 400 },
    why: "not 1*DIGIT (strtol-style parsers accept a sign)",
  },
  {
    name: "Content-Length: -1",
    bytes: post(["Content-Length: -1"], "hello"),
    expect: { reject: 400 },
    why: "not 1*DIGIT",
  },
  {
    name: "Content-Length: 0x5",
    bytes: post(["Content-Length: 0x5"], "hello"),
    expect: { reject: 400 },
    why: "not 1*DIGIT (a hex-reading hop would read 5)",
  },
  {
    name: "Content-Length: 99999999999999999999 (overflows 64 bits)",
    bytes: post(["Content-Length: 99999999999999999999"], "hello"),
    expect: { reject: 400 },
    why: "an overflowing length wraps around in C parsers",
  },
  {
    name: "Content-Length with an empty value",
    bytes: post(["Content-Length: "], "hello"),
    expect: { reject: 400 },
    why: "not 1*DIGIT",
  },
  {
    name: "Content-Length:  5 (extra leading whitespace: OWS, valid)",
    bytes: post(["Content-Length:  5"], "hello"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello", headers: { "content-length": ["5"] } }] },
    why: "OWS around a field value is not part of it (RFC 9112 §5); the origin gets a clean length",
  },
  {
    name: "Content-Length: 5 with trailing whitespace (valid)",
    bytes: post(["Content-Length: 5 \t"], "hello"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello", headers: { "content-length": ["5"] } }] },
    why: "trailing OWS is not part of the value",
  },
  {
    name: "a request hidden in a Content-Length body stays body",
    bytes: post([`Content-Length: ${SMUGGLED.length}`], SMUGGLED),
    expect: { forward: [{ method: "POST", target: "/post", body: SMUGGLED, headers: { "content-length": [String(SMUGGLED.length)] } }] },
    why: "the bytes inside a body must reach the origin as body, never as a message",
  },
  {
    name: "a GET with a Content-Length body",
    bytes: `GET /get HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello`,
    expect: { forward: [{ method: "GET", target: "/get", body: "hello" }] },
    why: "a body on a GET is framed like any other (RFC 9110 §9.3.1); dropping it would desync",
  },
];
