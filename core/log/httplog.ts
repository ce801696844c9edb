import type { FailureKind } from "../proxy/retry.ts";

/**
 * One request's log line, with HAProxy's httplog fields (HAProxy 1.4 names for the timers):
 * - `client`: the peer as addr:port; `pool` (HAProxy's backend) and `origin` (its server; null
 *   for HAProxy's `<NOSRV>`: no origin was tried, and for `<STATS>`-like control routes);
 * - timers in ms, -1 when the step was never reached: `Tq` request head received (from the accept,
 *   or on a keep-alive connection from the end of the previous response: idle time included, as in
 *   HAProxy 1.4/1.5), `Tw` time waiting in the queue for a free slot (all tries), `Tc` connect time
 *   of the last try (0 on a reused keep-alive connection), `Tr` the last try's wait for the
 *   response headers, `Tt` total, from Tq's start to the last byte (or the close);
 * - `status` sent to the client (-1: none), `bytes` sent to the client (head included),
 *   `retries` (tries after the first), `redispatched` (a retry went to another origin);
 * - `termination`: HAProxy's two-letter termination state (see TERMINATION);
 * - `method`, `path` as the client sent them.
 */
export interface HttpLogLine {
  event: "request";
  client: string;
  pool: string | null;
  origin: string | null;
  Tq: number;
  Tw: number;
  Tc: number;
  Tr: number;
  Tt: number;
  status: number;
  bytes: number;
  retries: number;
  redispatched: boolean;
  termination: string;
  method: string | null;
  path: string | null;
}

/**
 * Where the exchange was when it ended: HAProxy's second letter. R waiting for the client's request
 * (head or body), Q in the queue for a slot, C connecting to the origin, H waiting for the
 * response headers, D streaming the response body.
 */
export type Phase = "R" | "Q" | "C" | "H" | "D";

/**
 * HAProxy's termination states as edgelb produces them (first letter: who ended it; second: the
 * phase). `--` is a normal end. The mapping of edgelb's own failure kinds is FAILURE_TERMINATION.
 */
export const TERMINATION = {
  normal: "--",
  /** the client closed before the end; the second letter is the phase (CR, CQ, CC, CH, CD) */
  clientAbort: "C",
  /** a time-out on our side of the origin (`timeouts.total`, `timeouts.idle`): sQ, sC, sH, sD */
  serverTimeout: "s",
  /** no origin available (every one down, drained or ejected): HAProxy's `<NOSRV>` 503 */
  noOrigin: "SC",
  /** the queue was full, or a request waited `timeouts.queue` for a slot */
  queue: "sQ",
  /** every try was answered with a retryable 5xx (retryOn 502/503/504), none left to try */
  retried5xx: "SH",
  /** refused by our request validation (400, 414, 431, bad Host, smuggling shapes) */
  refused: "PR",
  /** the client sent no complete request head in `client.headerTimeout` (408) */
  clientTimeout: "cR",
  /** answered locally: control routes (stats, metrics, agent, admin) and lookalike paths */
  local: "LR",
  /** a bug of ours (500) */
  internal: "IR",
} as const;

/** Our failure kinds (core/proxy/retry.ts) as HAProxy termination states, when the exchange ends on one. */
export const FAILURE_TERMINATION: Readonly<Record<FailureKind, string>> = {
  /** nothing listens: HAProxy logs SC (server refused the connection) */
  "connect-refused": "SC",
  /** no connection within timeouts.connect: a time-out while connecting */
  "connect-timeout": "sC",
  /** reset or unreachable while connecting */
  "connect-error": "SC",
  /** closed or reset after the request was sent, before any response byte */
  "empty-response": "SH",
  /** no response headers within timeouts.header */
  "header-timeout": "sH",
  /** a response that could not be parsed: HAProxy's PH (the proxy blocked an invalid response) */
  "bad-response": "PH",
  /** the body broke after the response had started */
  "body-error": "SD",
};
