import { post, SMUGGLED, type RequestVector } from "./types.ts";

/** The chunked coding itself (RFC 9112 §7.1). */
export const chunked: RequestVector[] = [
  {
    name: "two chunks and a trailer section",
    bytes: post(["Transfer-Encoding: chunked"], "3\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello", headers: { "x-trailer": null } }] },
    why: "valid; trailers are not forwarded as header fields",
  },
  {
    name: "a short chunk extension (valid)",
    bytes: post(["Transfer-Encoding: chunked"], "5;name=value\r\nhello\r\n0\r\n\r\n"),
    expect: { forward: [{ method: "POST", target: "/post", body: "hello" }] },
    why: "chunk-ext is allowed and ignored",
  },
  {
    name: "a pipelined request after the last chunk is its own request",
    bytes: post(["Transfer-Encoding: chunked"], `5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`),
    expect: {
      forward: [
        { method: "POST", target: "/post", body: "hello" },
        { method: "GET", target: "/smuggled", body: "" },
      ],
    },
    why: "pipelining is legal: the origin must see the same two messages the client sent",
  },
  {
    name: "chunk size overflowing 64 bits",
    bytes: post(["Transfer-Encoding: chunked"], `10000000000000005\r\nhello\r\n0\r\n\r\n${SMUGGLED}`),
    expect: { reject: 400 },
    why: "a wrapping parser reads 5",
  },
  {
    name: "chunk size 0x5",
    bytes: post(["Transfer-Encoding: chunked"], "0x5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "chunk-size is 1*HEXDIG; a prefix parser reads 0 and ends the body",
  },
  {
    name: "chunk size with a leading space",
    bytes: post(["Transfer-Encoding: chunked"], " 5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "not 1*HEXDIG",
  },
  {
    name: "chunk size -5",
    bytes: post(["Transfer-Encoding: chunked"], "-5\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "not 1*HEXDIG",
  },
  {
    name: "chunk data longer than its size",
    bytes: post(["Transfer-Encoding: chunked"], `3\r\nhello\r\n0\r\n\r\n`),
    expect: { reject: 400 },
    why: "the CRLF must follow exactly size bytes",
  },
  {
    name: "an oversized chunk extension (20 KiB)",
    bytes: post(["Transfer-Encoding: chunked"], `5;${"a".repeat(20 * 1024)}\r\nhello\r\n0\r\n\r\n`),
    expect: { reject: 400 },
    why: "CVE-2024-22019 class: extensions are bounded (Node: 16 KiB)",
  },
  {
    name: "an unbounded chunk extension (streamed 256 KiB, never ends)",
    bytes: [post(["Transfer-Encoding: chunked"], "5;"), ...Array.from({ length: 16 }, () => "b".repeat(16 * 1024))],
    expect: { reject: 400 },
    why: "a reader that waits for the end of the line never stops buffering",
  },
  {
    name: "a NUL in a chunk extension",
    bytes: post(["Transfer-Encoding: chunked"], "5;a=\0\r\nhello\r\n0\r\n\r\n"),
    expect: { reject: 400 },
    why: "chunk-ext is tokens or quoted strings",
  },
];
