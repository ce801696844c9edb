import type { FailureKind } from "../core/proxy/retry.ts";

/**
 * Maps what workerd's fetch throws to core's failure kinds (facts pinned in test/worker/probe.test.ts).
 * A refused connection and a connection closed after the request was sent both reject with
 * "Network connection lost.", so either may have reached the origin: "empty-response", which core
 * retries for idempotent methods only. Only our own abort (the header timeout) is told apart.
 */
export function failureOf(_err: unknown, aborted: boolean): FailureKind {
  return aborted ? "header-timeout" : "empty-response";
}
