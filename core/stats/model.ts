import type { PoolConfig } from "../config/schema.ts";
import { effectiveWeight, freshAgent, isEjected, unavailable, type PoolHealth } from "../health/state.ts";
import type { Histogram, PoolCounters } from "./counters.ts";

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
  /** Why it takes no new requests now ("maint", "drain", "down", "agent-down", "ejected", "weight-0"), or null when it does. */
  unavailable: string | null;
  weight: { configured: number; agentPct: number | null; effective: number };
  inflight: number;
  /** Most concurrent requests (config `maxconn`); 0 = no limit. */
  maxconn: number;
  /** Tries sent (HAProxy's total sessions). */
  tries: number;
  retries: number;
  redispatches: number;
  clientAborts: number;
  /** Response body bytes passed on to clients (the Node build counts them). */
  bytesOut: number;
  /** WebSocket tunnels to this origin open now, and opened since start. */
  tunnels: number;
  tunnelsTotal: number;
  status: { "1xx": number; "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  failures: Record<string, number>;
  ejections: number;
  transitions: number;
  lastChange: number | null;
  /** How long it has been down by checks (ms), 0 while up: the current outage, not a total since start. */
  downMs: number;
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
  /** WebSocket tunnels of the pool open now, and opened since start (the sums of its origins'). */
  tunnels: number;
  tunnelsTotal: number;
  status: OriginStats["status"];
  /** Request duration histogram (seconds), cumulative like Prometheus'. */
  duration: HistogramStats;
  /** Durable Object calls of this isolate by kind (the edge build only). */
  durableObjectCalls?: Record<string, number>;
  origins: OriginStats[];
}

/** A histogram as read: cumulative counts per upper bound, the last one "+Inf" (= count). */
export interface HistogramStats {
  buckets: { le: string; count: number }[];
  sum: number;
  count: number;
}

/** Cumulative buckets of `h`, as the Prometheus exposition and the JSON format show them. */
export function histogramStats(h: Histogram): HistogramStats {
  let acc = 0;
  const buckets = h.counts.map((n, k) => ({ le: k < h.bounds.length ? String(h.bounds[k]) : "+Inf", count: (acc += n) }));
  return { buckets, sum: h.sum, count: h.count };
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
  /** The edge's header-deadline timers armed since the isolate started: slots shared by concurrent tries, and timers of a try's own. */
  headerTimers?: { shared: number; own: number };
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
    tunnels: c.origins.reduce((a, o) => a + o.tunnels, 0),
    tunnelsTotal: c.origins.reduce((a, o) => a + o.tunnelsTotal, 0),
    status: classes(c.status),
    duration: histogramStats(c.duration),
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
        unavailable: unavailable(o, now),
        weight: { configured: o.weight, agentPct: agent ? agent.weightPct : null, effective: unavailable(o, now) ? 0 : effectiveWeight(o, now, cfg.slowStart) },
        inflight: oc.inflight,
        maxconn: cfg.origins[i].maxconn,
        tries: oc.tries,
        retries: oc.retries,
        redispatches: oc.redispatches,
        clientAborts: oc.clientAborts,
        bytesOut: oc.bytesOut,
        tunnels: oc.tunnels,
        tunnelsTotal: oc.tunnelsTotal,
        status: classes(oc.status),
        failures: { ...oc.failures },
        ejections: o.ejectionsTotal,
        transitions: o.transitions,
        lastChange: o.changedAt || null,
        downMs: !o.up && o.changedAt ? Math.max(0, now - o.changedAt) : 0,
        lastCheck: o.lastCheck,
        agent: agent ? { health: agent.health, admin: agent.admin, weightPct: agent.weightPct, ageMs: now - agent.at } : null,
      };
    }),
  };
}
