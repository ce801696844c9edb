import type { FailureKind } from "../proxy/retry.ts";

/** Counters of one origin; plain numbers so an increment costs nothing on the hot path. */
export class OriginCounters {
  /** Tries sent to this origin. */
  tries = 0;
  /** Requests in flight right now. */
  inflight = 0;
  /** Responses passed on to clients, by status class (index 1..5). */
  readonly status = [0, 0, 0, 0, 0, 0];
  /** Failed tries by kind. */
  readonly failures: Record<FailureKind, number> = {
    "connect-refused": 0,
    "connect-timeout": 0,
    "connect-error": 0,
    "empty-response": 0,
    "header-timeout": 0,
    "bad-response": 0,
    "body-error": 0,
  };
  /** Tries that were retries of a failed try elsewhere or here. */
  retries = 0;
  /** Tries that came here from another origin. */
  redispatches = 0;
  /** Requests the client aborted while this origin served them (not held against it). */
  clientAborts = 0;
  bytesOut = 0;
}

/** Counters of one pool. */
export class PoolCounters {
  /** Client requests routed to this pool. */
  requests = 0;
  /** Answered 503 because no origin was eligible. */
  noOrigin = 0;
  /** Gave up waiting in the queue (timeouts.queue) or found it full. */
  queueTimeouts = 0;
  /** Requests waiting for a free slot right now. */
  queued = 0;
  /** Retries refused by the retry budget. */
  budgetExhausted = 0;
  /** Client responses by status class (index 1..5), including our own 5xx. */
  readonly status = [0, 0, 0, 0, 0, 0];
  readonly origins: OriginCounters[];
  constructor(size: number) {
    this.origins = Array.from({ length: size }, () => new OriginCounters());
  }
}
