import { get, type RequestVector } from "./types.ts";

/** Field syntax (RFC 9112 §5, RFC 9110 §5.5). */
export const headerSyntax: RequestVector[] = [
  {
    name: "obs-fold in an ordinary header",
    bytes: get("/fold", "X-Long: first", " second"),
    expect: { reject: 400 },
    why: "RFC 9112 §5.2: a proxy MUST refuse obs-fold or replace it with SP",
  },
  {
    name: "obs-fold with a tab, folding a Host",
    bytes: "GET /fold HTTP/1.1\r\nHost: shop.example\r\n\tevil.example\r\n\r\n",
    expect: { reject: 400 },
    why: "a hop that does not unfold sees a different Host",
  },
  {
    name: "a header line starting with whitespace right after the request line",
    bytes: "GET /ws HTTP/1.1\r\n Host: shop.example\r\nHost: shop.example\r\n\r\n",
    expect: { reject: 400 },
    why: "RFC 9112 §2.2: reject, or ignore each such line",
  },
  {
    name: "a space before the colon",
    bytes: get("/sp", "X-Thing : 1"),
    expect: { reject: 400 },
    why: "RFC 9112 §5.1: MUST respond 400",
  },
  {
    name: "a tab before the colon",
    bytes: get("/tab", "Content-Length\t: 0"),
    expect: { reject: 400 },
    why: "the same rule; some parsers trim the name",
  },
  {
    name: "an empty header name",
    bytes: get("/empty", ": no name"),
    expect: { reject: 400 },
    why: "field-name is a token (1 or more tchar)",
  },
  {
    name: "a header line without a colon",
    bytes: get("/nocolon", "X-No-Colon"),
    expect: { reject: 400 },
    why: "not a field line",
  },
  {
    name: "a non-token character in a header name",
    bytes: get("/name", "X(Bad): 1"),
    expect: { reject: 400 },
    why: "field-name is a token",
  },
  {
    name: "a NUL in a header value",
    bytes: get("/nul", "X-Nul: a\0b"),
    expect: { reject: 400 },
    why: "RFC 9110 §5.5: NUL MUST be refused or replaced",
  },
  {
    name: "a bare CR inside a header value",
    bytes: get("/cr", "X-Cr: a\rb"),
    expect: { reject: 400 },
    why: "RFC 9110 §5.5: CR MUST be refused or replaced",
  },
  {
    name: "a bare LF inside a header value",
    bytes: get("/lf", "X-Lf: a\nTransfer-Encoding: chunked"),
    expect: { reject: 400 },
    why: "an LF-splitting hop sees a Transfer-Encoding line",
  },
  {
    name: "a control character (0x01) in a header value",
    bytes: get("/ctl", "X-Ctl: a\x01b"),
    expect: { reject: 400 },
    why: "not field-vchar",
  },
  {
    name: "obs-text (0xE9) in a header value is passed on",
    bytes: get("/obs", "X-Latin: caf\xe9"),
    expect: { forward: [{ method: "GET", target: "/obs", headers: { "x-latin": ["caf\xe9"] } }] },
    why: "obs-text is allowed in field values (RFC 9110 §5.5); forwarded byte for byte",
  },
  {
    name: "two spaces in the request line (normalized)",
    bytes: "GET  /two HTTP/1.1\r\nHost: shop.example\r\n\r\n",
    expect: { forward: [{ method: "GET", target: "/two" }] },
    why: "RFC 9112 §3 lets a recipient split on whitespace; the origin gets a request line we wrote, single SP",
  },
  {
    name: "a lower-case protocol name",
    bytes: "GET /v http/1.1\r\nHost: shop.example\r\n\r\n",
    expect: { reject: 400 },
    why: "HTTP-name is case-sensitive",
  },
  {
    name: "a non-token method",
    bytes: "G(T /m HTTP/1.1\r\nHost: shop.example\r\n\r\n",
    expect: { reject: 400 },
    why: "method is a token",
  },
];
