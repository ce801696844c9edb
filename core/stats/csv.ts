import type { BalancerStats, OriginStats, PoolStats } from "./model.ts";

/**
 * The stats as CSV, in HAProxy's layout (`show stat`, `;csv`): a header row starting with "# ",
 * one row per origin and one "BACKEND" row per pool. Columns keep HAProxy's names where the
 * meaning is the same; the ones HAProxy does not have come last.
 *
 * pxname, svname: pool, origin ("BACKEND" for the pool's row)
 * qcur: requests waiting for a slot (pool row) · scur, slim, stot: in flight, maxconn, tries
 * bout: response bytes sent · econ, eresp: connection errors, response errors
 * wretr, wredis: retries, redispatches · status: state label · weight, iweight: effective, configured
 * act, bck: 1 for an active / backup origin; on the pool row, how many of each take requests
 * chkdown: up/down transitions · lastchg: seconds since the last one · downtime: seconds down now
 * check_status, check_duration (ms): last check · hrsp_1xx..hrsp_5xx: responses by class
 * req_tot: requests (pool row) or tries · cli_abrt: requests the client aborted
 * then admin, ejected, ejections, agent_health, agent_admin, agent_weight_pct, agent_age (s),
 * no_origin, queue_timeouts, budget_exhausted (pool rows)
 * tunnels, tunnels_tot: WebSocket tunnels open now and opened since start
 */
export const CSV_COLUMNS = [
  "pxname", "svname", "qcur", "scur", "slim", "stot", "bout", "econ", "eresp", "wretr", "wredis", "status",
  "weight", "iweight", "act", "bck", "chkdown", "lastchg", "downtime", "check_status", "check_duration",
  "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "req_tot", "cli_abrt",
  "admin", "ejected", "ejections", "agent_health", "agent_admin", "agent_weight_pct", "agent_age",
  "no_origin", "queue_timeouts", "budget_exhausted", "tunnels", "tunnels_tot",
] as const;

type Column = (typeof CSV_COLUMNS)[number];
type Row = Partial<Record<Column, string | number | null>>;

const CONNECT = ["connect-refused", "connect-timeout", "connect-error"];

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a leading = + - @
 * (or tab/CR) is prefixed with ' so a spreadsheet shows the text rather than running a formula.
 */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(+v.toFixed(3)) : "";
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const secs = (ms: number) => Math.floor(ms / 1000);

function originRow(p: PoolStats, o: OriginStats, now: number): Row {
  const connect = CONNECT.reduce((a, k) => a + (o.failures[k] ?? 0), 0);
  const all = Object.values(o.failures).reduce((a, n) => a + n, 0);
  return {
    pxname: p.name,
    svname: o.name,
    scur: o.inflight,
    slim: o.maxconn || null,
    stot: o.tries,
    bout: o.bytesOut,
    econ: connect,
    eresp: all - connect,
    wretr: o.retries,
    wredis: o.redispatches,
    status: o.state,
    weight: o.weight.effective,
    iweight: o.weight.configured,
    act: o.backup ? 0 : 1,
    bck: o.backup ? 1 : 0,
    chkdown: o.transitions,
    lastchg: o.lastChange ? secs(now - o.lastChange) : null,
    downtime: secs(o.downMs),
    check_status: o.lastCheck?.detail ?? null,
    check_duration: o.lastCheck?.ms ?? null,
    hrsp_1xx: o.status["1xx"],
    hrsp_2xx: o.status["2xx"],
    hrsp_3xx: o.status["3xx"],
    hrsp_4xx: o.status["4xx"],
    hrsp_5xx: o.status["5xx"],
    req_tot: o.tries,
    cli_abrt: o.clientAborts,
    admin: o.admin,
    ejected: o.ejected ? 1 : 0,
    ejections: o.ejections,
    agent_health: o.agent?.health ?? null,
    agent_admin: o.agent?.admin ?? null,
    agent_weight_pct: o.agent?.weightPct ?? null,
    agent_age: o.agent ? secs(o.agent.ageMs) : null,
    tunnels: o.tunnels,
    tunnels_tot: o.tunnelsTotal,
  };
}

function poolRow(p: PoolStats): Row {
  const sum = (f: (o: OriginStats) => number) => p.origins.reduce((a, o) => a + f(o), 0);
  const serving = p.origins.filter((o) => o.unavailable === null);
  const rows = p.origins.map((o) => originRow(p, o, 0));
  const col = (c: Column) => rows.reduce((a, r) => a + Number(r[c] ?? 0), 0);
  return {
    pxname: p.name,
    svname: "BACKEND",
    qcur: p.queued,
    scur: sum((o) => o.inflight),
    stot: p.requests,
    bout: sum((o) => o.bytesOut),
    econ: col("econ"),
    eresp: col("eresp"),
    wretr: col("wretr"),
    wredis: col("wredis"),
    status: serving.length ? "UP" : "DOWN",
    weight: sum((o) => o.weight.effective),
    iweight: sum((o) => o.weight.configured),
    act: serving.filter((o) => !o.backup).length,
    bck: serving.filter((o) => o.backup).length,
    chkdown: col("chkdown"),
    hrsp_1xx: p.status["1xx"],
    hrsp_2xx: p.status["2xx"],
    hrsp_3xx: p.status["3xx"],
    hrsp_4xx: p.status["4xx"],
    hrsp_5xx: p.status["5xx"],
    req_tot: p.requests,
    cli_abrt: col("cli_abrt"),
    ejections: col("ejections"),
    no_origin: p.noOrigin,
    queue_timeouts: p.queueTimeouts,
    budget_exhausted: p.budgetExhausted,
    tunnels: col("tunnels"),
    tunnels_tot: col("tunnels_tot"),
  };
}

/** The whole CSV (LF line ends, as HAProxy's), `now` being the clock the ages are measured with. */
export function renderStatsCsv(s: BalancerStats, now: number): string {
  const line = (r: Row) => CSV_COLUMNS.map((c) => csvField(r[c])).join(",");
  const out = [`# ${CSV_COLUMNS.join(",")}`];
  for (const p of s.pools) {
    for (const o of p.origins) out.push(line(originRow(p, o, now)));
    out.push(line(poolRow(p)));
  }
  return out.join("\n") + "\n";
}
