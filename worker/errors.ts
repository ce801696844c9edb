import type { FailureKind } from "../core/proxy/retry.ts";

/** Thrown into a try's AbortSignal when the origin's response headers did not come in time. */
export class HeaderTimeout extends Error {
  override readonly name = "HeaderTimeout";
  constructor() {
    super("no response headers within timeouts.header");
  }
}

/**
 * Maps what workerd's fetch throws to core's failure kinds. fetch does not say whether the request
 * left; only a refused connection is known to be unsent (see test/worker/probe.test.ts).
 */
export function failureOf(err: unknown, aborted: boolean): FailureKind {
  if (aborted) return "header-timeout";
  const msg = String((err as Error)?.message ?? err);
  if (/connection refused|ECONNREFUSED/i.test(msg)) return "connect-refused";
  if (/connect|dns|resolve/i.test(msg)) return "connect-error";
  return "empty-response";
}
