import { DurableObject } from "cloudflare:workers";
import type { Config, PoolConfig } from "../core/config/schema.ts";
import { checkPassed, checkRequest } from "../core/health/check.ts";
import { carryOver, type AdminState, type HealthEvent, type OutcomeKind, type PoolHealth } from "../core/health/state.ts";
import { HealthStore } from "../core/health/store.ts";
import { AgentLedger, type Verdict } from "../core/agent/ingest.ts";
import { loadEdgeConfig, type EdgeEnv } from "./config.ts";

/** One outcome seen by an isolate on real traffic, batched to the pool's object. */
export interface Outcome {
  origin: number;
  kind: OutcomeKind;
  at: number;
}

/** An admin action on one origin. */
export interface AdminAction {
  origin: string;
  admin?: AdminState;
  weight?: number;
}

/**
 * Owns one pool's health: SQLite storage, an alarm loop for active checks, outcomes and agent
 * reports from isolates. Every decision goes through core's HealthStore; this only stores and
 * schedules. One object per pool: `env.HEALTH.getByName(pool)`.
 */
export class HealthObject extends DurableObject<EdgeEnv> {
  private pool = "";
  private cfg: PoolConfig | null = null;
  private store: HealthStore | null = null;
  private loadError: unknown = null;
  private ledger = new AgentLedger();
  /** Set only by tests (runInDurableObject): every call throws, as if the object were unreachable. */
  fault = false;

  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS health (pool TEXT PRIMARY KEY, state TEXT NOT NULL)");
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS ledger (pool TEXT PRIMARY KEY, data TEXT NOT NULL)");
    void ctx.blockConcurrencyWhile(async () => {
      try {
        const row = ctx.storage.sql.exec<{ pool: string }>("SELECT pool FROM health LIMIT 1").toArray()[0];
        if (row) this.bind(row.pool);
      } catch (e) {
        // rethrown by the next call, outside blockConcurrencyWhile, so the input gate is not broken
        this.loadError = e;
      }
    });
  }

  /** Loads (or creates) the state of `pool` under the current config. */
  private bind(pool: string): HealthStore {
    if (this.fault) throw new Error("HealthObject unavailable (injected fault)");
    if (this.loadError) throw this.loadError;
    if (this.store && this.pool === pool) return this.store;
    const config: Config = loadEdgeConfig(this.env);
    const cfg = config.pools[pool];
    if (!cfg) throw new Error(`no pool named ${JSON.stringify(pool)} in the config`);
    const row = this.ctx.storage.sql.exec<{ state: string }>("SELECT state FROM health WHERE pool = ?", pool).toArray()[0];
    const saved = row ? (JSON.parse(row.state) as PoolHealth) : undefined;
    const ledger = this.ctx.storage.sql.exec<{ data: string }>("SELECT data FROM ledger WHERE pool = ?", pool).toArray()[0];
    this.ledger = AgentLedger.from(ledger ? JSON.parse(ledger.data) : null);
    this.pool = pool;
    this.cfg = cfg;
    this.store = new HealthStore(cfg, Math.random, saved ? carryOver(saved, cfg) : undefined);
    if (!row) this.save();
    return this.store;
  }

  private save(): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO health (pool, state) VALUES (?, ?)", this.pool, JSON.stringify(this.store!.state));
  }

  private async ensureAlarm(): Promise<void> {
    if (!this.cfg?.check.enabled) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.cfg.check.interval);
  }

  /** The pool's health if its version is newer than `sinceVersion`, else null (nothing new). */
  async snapshot(pool: string, sinceVersion = 0): Promise<PoolHealth | null> {
    const store = this.bind(pool);
    await this.ensureAlarm();
    store.apply({ type: "tick", at: Date.now() });
    return store.state.version > sinceVersion ? store.state : null;
  }

  /** Outcomes on real traffic from one isolate, in one batch. Returns the new version. */
  async record(pool: string, outcomes: Outcome[]): Promise<number> {
    const store = this.bind(pool);
    let changed = false;
    for (const o of outcomes) changed = store.apply({ type: "outcome", origin: o.origin, kind: o.kind, at: o.at }) || changed;
    if (changed) this.save();
    await this.ensureAlarm();
    return store.state.version;
  }

  /**
   * Applies an agent report whose signature and schema the Worker checked: the ledger here (one per
   * pool, so one for every isolate) refuses a replayed id or a seq that does not grow.
   */
  async report(pool: string, v: Extract<Verdict, { status: 200 }>): Promise<{ status: 200 | 401 | 409; problem?: string }> {
    const store = this.bind(pool);
    // by name: the isolate that checked the report may run another config version during a deploy
    const origin = store.state.origins.findIndex((o) => o.name === v.report.origin);
    if (origin === -1) return { status: 409, problem: "origin not in this pool's current config" };
    const r = this.ledger.admit({ ...v, origin }, Date.now());
    if (!r.ok) return { status: r.status, problem: r.problem };
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO ledger (pool, data) VALUES (?, ?)", pool, JSON.stringify(this.ledger));
    if (store.apply(r.event)) this.save();
    return { status: 200 };
  }

  /** drain / ready / maint / weight for one origin. Returns the new version, or null for an unknown origin. */
  async admin(pool: string, action: AdminAction): Promise<number | null> {
    const store = this.bind(pool);
    const i = store.state.origins.findIndex((o) => o.name === action.origin);
    if (i === -1) return null;
    if (store.apply({ type: "admin", origin: i, at: Date.now(), admin: action.admin, weight: action.weight })) this.save();
    return store.state.version;
  }

  /** Active checks: one probe per origin with a timeout, then re-armed, also after an exception. */
  override async alarm(): Promise<void> {
    const started = Date.now();
    try {
      if (!this.pool) return;
      const store = this.bind(this.pool);
      const cfg = this.cfg!;
      if (!cfg.check.enabled) return;
      const results = await Promise.all(cfg.origins.map((o) => this.probe(o.url, cfg)));
      let changed = false;
      results.forEach((r, i) => (changed = store.apply({ type: "check", origin: i, ...r }) || changed));
      changed = store.apply({ type: "tick", at: Date.now() }) || changed;
      if (changed) this.save();
    } finally {
      if (this.cfg?.check.enabled) await this.ctx.storage.setAlarm(Math.max(Date.now() + 50, started + this.cfg.check.interval));
    }
  }

  private async probe(url: string, cfg: PoolConfig): Promise<{ ok: boolean; at: number; startedAt: number; ms: number; detail: string }> {
    const startedAt = Date.now();
    const req = checkRequest(cfg.check, url);
    let ok = false, detail: string;
    try {
      const res = await fetch(req.url, { method: req.method, headers: req.headers, redirect: "manual", signal: AbortSignal.timeout(cfg.check.timeout) });
      await res.body?.cancel();
      ok = checkPassed(res.status, cfg.check.expect);
      detail = `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error;
      detail = err?.name === "TimeoutError" ? `timeout after ${cfg.check.timeout}ms` : String(err?.message ?? err);
    }
    const at = Date.now();
    return { ok, at, startedAt, ms: at - startedAt, detail };
  }
}
