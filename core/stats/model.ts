import type { PoolConfig } from "../config/schema.ts";
import { effectiveWeight, freshAgent, isEjected, unavailable, type PoolHealth } from "../health/state.ts";
import type { PoolCounters } from "./counters.ts";

/** One origin's row: state, weights, counters, last check, agent. The JSON stats format (v1). */
export interface OriginStats {
  name: string;
  url: string;
  backup: boolean;
  /** "UP", "DOWN", "DRAIN", "MAINT", "EJECTED", or "UP 2/3" style while going up or down (HAProxy's). */
  state: string;
  up: boolean;
  admin: string;
  ejected: boolean;
  ejectedUntil: number | null;
  weight: { configured: number; agentPct: number | null; effective: number };
  inflight: number;
  tries: number;
  retries: number;
  redispatches: number;
  clientAborts: number;
  status: { "1xx": number; "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  failures: Record<string, number>;
  ejections: number;
  transitions: number;
  lastChange: number | null;
  lastCheck: { ok: boolean; at: number; ms: number; detail: string } | null;
  agent: { health: string; admin: string; weightPct: number; ageMs: number } | null;
}

export interface PoolStats {
  name: string;
  balance: string;
  version: number;
  requests: number;
  noOrigin: number;
  queueTimeouts: number;
  queued: number;
  budgetExhausted: number;
  status: OriginStats["status"];
  origins: OriginStats[];
}

/** Config reloads since start (the Node build's SIGHUP): a refused one says why, here and in the log. */
export interface ReloadStats {
  applied: number;
  refused: number;
  /** The last attempt: when, whether it was applied, and each problem of a refused file (path and value). */
  last: { at: number; ok: boolean; file: string; problems: string[] } | null;
}

/** The stats of a whole balancer (what /stats renders). `reload` only where config reloads exist. */
export interface BalancerStats {
  build: string;
  startedAt: number;
  pools: PoolStats[];
  reload?: ReloadStats;
}

const classes = (a: readonly number[]) => ({ "1xx": a[1], "2xx": a[2], "3xx": a[3], "4xx": a[4], "5xx": a[5] });

/** HAProxy-style state label. */
export function stateLabel(h: PoolHealth["origins"][number], now: number, rise: number, fall: number): string {
  const why = unavailable(h, now);
  if (why === "maint") return "MAINT";
  if (why === "drain") return "DRAIN";
  if (!h.up && h.counter > 0) return `DOWN, going up ${h.counter}/${rise}`;
  if (!h.up) return "DOWN";
  if (why === "agent-down") return "DOWN (agent)";
  // out of traffic comes before "going down": an ejected origin must not be painted as UP
  if (isEjected(h, now)) return "EJECTED";
  if (h.lastCheck && !h.lastCheck.ok) return `UP, going down ${rise + fall - 1 - h.counter}/${fall}`;
  return "UP";
}

/** The stats model both builds render (JSON now; HTML/CSV/Prometheus renderers read the same). */
export function poolStats(name: string, cfg: PoolConfig, h: PoolHealth, c: PoolCounters, now: number): PoolStats {
  return {
    name,
    balance: cfg.balance,
    version: h.version,
    requests: c.requests,
    noOrigin: c.noOrigin,
    queueTimeouts: c.queueTimeouts,
    queued: c.queued,
    budgetExhausted: c.budgetExhausted,
    status: classes(c.status),
    origins: h.origins.map((o, i) => {
      const oc = c.origins[i];
      const agent = freshAgent(o, now);
      return {
        name: o.name,
        url: cfg.origins[i].url,
        backup: o.backup,
        state: stateLabel(o, now, cfg.check.rise, cfg.check.fall),
        up: o.up,
        admin: o.admin,
        ejected: isEjected(o, now),
        ejectedUntil: isEjected(o, now) ? o.ejectedUntil : null,
        weight: { configured: o.weight, agentPct: agent ? agent.weightPct : null, effective: unavailable(o, now) ? 0 : effectiveWeight(o, now, cfg.slowStart) },
        inflight: oc.inflight,
        tries: oc.tries,
        retries: oc.retries,
        redispatches: oc.redispatches,
        clientAborts: oc.clientAborts,
        status: classes(oc.status),
        failures: { ...oc.failures },
        ejections: o.ejectionsTotal,
        transitions: o.transitions,
        lastChange: o.changedAt || null,
        lastCheck: o.lastCheck,
        agent: agent ? { health: agent.health, admin: agent.admin, weightPct: agent.weightPct, ageMs: now - agent.at } : null,
      };
    }),
  };
}
