import type { PoolConfig } from "../config/schema.ts";

/** Administrative state (HAProxy's): ready takes traffic, drain finishes in-flight work only, maint is out. */
export type AdminState = "ready" | "drain" | "maint";

/** What an agent last said about an origin (HAProxy agent-check vocabulary, kept apart). */
export interface AgentView {
  /** Operational word: up/down/fail/stopped. */
  health: "up" | "down" | "fail" | "stopped";
  admin: AdminState;
  /** 0-100: share of the configured weight. */
  weightPct: number;
  /** Receiver's clock when applied, ms. */
  at: number;
  /** The report counts for nothing after at + ttl, ms. */
  ttl: number;
}

/** Health of one origin: operational (checks) x passive ejection x administrative x weight. */
export interface OriginHealth {
  readonly name: string;
  /** Configured weight 0-256 (admin may override). */
  readonly weight: number;
  readonly backup: boolean;
  /** Up by active checks (HAProxy's operational state). */
  readonly up: boolean;
  /** HAProxy's saturating check counter: 0..rise+fall-1; up while >= rise. */
  readonly counter: number;
  /** Time of the last up/down change by checks (ms); 0 = since start. */
  readonly changedAt: number;
  /** Up/down transitions so far. */
  readonly transitions: number;
  /** Start of the slow-start ramp (the last time it came up), or 0. */
  readonly upSince: number;
  /** Passive ejection: no traffic before this time (ms); 0 = not ejected. */
  readonly ejectedUntil: number;
  /** Set at ejection: a check that started after `ejectedAt` must pass before traffic returns. */
  readonly ejectNeedsCheck: boolean;
  readonly ejectedAt: number;
  /** Ejections so far in the current run (the multiplier of the ejection time). */
  readonly ejections: number;
  /** Total ejections since start (a counter for stats). */
  readonly ejectionsTotal: number;
  /** Consecutive 5xx/invalid responses from real traffic. */
  readonly consecutive5xx: number;
  readonly admin: AdminState;
  readonly agent: AgentView | null;
  readonly lastCheck: { ok: boolean; at: number; ms: number; detail: string } | null;
}

export interface PoolHealth {
  /** Grows by one on every change; the edge uses it to skip unchanged snapshots. */
  readonly version: number;
  readonly origins: readonly OriginHealth[];
}

/** How a try on real traffic ended, as far as health is concerned. */
export type OutcomeKind =
  | "success"
  /** connection refused, reset or failed before the request was sent */
  | "refused"
  /** connect or response-header timeout */
  | "timeout"
  /** the origin closed or reset after the request was sent, before or during the response */
  | "reset"
  /** a 5xx status, or a response that could not be parsed */
  | "5xx";

export type HealthEvent =
  | { type: "check"; origin: number; ok: boolean; at: number; startedAt: number; ms: number; detail: string }
  | { type: "outcome"; origin: number; kind: OutcomeKind; at: number }
  | { type: "admin"; origin: number; at: number; admin?: AdminState; weight?: number }
  | { type: "agent"; origin: number; at: number; agent: AgentView }
  | { type: "tick"; at: number };

/**
 * What kind of change: by active checks (`down`, `up`), by passive signals (`ejected`, `returned`
 * to service after an ejection), by an operator (`admin` state, `weight`), or by the origin's agent
 * (`agent`: its admin word or its health word changed, or its report expired while it said drain,
 * maint or down). Webhooks filter on these names (config `notify.webhooks[].events`).
 */
export const CHANGE_KINDS = ["down", "up", "ejected", "returned", "admin", "weight", "agent"] as const;
export type HealthChangeKind = (typeof CHANGE_KINDS)[number];

/** The pool config fields the health reducer reads. */
export type HealthConfig = Pick<PoolConfig, "check" | "passive" | "slowStart">;

/** Initial state: every origin up with counter = rise, like HAProxy at start (one failed check takes it down). */
export function initialHealth(pool: Pick<PoolConfig, "origins" | "check">, version = 1): PoolHealth {
  return {
    version,
    origins: pool.origins.map((o) => ({
      name: o.name,
      weight: o.weight,
      backup: o.backup,
      up: true,
      counter: pool.check.rise,
      changedAt: 0,
      transitions: 0,
      upSince: 0,
      ejectedUntil: 0,
      ejectNeedsCheck: false,
      ejectedAt: 0,
      ejections: 0,
      ejectionsTotal: 0,
      consecutive5xx: 0,
      admin: "ready",
      agent: null,
      lastCheck: null,
    })),
  };
}

/**
 * Carries health over to a new config (reload): origins kept by name keep their state,
 * new ones start fresh, the configured weight and backup flag come from the new config.
 */
export function carryOver(prev: PoolHealth, pool: Pick<PoolConfig, "origins" | "check">): PoolHealth {
  const fresh = initialHealth(pool, prev.version + 1);
  const byName = new Map(prev.origins.map((o) => [o.name, o]));
  const next: PoolHealth = {
    version: fresh.version,
    origins: fresh.origins.map((f, i) => {
      const old = byName.get(f.name);
      if (!old) return f;
      const o = pool.origins[i];
      const { rise, fall, enabled } = pool.check;
      const max = rise + fall - 1;
      // checks turned off: nothing could ever bring a down or check-gated origin back, so it is up
      if (!enabled) return { ...old, weight: o.weight, backup: o.backup, up: true, counter: max, ejectNeedsCheck: false };
      // keep the counter consistent with `up` under the new rise/fall (up: rise..max, down: 0..rise-1)
      const counter = old.up ? Math.max(rise, Math.min(old.counter, max)) : Math.min(old.counter, rise - 1);
      return { ...old, weight: o.weight, backup: o.backup, counter };
    }),
  };
  // the same config (a restart, or a reload that did not touch this pool): same state, same version
  return JSON.stringify(next.origins) === JSON.stringify(prev.origins) ? prev : next;
}

/**
 * The one reducer: applies an event and returns the new state, or the same object when nothing
 * changed (so a success on a healthy origin allocates nothing). `rand` jitters ejection times.
 */
export function reduce(state: PoolHealth, ev: HealthEvent, cfg: HealthConfig, rand: () => number): PoolHealth {
  if (ev.type === "tick") return tick(state, ev.at);
  const o = state.origins[ev.origin];
  if (!o) return state;
  let next: OriginHealth = o;
  switch (ev.type) {
    case "check":
      next = onCheck(o, ev, cfg);
      break;
    case "outcome":
      next = onOutcome(o, ev.kind, ev.at, cfg, rand);
      break;
    case "admin":
      // a weight outside HAProxy's 0-256 (or not an integer) is ignored rather than poisoning selection
      if (ev.weight !== undefined && !(Number.isInteger(ev.weight) && ev.weight >= 0 && ev.weight <= 256)) return state;
      if ((ev.admin === undefined || ev.admin === o.admin) && (ev.weight === undefined || ev.weight === o.weight)) return state;
      next = { ...o, admin: ev.admin ?? o.admin, weight: ev.weight ?? o.weight };
      break;
    case "agent":
      next = { ...o, agent: ev.agent };
      break;
  }
  return next === o ? state : replace(state, ev.origin, next);
}

function replace(state: PoolHealth, i: number, o: OriginHealth): PoolHealth {
  const origins = state.origins.slice();
  origins[i] = o;
  return { version: state.version + 1, origins };
}

/** Active check result: HAProxy's rise/fall as one saturating counter (src/check.c). */
function onCheck(o: OriginHealth, ev: Extract<HealthEvent, { type: "check" }>, cfg: HealthConfig): OriginHealth {
  const { rise, fall } = cfg.check;
  const max = rise + fall - 1;
  const lastCheck = { ok: ev.ok, at: ev.at, ms: ev.ms, detail: ev.detail };
  let { up, counter, changedAt, transitions, upSince, ejectNeedsCheck } = o;
  if (ev.ok) {
    // HAProxy: any success while up restores the counter to its maximum ("OK now"), so it takes
    // `fall` consecutive failures again to go down
    if (up) counter = max;
    else if (++counter >= rise) {
      up = true;
      counter = max;
      changedAt = ev.at;
      upSince = ev.at;
      transitions++;
    }
    // a check that began after the ejection proves the origin answers again
    if (ejectNeedsCheck && ev.startedAt >= o.ejectedAt) ejectNeedsCheck = false;
  } else if (up) {
    if (counter > rise) counter--;
    else {
      up = false;
      counter = 0;
      changedAt = ev.at;
      transitions++;
    }
  } else counter = 0;
  return { ...o, up, counter, changedAt, transitions, upSince, ejectNeedsCheck, lastCheck };
}

/** Passive signals from real traffic (Envoy-style outlier detection). */
function onOutcome(o: OriginHealth, kind: OutcomeKind, now: number, cfg: HealthConfig, rand: () => number): OriginHealth {
  if (kind === "success") return o.consecutive5xx === 0 ? o : { ...o, consecutive5xx: 0 };
  if (!cfg.passive.enabled) return o;
  if (kind === "5xx") {
    const n = o.consecutive5xx + 1;
    if (n < cfg.passive.consecutive5xx) return { ...o, consecutive5xx: n };
  }
  // already ejected: further failures of requests that were in flight add nothing
  if (isEjected(o, now)) return o.consecutive5xx === 0 ? o : { ...o, consecutive5xx: 0 };
  const { baseEjection, maxEjection } = cfg.passive;
  // the multiplier starts over once the origin has stayed in service for maxEjection
  const calm = o.ejectedUntil !== 0 && now - o.ejectedUntil > maxEjection;
  const ejections = (calm ? 0 : o.ejections) + 1;
  const ms = Math.min(baseEjection * ejections, maxEjection) * (1 + 0.1 * rand());
  return {
    ...o,
    consecutive5xx: 0,
    ejections,
    ejectionsTotal: o.ejectionsTotal + 1,
    ejectedAt: now,
    ejectedUntil: now + Math.round(ms),
    ejectNeedsCheck: cfg.check.enabled,
  };
}

/** Clock tick: forgets an expired agent report, so a silent agent leaves the origin as checks see it. */
function tick(state: PoolHealth, now: number): PoolHealth {
  let origins: OriginHealth[] | null = null;
  state.origins.forEach((o, i) => {
    if (o.agent && now > o.agent.at + o.agent.ttl) {
      origins ??= state.origins.slice();
      origins[i] = { ...o, agent: null };
    }
  });
  return origins ? { version: state.version + 1, origins } : state;
}

/** Ejected by passive signals at `now`. */
export function isEjected(o: OriginHealth, now: number): boolean {
  return o.ejectedUntil !== 0 && (now < o.ejectedUntil || o.ejectNeedsCheck);
}

/** The agent's report, if it is still fresh at `now`. */
export function freshAgent(o: OriginHealth, now: number): AgentView | null {
  return o.agent && now <= o.agent.at + o.agent.ttl ? o.agent : null;
}

/** Why an origin takes no new requests at `now`, or null when it does. */
export type Unavailable = "maint" | "drain" | "down" | "agent-down" | "ejected" | "weight-0";
export function unavailable(o: OriginHealth, now: number): Unavailable | null {
  if (o.admin === "maint") return "maint";
  const agent = freshAgent(o, now);
  if (agent?.admin === "maint") return "maint";
  if (o.admin === "drain" || agent?.admin === "drain") return "drain";
  if (!o.up) return "down";
  if (agent && agent.health !== "up") return "agent-down";
  if (o.weight === 0 || (agent && !(agent.weightPct > 0))) return "weight-0";
  if (isEjected(o, now)) return "ejected";
  return null;
}

/**
 * Effective weight at `now`: configured x agent % x slow-start ramp. The agent can only lower it.
 * The ramp starts at 1/20 of the weight so a recovered origin gets a trickle at once.
 */
export function effectiveWeight(o: OriginHealth, now: number, slowStartMs: number): number {
  let w = o.weight;
  const agent = freshAgent(o, now);
  if (agent) w = (w * (agent.weightPct >= 0 ? Math.min(100, agent.weightPct) : 0)) / 100;
  if (slowStartMs > 0 && o.upSince !== 0 && now - o.upSince < slowStartMs) {
    w *= Math.max(0.05, (now - o.upSince) / slowStartMs);
  }
  return w;
}
