import { undiciPool } from "./undici.ts";
import { H1Pool, type Upstream } from "./h1.ts";
import type { OriginConfig, PoolConfig } from "../core/config/schema.ts";
import { originTls } from "./tls.ts";
import { HealthStore, type HealthChange } from "../core/health/store.ts";
import { carryOver, type PoolHealth } from "../core/health/state.ts";
import { createPolicy, FULL, hashKey, NONE, pickOrigin, type Policy } from "../core/select/index.ts";
import { RetryBudget, type Trip } from "../core/proxy/retry.ts";
import { PoolCounters } from "../core/stats/counters.ts";
import type { Logger } from "./log.ts";

/** A request waiting for a free slot (every candidate at maxconn); `gone` once served, timed out or cancelled. */
export interface Waiter {
  exclude: readonly number[];
  key: number;
  done: (origin: number) => void;
  timer: NodeJS.Timeout | null;
  gone: boolean;
}

/** What a queue slot holds once its waiter went (served, timed out, or its client left). */
const PASSED: Waiter = { exclude: [], key: 0, done: () => {}, timer: null, gone: true };

/** A request being routed (node/proxy.ts Exchange, node/upgrade.ts Tunnel). */
export interface Routed {
  /** The origin of its next try; fromQueue: after a wait in the queue (NONE: nothing left, the queue full or its timeout passed). */
  sendTo(origin: number, fromQueue: boolean): void;
  /** Told before a wait in the queue begins. */
  queued?(): void;
}

/** One pool at runtime on Node: config, health, policy, counters, a connection pool per origin (node/h1.ts, or undici for https), the queue. */
export class PoolRuntime {
  readonly name: string;
  cfg: PoolConfig;
  readonly health: HealthStore;
  policy: Policy;
  counters: PoolCounters;
  budget: RetryBudget;
  dispatchers: Upstream[];
  inflight: Int32Array;
  maxconn: Int32Array;
  /**
   * The queue, first come first served: waiters from `head` on; one that left (its client went,
   * its deadline passed) stays in place marked `gone` and is skipped, so leaving costs nothing
   * however long the queue. `waiting` counts the ones still there.
   */
  private queue: Waiter[] = [];
  private head = 0;
  private waiting = 0;

  /**
   * `prev` = the health of the pool this one replaces on reload (kept for origins that keep their name).
   * Every state change is logged at warn, with its reason, and handed to `onChange` (the webhooks).
   */
  constructor(name: string, cfg: PoolConfig, log: Logger, prev?: PoolHealth, onChange?: (c: HealthChange) => void) {
    this.name = name;
    this.cfg = cfg;
    this.health = new HealthStore(cfg, Math.random, prev ? carryOver(prev, cfg) : undefined);
    this.health.onChange = (c) => {
      log.warn({ event: "health", pool: name, ...c, at: new Date(c.at).toISOString() });
      onChange?.(c);
    };
    this.policy = createPolicy(cfg.balance, cfg.origins.length);
    this.counters = new PoolCounters(cfg.origins.length);
    this.budget = new RetryBudget(cfg.retryBudget);
    this.dispatchers = cfg.origins.map((o) => makeDispatcher(o, cfg));
    this.inflight = new Int32Array(cfg.origins.length);
    this.maxconn = Int32Array.from(cfg.origins, (o) => o.maxconn);
  }

  /** Picks an origin for a try: an index, NONE (503 now) or FULL (wait with `enqueue`). `key`: affinity (balance source). */
  pick(exclude: readonly number[], key = 0): number {
    return pickOrigin(this.policy, this.health.weights(Date.now()), this.inflight, this.maxconn, exclude, key);
  }

  /**
   * The origin of the next try of `trip`, handed to `r.sendTo` now or after a wait in the queue. A
   * first try waits behind the requests already queued, as in HAProxy: a slot that frees goes to
   * the oldest waiter, not to whoever arrives then. Returns the wait (for `cancel`), else null.
   */
  route(trip: Pick<Trip, "retryOrigin" | "exclude" | "tried">, key: number, r: Routed): Waiter | null {
    const sticky = trip.retryOrigin;
    const i = sticky !== -1 ? sticky : this.waiting > 0 && trip.tried.length === 0 ? FULL : this.pick(trip.exclude, key);
    if (i !== FULL) {
      r.sendTo(i, false);
      return null;
    }
    r.queued?.();
    return this.enqueue(trip.exclude, (j) => r.sendTo(j, true), key);
  }

  /** The affinity key of a client address when the pool balances by source; 0 otherwise (not computed). */
  keyOf(client: string | undefined): number {
    return this.cfg.balance === "source" ? hashKey(client ?? "") : 0;
  }

  /** Waits for a slot; `done` gets an origin index, or NONE on timeout, full queue or nothing left. */
  enqueue(exclude: readonly number[], done: (origin: number) => void, key = 0): Waiter | null {
    if (this.waiting >= this.cfg.maxQueue) {
      done(NONE);
      return null;
    }
    const w: Waiter = { exclude, key, done, timer: null, gone: false };
    w.timer = setTimeout(() => {
      w.timer = null;
      if (this.leave(w)) done(NONE);
    }, this.cfg.timeouts.queue);
    this.queue.push(w);
    this.waiting++;
    this.counters.queued = this.waiting;
    // a slot may be free already (the waiters ahead were all gone)
    this.drain();
    return w;
  }

  /** The request no longer waits (its client left, its deadline passed): its place is given up. */
  cancel(w: Waiter | null): void {
    if (w === null || !this.leave(w)) return;
    // it may stay in the array a while yet (until the head passes it): without its request
    w.done = PASSED.done;
    w.exclude = PASSED.exclude;
  }

  /** Marks `w` gone (false if it already was). */
  private leave(w: Waiter): boolean {
    if (w.gone) return false;
    w.gone = true;
    if (w.timer !== null) clearTimeout(w.timer);
    w.timer = null;
    this.waiting--;
    this.queueChanged();
    return true;
  }

  /** A try started on `origin`. */
  acquire(origin: number): void {
    this.inflight[origin]++;
    this.counters.origins[origin].inflight++;
  }

  /** A try on `origin` ended: wake the oldest waiter that can now go somewhere. */
  release(origin: number): void {
    this.inflight[origin]--;
    this.counters.origins[origin].inflight--;
    this.drain();
  }

  /** Hands free slots to the waiters in order, until one finds every candidate full. */
  private drain(): void {
    // this.queue is read afresh each turn: a waiter's `done` may queue (or drain) again
    while (this.head < this.queue.length) {
      const w = this.queue[this.head];
      if (w.gone) {
        // the slots before head hold nothing: a waiter kept there would keep its whole request
        // (exchange, response, buffers) alive until the array is cut, thousands at c9000
        this.queue[this.head++] = PASSED;
        continue;
      }
      const i = this.pick(w.exclude, w.key);
      if (i === FULL) break;
      this.queue[this.head++] = PASSED;
      this.leave(w);
      w.done(i);
      if (i !== NONE) break;
    }
    // drop the part before head once it is most of the array
    const q = this.queue;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Closes the origin connections once their requests are done (a reload replaced this pool, or
   * the balancer stops). Requests waiting in the queue are requests in flight too: they keep their
   * turn on this pool's connections as slots free up (or time out as ever), and the connections
   * close after the last of them.
   */
  async close(): Promise<void> {
    while (this.waiting > 0) await new Promise<void>((r) => (this.drained = r));
    await Promise.all(this.dispatchers.map((d) => d.close()));
  }

  /** Wakes `close` when the queue is empty. */
  private drained: (() => void) | null = null;

  private queueChanged(): void {
    this.counters.queued = this.waiting;
    if (this.waiting === 0 && this.drained) {
      const d = this.drained;
      this.drained = null;
      d();
    }
  }
}

/**
 * Keep-alive connections to one origin. Plain http: node/h1.ts (node:http's own parser, read in C++).
 * https: undici's Pool with TLS settings, sized to maxconn. Timeouts from the pool config.
 */
export function makeDispatcher(o: OriginConfig, cfg: PoolConfig): Upstream {
  // below Apache's default KeepAliveTimeout (5 s), so we rarely reuse a socket the origin is closing
  const h1 = H1Pool.forUrl(o.url, cfg.timeouts.connect, 4_000);
  if (h1) return h1;
  const Pool = undiciPool();
  return new Pool(o.url, {
    connections: o.maxconn > 0 ? o.maxconn : null,
    pipelining: 1,
    connect: { timeout: cfg.timeouts.connect, ...originTls(o) },
    // a backstop only: the precise per-try header deadline is set per exchange (node/proxy.ts)
    headersTimeout: cfg.timeouts.header > 0 ? cfg.timeouts.header + 1000 : 0,
    // the idle deadline between body chunks is enforced per exchange (node/proxy.ts)
    bodyTimeout: 0,
    // below Apache's default KeepAliveTimeout (5 s), so we rarely reuse a socket the origin is closing
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
  });
}
