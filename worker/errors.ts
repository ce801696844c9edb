import type { FailureKind } from "../core/proxy/retry.ts";

/** Thrown into a try's AbortSignal when the origin's response headers did not come in time. */
export class HeaderTimeout extends Error {
  override readonly name = "HeaderTimeout";
  constructor() {
    super("no response headers within timeouts.header");
  }
}

/**
 * Thrown into a try's AbortSignal when the exchange's total deadline (timeouts.total) came first:
 * the client's budget is spent, which is not the origin's failure (as on the Node build).
 */
export class TotalDeadline extends Error {
  override readonly name = "TotalDeadline";
  constructor() {
    super("timeouts.total reached");
  }
}

/**
 * Maps what workerd's fetch throws to core's failure kinds (facts pinned in test/worker/probe.test.ts).
 * A refused connection and a connection closed after the request was sent both reject with
 * "Network connection lost.", so either may have reached the origin: "empty-response", which core
 * retries for idempotent methods only. Only our own abort (the header timeout) is told apart.
 */
export function failureOf(_err: unknown, aborted: boolean): FailureKind {
  return aborted ? "header-timeout" : "empty-response";
}
