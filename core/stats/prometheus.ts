import type { BalancerStats, HistogramStats, OriginStats, PoolStats } from "./model.ts";

/** The media type of the text exposition format this renders. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Numbers of the process serving the page (the Node build); the edge has no process of its own. */
export interface ProcessMetrics {
  residentMemoryBytes: number;
  /** Unix time (seconds) the process started. */
  startTimeSeconds: number;
  /** User + system CPU time (seconds). */
  cpuSecondsTotal: number;
  heapUsedBytes?: number;
}

export type Labels = Record<string, string>;
type Sample = [labels: Labels, value: number, suffix?: string];

/** A label value as the text format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text: backslash and line feed escaped (a double quote stays as it is). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: integers as they are, other numbers in Go's float syntax (+Inf, -Inf, NaN). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(l: Labels): string {
  const keys = Object.keys(l);
  return keys.length ? `{${keys.map((k) => `${k}="${escapeLabelValue(l[k])}"`).join(",")}}` : "";
}

/**
 * Metric families in the order they are added, each once with its HELP and TYPE lines before its
 * samples (a family added twice gets its samples merged under one header).
 */
export class Exposition {
  private readonly families = new Map<string, { type: string; help: string; samples: Sample[] }>();

  add(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: Sample[]): this {
    const f = this.families.get(name);
    if (f) f.samples.push(...samples);
    else this.families.set(name, { type, help, samples: [...samples] });
    return this;
  }

  /** A histogram family: `_bucket{le}` (cumulative, ending with +Inf), `_sum` and `_count` per label set. */
  histogram(name: string, help: string, series: [Labels, HistogramStats][]): this {
    const samples: Sample[] = [];
    for (const [l, h] of series) {
      for (const b of h.buckets) samples.push([{ ...l, le: b.le }, b.count, "_bucket"]);
      samples.push([l, h.sum, "_sum"], [l, h.count, "_count"]);
    }
    return this.add(name, "histogram", help, samples);
  }

  toString(): string {
    let out = "";
    for (const [name, f] of this.families) {
      out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n`;
      for (const [l, v, suffix] of f.samples) out += `${name}${suffix ?? ""}${labelText(l)} ${formatValue(v)}\n`;
    }
    return out;
  }
}

const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** Up by what edgelb knows of its operation (checks, passive ejection, agent), whatever its admin state. */
const operationalUp = (o: OriginStats) => o.up && !o.ejected && (!o.agent || o.agent.health === "up");

/**
 * The stats model as Prometheus text exposition (format 0.0.4). Requests are counted by status
 * class: the counters keep classes, not exact codes. `proc` adds the process_* metrics.
 */
export function renderPrometheus(s: BalancerStats, proc?: ProcessMetrics | null): string {
  const e = new Exposition();
  const P = (p: PoolStats) => ({ pool: p.name });
  const O = (p: PoolStats, o: OriginStats) => ({ pool: p.name, origin: o.name });
  const perPool = (f: (p: PoolStats) => number): Sample[] => s.pools.map((p) => [P(p), f(p)]);
  const perOrigin = (f: (o: OriginStats) => number): Sample[] => s.pools.flatMap((p) => p.origins.map((o): Sample => [O(p, o), f(o)]));

  e.add("edgelb_build_info", "gauge", "Always 1; the build serving these metrics.", [[{ build: s.build }, 1]]);
  e.add("edgelb_start_time_seconds", "gauge", "Unix time the balancer started, in seconds.", [[{}, s.startedAt / 1000]]);

  // pools
  e.add(
    "edgelb_requests_total",
    "counter",
    "Client requests answered, by pool and status class (code), edgelb's own error answers included.",
    s.pools.flatMap((p) => CLASSES.map((c): Sample => [{ ...P(p), code: c }, p.status[c]])),
  );
  e.histogram(
    "edgelb_request_duration_seconds",
    "Time from a client request's arrival to its answer, by pool.",
    s.pools.filter((p) => p.duration).map((p) => [P(p), p.duration]),
  );
  e.add("edgelb_pool_queued", "gauge", "Requests waiting for a free origin slot (maxconn) now.", perPool((p) => p.queued));
  e.add("edgelb_pool_no_origin_total", "counter", "Requests answered 503 because no origin was available.", perPool((p) => p.noOrigin));
  e.add("edgelb_pool_queue_timeouts_total", "counter", "Requests that gave up waiting in the queue, or found it full.", perPool((p) => p.queueTimeouts));
  e.add("edgelb_retry_budget_exhausted_total", "counter", "Retries refused by the pool's retry budget.", perPool((p) => p.budgetExhausted));
  e.add("edgelb_pool_health_version", "gauge", "Version of the pool's health snapshot; it grows on every change.", perPool((p) => p.version));

  // origins
  e.add("edgelb_origin_up", "gauge", "1 when the origin is up by checks, not ejected and not reported down by its agent (admin state aside).", perOrigin((o) => +operationalUp(o)));
  e.add("edgelb_origin_available", "gauge", "1 when the origin takes new requests now (up, ready, weight above 0, not ejected).", perOrigin((o) => +(o.unavailable === null)));
  e.add(
    "edgelb_origin_admin_state",
    "gauge",
    "Administrative state: 1 for the current one of ready, drain, maint.",
    s.pools.flatMap((p) => p.origins.flatMap((o) => (["ready", "drain", "maint"] as const).map((a): Sample => [{ ...O(p, o), state: a }, +(o.admin === a)]))),
  );
  e.add("edgelb_origin_ejected", "gauge", "1 while the origin is ejected by passive health (failures on real traffic).", perOrigin((o) => +o.ejected));
  e.add(
    "edgelb_origin_weight",
    "gauge",
    "Weight of the origin: as configured (or set by admin), and effective (after agent, slow start and state; 0 when it takes no requests).",
    s.pools.flatMap((p) => p.origins.flatMap((o): Sample[] => [[{ ...O(p, o), kind: "configured" }, o.weight.configured], [{ ...O(p, o), kind: "effective" }, o.weight.effective]])),
  );
  e.add("edgelb_origin_inflight", "gauge", "Requests in flight on the origin now.", perOrigin((o) => o.inflight));
  e.add("edgelb_tunnels_open", "gauge", "WebSocket tunnels (upgraded connections) to the origin open now.", perOrigin((o) => o.tunnels));
  e.add("edgelb_tunnels_total", "counter", "WebSocket tunnels opened to the origin (a 101 passed on to the client).", perOrigin((o) => o.tunnelsTotal));
  e.add("edgelb_origin_tries_total", "counter", "Tries sent to the origin (first tries, retries and redispatches).", perOrigin((o) => o.tries));
  e.add(
    "edgelb_origin_responses_total",
    "counter",
    "Responses received from the origin, by status class (code); a retried 5xx counts here but not in edgelb_requests_total.",
    s.pools.flatMap((p) => p.origins.flatMap((o) => CLASSES.map((c): Sample => [{ ...O(p, o), code: c }, o.status[c]]))),
  );
  e.add("edgelb_retries_total", "counter", "Tries on the origin that were retries of a failed try.", perOrigin((o) => o.retries));
  e.add("edgelb_redispatches_total", "counter", "Retries that came to the origin from another origin.", perOrigin((o) => o.redispatches));
  e.add(
    "edgelb_origin_failures_total",
    "counter",
    "Failed tries on the origin, by kind.",
    s.pools.flatMap((p) => p.origins.flatMap((o) => Object.entries(o.failures).map(([kind, n]): Sample => [{ ...O(p, o), kind }, n]))),
  );
  e.add("edgelb_origin_client_aborts_total", "counter", "Requests the client aborted while the origin served them.", perOrigin((o) => o.clientAborts));
  e.add("edgelb_origin_ejections_total", "counter", "Passive ejections of the origin.", perOrigin((o) => o.ejections));
  e.add("edgelb_origin_transitions_total", "counter", "Up/down changes of the origin by active checks.", perOrigin((o) => o.transitions));
  e.add(
    "edgelb_origin_last_change_timestamp_seconds",
    "gauge",
    "Unix time of the origin's last up/down change by checks (absent before the first).",
    s.pools.flatMap((p) => p.origins.filter((o) => o.lastChange).map((o): Sample => [O(p, o), o.lastChange! / 1000])),
  );
  const checked = (f: (c: NonNullable<OriginStats["lastCheck"]>) => number): Sample[] =>
    s.pools.flatMap((p) => p.origins.filter((o) => o.lastCheck).map((o): Sample => [O(p, o), f(o.lastCheck!)]));
  e.add("edgelb_origin_check_success", "gauge", "1 when the origin's last active check passed.", checked((c) => +c.ok));
  e.add("edgelb_origin_check_duration_seconds", "gauge", "Duration of the origin's last active check.", checked((c) => c.ms / 1000));
  e.add("edgelb_origin_last_check_timestamp_seconds", "gauge", "Unix time of the origin's last active check.", checked((c) => c.at / 1000));
  const withAgent = (f: (a: NonNullable<OriginStats["agent"]>) => number): Sample[] =>
    s.pools.flatMap((p) => p.origins.filter((o) => o.agent).map((o): Sample => [O(p, o), f(o.agent!)]));
  e.add("edgelb_origin_agent_weight_ratio", "gauge", "Share of the configured weight the origin's agent asks for (0-1), while its report is fresh.", withAgent((a) => a.weightPct / 100));
  e.add("edgelb_origin_agent_report_age_seconds", "gauge", "Age of the origin's last fresh agent report.", withAgent((a) => a.ageMs / 1000));

  // build-specific
  const doCalls = s.pools.filter((p) => p.durableObjectCalls);
  if (doCalls.length)
    e.add(
      "edgelb_durable_object_calls_total",
      "counter",
      "Durable Object calls of this isolate, by kind (onRequestPath, background, flushes, errors).",
      doCalls.flatMap((p) => Object.entries(p.durableObjectCalls!).map(([kind, n]): Sample => [{ ...P(p), kind }, n])),
    );
  if (s.reload)
    e.add("edgelb_config_reloads_total", "counter", "Config reloads (SIGHUP), by result.", [
      [{ result: "applied" }, s.reload.applied],
      [{ result: "refused" }, s.reload.refused],
    ]);
  if (proc) {
    e.add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [[{}, proc.residentMemoryBytes]]);
    e.add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", [[{}, proc.startTimeSeconds]]);
    e.add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", [[{}, proc.cpuSecondsTotal]]);
    if (proc.heapUsedBytes !== undefined) e.add("nodejs_heap_size_used_bytes", "gauge", "Process heap size used from Node.js in bytes.", [[{}, proc.heapUsedBytes]]);
  }
  return e.toString();
}
