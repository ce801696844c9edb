import type { PoolConfig } from "../core/config/schema.ts";
import { initialHealth, reduce, type OutcomeKind, type PoolHealth } from "../core/health/state.ts";
import { HealthStore } from "../core/health/store.ts";
import { createPolicy, type Policy } from "../core/select/index.ts";
import { RetryBudget } from "../core/proxy/retry.ts";
import { PoolCounters } from "../core/stats/counters.ts";
import type { EdgeEnv } from "../durable/config.ts";
import type { Outcome } from "../durable/health-object.ts";
import type { EdgeSettings } from "./settings.ts";
import type { Waiter } from "./deadlines.ts";

/** What a request lends the pool for background work (the ExecutionContext). */
export type { Waiter };

/** Durable Object calls made by this isolate, by kind (tests and stats read them). */
export interface DoCalls {
  /** awaited while a request waited (only when the isolate was cold) */
  onRequestPath: number;
  /** snapshot refreshes in waitUntil (stale-while-revalidate) */
  background: number;
  /** outcome batches flushed in waitUntil */
  flushes: number;
  /** calls that threw (the object unavailable) */
  errors: number;
}

/**
 * One pool as seen by one isolate: a cached snapshot of the pool's health from its Durable Object
 * (TTL, stale-while-revalidate, a short wait when cold), local outcomes applied at once and
 * batched to the object, and the isolate's own round-robin state.
 */
export class EdgePool {
  readonly name: string;
  readonly cfg: PoolConfig;
  readonly store: HealthStore;
  readonly policy: Policy;
  readonly inflight: Int32Array;
  /** The edge has no per-origin connection limit of its own: every isolate is a separate client. */
  readonly noLimit: Int32Array;
  readonly budget: RetryBudget;
  readonly counters: PoolCounters;
  readonly calls: DoCalls = { onRequestPath: 0, background: 0, flushes: 0, errors: 0 };
  private readonly settings: EdgeSettings;
  /** When the last refresh finished (ms); 0 = never: the isolate is cold. */
  private fetchedAt = 0;
  /** When the object last answered; after settings.maxStale without an answer the snapshot is dropped. */
  private answeredAt = 0;
  private refreshing: Promise<void> | null = null;
  /** Version of the last snapshot taken from the object (local outcomes move the local version on). */
  private doVersion = 0;
  /** Outcomes not yet acknowledged by the object; re-applied over every new snapshot. */
  private pending: Outcome[] = [];
  private sending: Outcome[] = [];
  private flushScheduled = false;
  private lastFlush = 0;

  constructor(name: string, cfg: PoolConfig, settings: EdgeSettings, rand: () => number) {
    this.name = name;
    this.cfg = cfg;
    this.settings = settings;
    this.store = new HealthStore(cfg, rand);
    this.policy = createPolicy(cfg.balance, cfg.origins.length, rand);
    // a random starting point, so that thousands of fresh isolates do not all start on origin 0
    const skip = Math.floor(rand() * cfg.origins.length * 4);
    const w = cfg.origins.map((o) => o.weight), none = new Int32Array(cfg.origins.length);
    for (let k = 0; k < skip; k++) this.policy.pick(w, none, []);
    this.inflight = new Int32Array(cfg.origins.length);
    this.noLimit = new Int32Array(cfg.origins.length);
    this.budget = new RetryBudget(cfg.retryBudget);
    this.counters = new PoolCounters(cfg.origins.length);
  }

  /** The pool's Durable Object (in the configured jurisdiction, with the location hint). */
  stub(env: EdgeEnv) {
    const ns = this.settings.jurisdiction ? env.HEALTH.jurisdiction(this.settings.jurisdiction) : env.HEALTH;
    return ns.getByName(this.name, this.settings.locationHint ? { locationHint: this.settings.locationHint } : undefined);
  }

  /**
   * Makes sure the snapshot is usable: warm -> nothing (no Durable Object call, and no promise: the
   * request goes on at once); stale -> refresh in waitUntil and go on; cold -> a promise that waits
   * for it at most settings.coldWait, then goes on with what there is (at first: every configured
   * origin eligible).
   */
  ready(env: EdgeEnv, ctx: Waiter, now: number): Promise<void> | undefined {
    if (this.fetchedAt !== 0 && now - this.fetchedAt < this.settings.snapshotTtl) return undefined;
    const cold = this.fetchedAt === 0 && this.refreshing === null;
    const p = this.refresh(env, cold);
    ctx.waitUntil(p);
    return cold ? this.coldWait(p) : undefined;
  }

  private async coldWait(p: Promise<void>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | null = null;
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, this.settings.coldWait)))]);
    if (timer !== null) clearTimeout(timer);
  }

  /** One refresh at a time per isolate. */
  private refresh(env: EdgeEnv, onRequestPath: boolean): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (onRequestPath) this.calls.onRequestPath++;
    else this.calls.background++;
    this.refreshing = (async () => {
      try {
        const snap = await this.stub(env).snapshot(this.name, this.doVersion);
        this.answeredAt = Date.now();
        if (snap) this.adopt(snap as PoolHealth);
      } catch {
        this.calls.errors++;
        // the object is unavailable: keep serving on the stale snapshot, then on every configured origin
        if (Date.now() - this.answeredAt > this.settings.maxStale) this.adopt(initialHealth(this.cfg));
      } finally {
        this.fetchedAt = Date.now();
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Marks the snapshot stale so the next request refreshes it (after an admin change or agent report). */
  expire(): void {
    if (this.fetchedAt !== 0) this.fetchedAt = 1;
  }

  /** Takes the object's snapshot, then re-applies local outcomes it has not acknowledged yet. */
  private adopt(snap: PoolHealth): void {
    this.doVersion = snap.version;
    let s = snap;
    for (const o of this.sending.concat(this.pending)) s = reduce(s, { type: "outcome", origin: o.origin, kind: o.kind, at: o.at }, this.cfg, Math.random);
    this.store.replace(s.version === snap.version ? snap : { ...s, version: snap.version });
  }

  /** An outcome on real traffic: applied here at once, sent to the object in the next batch. */
  outcome(env: EdgeEnv, ctx: Waiter, origin: number, kind: OutcomeKind): void {
    const at = Date.now();
    if (kind === "success" && this.store.state.origins[origin].consecutive5xx === 0) return;
    this.store.apply({ type: "outcome", origin, kind, at });
    this.pending.push({ origin, kind, at });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = Math.max(0, this.lastFlush + this.settings.flushInterval - at);
    ctx.waitUntil(new Promise((r) => setTimeout(r, wait)).then(() => this.flush(env)));
  }

  private async flush(env: EdgeEnv): Promise<void> {
    this.flushScheduled = false;
    this.lastFlush = Date.now();
    if (this.pending.length === 0) return;
    this.sending = this.pending;
    this.pending = [];
    this.calls.flushes++;
    try {
      await this.stub(env).record(this.name, this.sending);
      // the next snapshot includes them
      this.expire();
    } catch {
      this.calls.errors++;
      this.pending = this.sending.concat(this.pending).slice(-1000);
    } finally {
      this.sending = [];
    }
  }
}
