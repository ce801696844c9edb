import { SMUGGLED, type RequestVector } from "./types.ts";

/** Line terminators other than CRLF (RFC 9112 §2.2: a bare CR MUST be refused or replaced by SP). */
export const lineEndings: RequestVector[] = [
  {
    name: "bare LF after every line",
    bytes: "GET /lf HTTP/1.1\nHost: shop.example\n\n",
    expect: { reject: 400 },
    why: "RFC 9112 §2.2 lets a recipient accept bare LF; we refuse it, so no hop can split lines differently",
  },
  {
    name: "bare LF after one header line only",
    bytes: "GET /lf HTTP/1.1\r\nHost: shop.example\nX-Other: 1\r\n\r\n",
    expect: { reject: 400 },
    why: "a CRLF-only hop sees one header with an LF in its value, an LF-tolerant hop two",
  },
  {
    name: "bare LF ending the head (CRLF LF)",
    bytes: `POST /post HTTP/1.1\r\nHost: shop.example\r\nContent-Length: ${SMUGGLED.length}\r\n\n${SMUGGLED}`,
    expect: { reject: 400 },
    why: "where the head ends decides where the body starts",
  },
  {
    name: "bare CR as a line terminator",
    bytes: "GET /cr HTTP/1.1\rHost: shop.example\r\n\r\n",
    expect: { reject: 400 },
    why: "RFC 9112 §2.2: a bare CR MUST be refused or replaced by SP",
  },
  {
    name: "bare CR between two header lines",
    bytes: "GET /cr HTTP/1.1\r\nHost: shop.example\rTransfer-Encoding: chunked\r\n\r\n",
    expect: { reject: 400 },
    why: "a hop treating CR as a line end sees a Transfer-Encoding",
  },
  {
    name: "LF-only chunk size lines",
    bytes: "POST /post HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    expect: { reject: 400 },
    why: "chunk lines end in CRLF (RFC 9112 §7.1); LF-tolerance differs between hops",
  },
  {
    name: "chunk data followed by LF only",
    bytes: "POST /post HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
    expect: { reject: 400 },
    why: "chunk-data is followed by CRLF",
  },
  {
    name: "CR CR LF line ending",
    bytes: "GET /crcr HTTP/1.1\r\r\nHost: shop.example\r\n\r\n",
    expect: { reject: 400 },
    why: "a stray CR is a bare CR",
  },
];
