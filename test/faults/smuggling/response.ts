import type { ResponseVector } from "./types.ts";

/** Bad bytes from the origin (RFC 9112 §6.3 for responses). */
export const response: ResponseVector[] = [
  {
    name: "two Content-Length headers, different values",
    origin: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nevil",
    expect: { status: 502 },
    why: "RFC 9112 §6.3: unrecoverable; a downstream cache would split differently",
  },
  {
    name: "two Content-Length headers, equal values",
    origin: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nevil",
    expect: { status: 502 },
    why: "refused like on the request side",
  },
  {
    name: "Transfer-Encoding and Content-Length",
    origin: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nevil\r\n0\r\n\r\n",
    expect: { status: 502 },
    why: "RFC 9112 §6.3 item 3",
  },
  {
    name: "Content-Length: +4",
    origin: "HTTP/1.1 200 OK\r\nContent-Length: +4\r\n\r\nevil",
    expect: { status: 502 },
    why: "not 1*DIGIT",
  },
  {
    name: "a NUL in a response header value",
    origin: "HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 4\r\n\r\nevil",
    expect: { status: 502 },
    why: "RFC 9110 §5.5",
  },
  {
    name: "a space before the colon in a response header",
    origin: "HTTP/1.1 200 OK\r\nContent-Length : 4\r\n\r\nevil",
    expect: { status: 502 },
    why: "RFC 9112 §5.1: a proxy MUST remove it or refuse",
  },
  {
    name: "truncated chunked body",
    origin: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    expect: { truncated: 200 },
    why: "the client must see the cut, never a last chunk we made up",
  },
  {
    name: "truncated Content-Length body",
    origin: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
    expect: { truncated: 200 },
    why: "the same for a length-framed body",
  },
  {
    name: "a bad chunk size in the middle of the body",
    origin: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nevil\r\n0\r\n\r\n",
    expect: { truncated: 200 },
    why: "after the head is sent, a framing error can only be a cut",
  },
  {
    name: "a second response after the body is not passed on",
    origin: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil",
    expect: { clean: 200, body: "ok" },
    why: "response splitting: the client gets one response for one request",
  },
];
