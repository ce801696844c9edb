import { post, SMUGGLED, type RequestVector } from "./types.ts";

/** Transfer-Encoding and Content-Length together (RFC 9112 §6.3 item 3: "ought to be handled as an error"). */
export const teCl: RequestVector[] = [
  {
    name: "TE chunked + CL, CL first, a request hidden after the chunked end",
    bytes: post(["Content-Length: 48", "Transfer-Encoding: chunked"], `0\r\n\r\n${SMUGGLED}`),
    expect: { reject: 400 },
    why: "CL.TE: a CL-framing hop would see one request, a TE-framing hop two",
  },
  {
    name: "TE chunked + CL, TE first, the CL covers only the chunk size",
    bytes: post(["Transfer-Encoding: chunked", "Content-Length: 3"], `8\r\nSMUGGLED\r\n0\r\n\r\n`),
    expect: { reject: 400 },
    why: "TE.CL: the origin would read 3 bytes and take the rest as a new request",
  },
  {
    name: "TE chunked + CL: 0",
    bytes: post(["Content-Length: 0", "Transfer-Encoding: chunked"], `5\r\nhello\r\n0\r\n\r\n`),
    expect: { reject: 400 },
    why: "a CL-framing origin would take the chunked body as the next request",
  },
  {
    name: "TE chunked + CL on a GET",
    bytes: `GET / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    expect: { reject: 400 },
    why: "the method does not change the framing rule",
  },
];
