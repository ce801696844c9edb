/**
 * The smuggling corpus: exact request bytes and the verdict edgelb must give. One file per family
 * (te-cl.ts, content-length.ts, ...), gathered in index.ts, run by test/faults/smuggling.test.ts
 * through edgelb and through HAProxy 2.6, each in front of a raw origin stub (wire.ts).
 */

/** One request as the origin must receive it (after the balancer sanitized it). */
export interface OriginRequest {
  method: string;
  /** The request-target on the origin's request line. */
  target: string;
  /** The body the origin must receive, exactly (latin1); default "". */
  body?: string;
  /**
   * Headers checked by name (lower case): every value the origin received for that name, in order;
   * `null` = the header must be absent. Headers not named here are not checked.
   */
  headers?: Record<string, string[] | null>;
}

/**
 * What edgelb must do. `reject`: answer this status, close the connection, and send the origin
 * nothing (not one byte). `forward`: the origin receives exactly these requests, one message each,
 * and the client exactly one response per request.
 */
export type Verdict = { reject: 400 | 414 | 431 } | { forward: OriginRequest[] };

/** A request-side vector: the client sends `bytes`. */
export interface RequestVector {
  name: string;
  /** The exact bytes (latin1 string); an array is written piece by piece, 20 ms apart. */
  bytes: string | string[];
  expect: Verdict;
  /** Why this verdict (the RFC rule or the attack); shown in the results table. */
  why: string;
}

/** What the client must see for a response-side vector. */
export type ResponseVerdict =
  /** A whole error response of ours with this status (the origin's bytes never reach the client). */
  | { status: 502 }
  /** The response head with this status, then a body that ends early: the connection closes before a clean end. */
  | { truncated: 200 }
  /** A clean response with this status and exactly this body. */
  | { clean: 200; body: string };

/** A response-side vector: a plain GET; the origin stub answers with `origin` bytes, then closes. */
export interface ResponseVector {
  name: string;
  /** What the origin stub sends back (latin1), then it closes the connection. */
  origin: string;
  expect: ResponseVerdict;
  why: string;
}

export const CRLF = "\r\n";

/** `GET <target> HTTP/1.1` + Host + extra header lines + the blank line. */
export function get(target: string, ...lines: string[]): string {
  return `GET ${target} HTTP/1.1\r\nHost: shop.example\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`;
}

/** A POST with the given header lines (Host first) and raw body bytes after the blank line. */
export function post(lines: string[], body: string, target = "/post"): string {
  return `POST ${target} HTTP/1.1\r\nHost: shop.example\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n${body}`;
}

/** The request a smuggler hides behind the first one; it must never reach the origin as its own message. */
export const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: shop.example\r\n\r\n";
