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
  /** Upgraded connections (WebSocket tunnels) to this origin open right now. */
  tunnels = 0;
  /** Tunnels opened to this origin since start (a 101 passed on). */
  tunnelsTotal = 0;
}

/** Upper bounds (seconds) of the request duration histogram: Prometheus' usual ones, 5 ms to 10 s. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A Prometheus-style histogram with fixed bounds: `counts[k]` holds the observations v with
 * bounds[k-1] < v <= bounds[k] (not cumulative, so an observation is one increment), the last slot
 * those above every bound (+Inf). Cumulative counts are made when read (core/stats/model.ts).
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(bounds: readonly number[] = DURATION_BUCKETS) {
    for (let k = 1; k < bounds.length; k++) if (!(bounds[k] > bounds[k - 1])) throw new Error("histogram bounds must increase");
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  /** One observation (seconds for a duration); NaN and negative values count in the first bucket as 0. */
  observe(v: number): void {
    if (!(v > 0)) v = 0;
    const b = this.bounds;
    let k = 0;
    while (k < b.length && v > b[k]) k++;
    this.counts[k]++;
    this.sum += v;
    this.count++;
  }
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
  /**
   * Seconds from a client request's arrival to its answer (origin's response ended, or our own
   * error sent): one observation per request counted in `status`.
   */
  readonly duration = new Histogram(DURATION_BUCKETS);
  readonly origins: OriginCounters[];
  constructor(size: number) {
    this.origins = Array.from({ length: size }, () => new OriginCounters());
  }
}
