import type { PoolConfig, RetryOn } from "../config/schema.ts";
import type { OutcomeKind } from "../health/state.ts";

/** How one try failed, named by what the adapter saw on the wire. */
export type FailureKind =
  /** connection refused (nothing listens) */
  | "connect-refused"
  /** no connection within timeouts.connect */
  | "connect-timeout"
  /** any other failure to connect (reset during connect, unreachable, TLS) */
  | "connect-error"
  /** the connection closed or reset after the request was sent, before any response byte */
  | "empty-response"
  /** no response headers within timeouts.header */
  | "header-timeout"
  /** the response could not be parsed (bad status line, duplicate Content-Length, ...) */
  | "bad-response"
  /** the body stopped after the response had started (reset, close, idle timeout) */
  | "body-error";

interface FailureRule {
  /** Request bytes may have reached the origin. */
  sent: boolean;
  /** HAProxy `retry-on` keyword that allows a retry, or null: never retried. */
  retryOn: RetryOn | null;
  /** What the health model hears. */
  outcome: OutcomeKind;
  /** Status for the client when no retry follows. */
  status: number;
}

/** Failure rules as data. 503 for "no origin could be reached" as HAProxy answers; 504 for a timeout. */
export const FAILURES: Readonly<Record<FailureKind, FailureRule>> = {
  "connect-refused": { sent: false, retryOn: "conn-failure", outcome: "refused", status: 503 },
  "connect-timeout": { sent: false, retryOn: "conn-failure", outcome: "timeout", status: 503 },
  "connect-error": { sent: false, retryOn: "conn-failure", outcome: "refused", status: 503 },
  "empty-response": { sent: true, retryOn: "empty-response", outcome: "reset", status: 502 },
  "header-timeout": { sent: true, retryOn: "response-timeout", outcome: "timeout", status: 504 },
  "bad-response": { sent: true, retryOn: null, outcome: "5xx", status: 502 },
  "body-error": { sent: true, retryOn: null, outcome: "reset", status: 502 },
};

/**
 * Retry budget (Envoy/Finagle/gRPC style): every request earns `percent`/100 of a retry, every retry
 * spends one, so over time retries stay under `percent` % of requests and a farm-wide 503 storm is
 * not multiplied (attempts / requests <= 1 + percent/100). `minConcurrent` retries are always allowed
 * at once, whatever the credit. The credit is capped so a long calm period cannot fund a storm.
 */
export class RetryBudget {
  /** Retry credit; starts with a little so a fresh balancer can survive an origin dying at once. */
  credit: number;
  /** Requests currently in a retry. */
  retrying = 0;
  readonly ratio: number;
  readonly minConcurrent: number;
  readonly maxCredit: number;
  constructor(cfg: PoolConfig["retryBudget"], maxCredit = 1000) {
    this.ratio = cfg.percent / 100;
    this.minConcurrent = cfg.minConcurrent;
    this.maxCredit = maxCredit;
    this.credit = Math.min(maxCredit, 100 * this.ratio);
  }
  /** A client request arrived. */
  onRequest(): void {
    // rounded: summing 0.1 ten times gives 0.9999999999999999, which would never fund a retry
    if (this.credit < this.maxCredit) this.credit = Math.min(this.maxCredit, Math.round((this.credit + this.ratio) * 1e6) / 1e6);
  }
  /** Takes the budget for one retry; `holding` = this request already counts among `retrying`. */
  tryAcquire(holding: boolean): boolean {
    if (this.credit >= 1) this.credit -= 1;
    else if (this.retrying - (holding ? 1 : 0) >= this.minConcurrent) return false;
    if (!holding) this.retrying++;
    return true;
  }
  release(): void {
    if (this.retrying > 0) this.retrying--;
  }
}

export type RetryDecision =
  | { retry: true; /** wait before the next try, ms */ delayMs: number; /** the next try goes to another origin */ redispatch: boolean }
  | { retry: false; status: number; reason: "not-retryable" | "method" | "body" | "exhausted" | "budget" | "response-started" };

/** The pool settings the retry decision reads. */
export type RetryConfig = Pick<PoolConfig, "retries" | "redispatch" | "retryOn" | "retryMethods">;

/** Backoff for a retry on the same origin (redispatch off): full jitter, 50 ms doubling, capped at 1 s. */
export function backoffMs(retry: number, rand: () => number): number {
  return Math.floor(rand() * Math.min(1000, 50 * 2 ** (retry - 1)));
}

/**
 * The statuses a retry may follow (502/503/504, when retryOn lists them): a runtime that makes
 * Trip only on the first failure asks this first, so a 200 costs no Trip.
 */
export function mayRetryStatus(code: number): boolean {
  return code >= 502 && code <= 504;
}

/**
 * One request's trip across origins: which origins it tried, and whether the next failure is
 * retried. The adapter does the I/O; this decides. Never sleeps: a decision carries its delay.
 */
export class Trip {
  /** Origins tried so far, in order; a redispatch never goes back to one of them. */
  readonly tried: number[] = [];
  retries = 0;
  redispatches = 0;
  /** Holds a budget slot while a retry is in flight. */
  private holding = false;
  private readonly cfg: RetryConfig;
  private readonly idempotent: boolean;
  private readonly replayable: boolean;
  private readonly budget: RetryBudget;
  private readonly rand: () => number;

  /**
   * @param replayable the body is absent or fully buffered, so it can be sent again
   */
  constructor(cfg: RetryConfig, method: string, replayable: boolean, budget: RetryBudget, rand: () => number) {
    this.cfg = cfg;
    this.idempotent = (cfg.retryMethods as readonly string[]).includes(method);
    this.replayable = replayable;
    this.budget = budget;
    this.rand = rand;
  }

  /** Records that try number `tried.length` goes to `origin`. */
  start(origin: number): void {
    this.tried.push(origin);
  }

  /** Origins the next pick must avoid: all tried ones when redispatching, none otherwise. */
  get exclude(): readonly number[] {
    return this.cfg.redispatch ? this.tried : EMPTY;
  }

  /**
   * Where a retry must go without a new pick: with redispatch off, back to the origin that failed
   * (HAProxy's `retries` without `option redispatch`); -1 = pick another one.
   */
  get retryOrigin(): number {
    return !this.cfg.redispatch && this.tried.length !== 0 ? this.tried[this.tried.length - 1] : -1;
  }

  /** The origin of the current try, or -1. */
  get current(): number {
    return this.tried.length ? this.tried[this.tried.length - 1] : -1;
  }

  /**
   * Decides after a failed try. `responseStarted` = bytes already reached the client: then
   * nothing can be retried (the client would get two responses).
   */
  failed(kind: FailureKind, responseStarted = false): RetryDecision {
    const rule = FAILURES[kind];
    if (responseStarted) return this.stop(rule.status, "response-started");
    return this.decide(rule.retryOn, rule.sent, rule.status);
  }

  /** Decides on a response status before it is passed on; retries 502/503/504 only when retryOn lists them. */
  status(code: number): RetryDecision {
    const key = String(code) as RetryOn;
    if (!mayRetryStatus(code) || !(this.cfg.retryOn as readonly string[]).includes(key)) return this.stop(code, "not-retryable");
    return this.decide(key, true, code);
  }

  /** Releases the budget slot; call once when the request ends. */
  end(): void {
    if (this.holding) {
      this.holding = false;
      this.budget.release();
    }
  }

  private decide(retryOn: RetryOn | null, sent: boolean, status: number): RetryDecision {
    if (retryOn === null || !(this.cfg.retryOn as readonly string[]).includes(retryOn)) return this.stop(status, "not-retryable");
    if (!this.replayable) return this.stop(status, "body");
    if (sent && !this.idempotent) return this.stop(status, "method");
    if (this.retries >= this.cfg.retries) return this.stop(status, "exhausted");
    if (!this.budget.tryAcquire(this.holding)) return this.stop(status, "budget");
    this.holding = true;
    this.retries++;
    if (this.cfg.redispatch) {
      this.redispatches++;
      return { retry: true, delayMs: 0, redispatch: true };
    }
    return { retry: true, delayMs: backoffMs(this.retries, this.rand), redispatch: false };
  }

  private stop(status: number, reason: Extract<RetryDecision, { retry: false }>["reason"]): RetryDecision {
    return { retry: false, status, reason };
  }
}

const EMPTY: readonly number[] = [];
