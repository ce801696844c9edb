import { undiciPool } from "./undici.ts";
import { H1Pool, type Upstream } from "./h1.ts";
import type { OriginConfig, PoolConfig } from "../core/config/schema.ts";
import { originTls } from "./tls.ts";
import { HealthStore, type HealthChange } from "../core/health/store.ts";
import { carryOver, type PoolHealth } from "../core/health/state.ts";
import { createPolicy, FULL, hashKey, NONE, pickOrigin, type Policy } from "../core/select/index.ts";
import { RetryBudget } from "../core/proxy/retry.ts";
import { PoolCounters } from "../core/stats/counters.ts";
import type { Logger } from "./log.ts";

/** A request waiting for a free slot (every candidate at maxconn). */
interface Waiter {
  exclude: readonly number[];
  key: number;
  done: (origin: number) => void;
  timer: NodeJS.Timeout;
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
  private readonly queue: Waiter[] = [];

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

  /** The affinity key of a client address when the pool balances by source; 0 otherwise (not computed). */
  keyOf(client: string | undefined): number {
    return this.cfg.balance === "source" ? hashKey(client ?? "") : 0;
  }

  /** Waits for a slot; `done` gets an origin index, or NONE on timeout, full queue or nothing left. */
  enqueue(exclude: readonly number[], done: (origin: number) => void, key = 0): void {
    if (this.queue.length >= this.cfg.maxQueue) return done(NONE);
    const w: Waiter = {
      exclude,
      key,
      done,
      timer: setTimeout(() => {
        const at = this.queue.indexOf(w);
        if (at !== -1) this.queue.splice(at, 1);
        this.queueChanged();
        done(NONE);
      }, this.cfg.timeouts.queue),
    };
    this.queue.push(w);
    this.counters.queued = this.queue.length;
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
    while (this.queue.length) {
      const w = this.queue[0];
      const i = this.pick(w.exclude, w.key);
      if (i === FULL) return;
      this.queue.shift();
      this.queueChanged();
      clearTimeout(w.timer);
      w.done(i);
      if (i === NONE) continue;
      return;
    }
  }

  /**
   * Closes the origin connections once their requests are done (a reload replaced this pool, or
   * the balancer stops). Requests waiting in the queue are requests in flight too: they keep their
   * turn on this pool's connections as slots free up (or time out as ever), and the connections
   * close after the last of them.
   */
  async close(): Promise<void> {
    while (this.queue.length) await new Promise<void>((r) => (this.drained = r));
    await Promise.all(this.dispatchers.map((d) => d.close()));
  }

  /** Wakes `close` when the queue is empty. */
  private drained: (() => void) | null = null;

  private queueChanged(): void {
    this.counters.queued = this.queue.length;
    if (this.queue.length === 0 && this.drained) {
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
