// core/stats renderers for machines: the Prometheus exposition (label escaping, the histogram, every
// family's HELP and TYPE) and the HAProxy-style CSV. The exposition is read back with a real parser
// (parse-prometheus-text-format) and the stricter checks of test/support/prometheus.ts.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import { initialHealth, reduce } from "../../core/health/state.ts";
import { DURATION_BUCKETS, Histogram, PoolCounters } from "../../core/stats/counters.ts";
import { CSV_COLUMNS, csvField, renderStatsCsv } from "../../core/stats/csv.ts";
import { histogramStats, poolStats, type BalancerStats } from "../../core/stats/model.ts";
import { escapeHelp, escapeLabelValue, Exposition, formatValue, renderPrometheus } from "../../core/stats/prometheus.ts";
import { family, histogramSeries, lintExposition, parse, total, value } from "../support/prometheus.ts";

const NOW = 5_000_000;

/** Two pools; origin names with every character the text format has to escape. */
function model(evil = true): BalancerStats {
  const r = parseConfig({
    listen: { port: 8080 },
    pools: {
      web: { origins: [{ name: "a", url: "http://10.0.0.1" }, { name: "b", url: "http://10.0.0.2", weight: 5, maxconn: 10 }] },
      api: { origins: [{ name: "x", url: "http://10.0.0.3", backup: true }] },
    },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const web = r.config.pools.web, api = r.config.pools.api;
  let h = initialHealth(web);
  h = reduce(h, { type: "check", origin: 1, ok: false, at: NOW - 4000, startedAt: NOW - 4010, ms: 10, detail: "connection refused" }, web, () => 0);
  h = reduce(h, { type: "agent", origin: 0, at: NOW - 1500, agent: { health: "up", admin: "ready", weightPct: 50, at: NOW - 1500, ttl: 10_000 } }, web, () => 0);
  const c = new PoolCounters(2);
  c.requests = 12;
  c.status.splice(0, 6, 0, 0, 9, 1, 0, 2);
  c.noOrigin = 1;
  c.budgetExhausted = 3;
  c.queued = 2;
  Object.assign(c.origins[0], { tries: 11, inflight: 1, retries: 2, redispatches: 1, clientAborts: 1, bytesOut: 999, tunnels: 2, tunnelsTotal: 5 });
  Object.assign(c.origins[1], { tunnelsTotal: 1 });
  c.origins[0].status.splice(0, 6, 0, 0, 9, 1, 0, 1);
  c.origins[1].failures["connect-refused"] = 4;
  for (const v of [0.001, 0.004, 0.005, 0.3, 20]) c.duration.observe(v);
  const ca = new PoolCounters(1);
  ca.status[2] = 4;
  ca.requests = 4;
  const s = { build: "edgelb test", startedAt: 1_000_000, pools: [poolStats("web", web, h, c, NOW), poolStats("api", api, initialHealth(api), ca, NOW)] };
  // a pool with names that need escaping (names are config keys in practice; the renderer must not trust that)
  if (evil) {
    s.pools[1].name = 'we"ird\\pool\nname';
    s.pools[1].origins[0].name = "o\\\"n\n";
  }
  return s;
}

describe("label escaping", () => {
  it("escapes backslash, double quote and line feed, backslash first", () => {
    expect(escapeLabelValue("plain-name_1.2")).toBe("plain-name_1.2");
    expect(escapeLabelValue('a"b')).toBe('a\\"b');
    expect(escapeLabelValue("a\\b")).toBe("a\\\\b");
    expect(escapeLabelValue("a\nb")).toBe("a\\nb");
    // a backslash followed by n is two characters, not a line feed: "\\" + "n" -> "\\\\n"
    expect(escapeLabelValue("\\n")).toBe("\\\\n");
    expect(escapeLabelValue('\\"\n')).toBe('\\\\\\"\\n');
    expect(escapeLabelValue("æøå ✓ {x=1}")).toBe("æøå ✓ {x=1}");
  });

  it("HELP escapes backslash and line feed only", () => {
    expect(escapeHelp('say "hi"\\\nnext')).toBe('say "hi"\\\\\\nnext');
  });

  it("values: integers as they are, Go float syntax otherwise", () => {
    expect([0, 12, 0.25, 1e21, Infinity, -Infinity, NaN].map(formatValue)).toEqual(["0", "12", "0.25", "1e+21", "+Inf", "-Inf", "NaN"]);
  });

  it("escaped label values read back as the original strings", () => {
    const evil = ["a\"b", "c\\d", "e\nf", "\\n", '\\"', "{}=,", ""];
    const text = new Exposition().add("t_total", "counter", "test", evil.map((v, i) => [{ v, i: String(i) }, i])).toString();
    expect(lintExposition(text)).toEqual([]);
    expect(family(parse(text), "t_total").metrics.map((m) => m.labels!.v)).toEqual(evil);
  });
});

describe("Histogram", () => {
  it("counts each observation in the first bucket whose bound is >= it (le), sums and counts", () => {
    const h = new Histogram([0.1, 1]);
    for (const v of [0, 0.05, 0.1, 0.1000001, 1, 1.5, -3, NaN]) h.observe(v);
    expect(h.counts).toEqual([5, 2, 1]);
    expect(h.count).toBe(8);
    expect(h.sum).toBeCloseTo(0.05 + 0.1 + 0.1000001 + 1 + 1.5, 9);
    expect(histogramStats(h)).toEqual({ buckets: [{ le: "0.1", count: 5 }, { le: "1", count: 7 }, { le: "+Inf", count: 8 }], sum: h.sum, count: 8 });
  });

  it("the request duration buckets run from 5 ms to 10 s; bounds must increase", () => {
    expect(DURATION_BUCKETS[0]).toBe(0.005);
    expect(DURATION_BUCKETS.at(-1)).toBe(10);
    expect(() => new Histogram([1, 1])).toThrow(/increase/);
  });
});

describe("renderPrometheus", () => {
  const s = model();
  const proc = { residentMemoryBytes: 52_428_800, startTimeSeconds: 1_700_000_000, cpuSecondsTotal: 1.25, heapUsedBytes: 1000 };
  const text = renderPrometheus(s, proc);
  const fams = parse(text);

  it("is a well-formed exposition: HELP and TYPE once before every family's samples, counters end in _total", () => {
    expect(lintExposition(text)).toEqual([]);
    for (const f of fams) {
      expect(f.help, f.name).not.toBe("");
      expect(f.type, f.name).not.toBe("UNTYPED");
    }
    expect(text.match(/^# TYPE /gm)!.length).toBe(fams.length);
  });

  it("requests by pool and status class, from the pool's client-facing counters", () => {
    expect(value(fams, "edgelb_requests_total", { pool: "web", code: "2xx" })).toBe(9);
    expect(value(fams, "edgelb_requests_total", { pool: "web", code: "5xx" })).toBe(2);
    expect(total(fams, "edgelb_requests_total", { pool: "web" })).toBe(12);
    expect(total(fams, "edgelb_requests_total")).toBe(16);
    expect(family(fams, "edgelb_requests_total").type).toBe("COUNTER");
  });

  it("per-origin gauges and counters", () => {
    const a = { pool: "web", origin: "a" }, b = { pool: "web", origin: "b" };
    expect(value(fams, "edgelb_origin_up", a)).toBe(1);
    expect(value(fams, "edgelb_origin_up", b)).toBe(0);
    expect(value(fams, "edgelb_origin_available", b)).toBe(0);
    expect(value(fams, "edgelb_origin_admin_state", { ...a, state: "ready" })).toBe(1);
    expect(value(fams, "edgelb_origin_admin_state", { ...a, state: "maint" })).toBe(0);
    expect(value(fams, "edgelb_origin_weight", { ...a, kind: "configured" })).toBe(1);
    expect(value(fams, "edgelb_origin_weight", { ...a, kind: "effective" })).toBe(0.5);
    expect(value(fams, "edgelb_origin_weight", { ...b, kind: "effective" })).toBe(0);
    expect(value(fams, "edgelb_origin_inflight", a)).toBe(1);
    expect(value(fams, "edgelb_origin_tries_total", a)).toBe(11);
    expect(value(fams, "edgelb_tunnels_open", a)).toBe(2);
    expect(value(fams, "edgelb_tunnels_open", b)).toBe(0);
    expect(value(fams, "edgelb_tunnels_total", a)).toBe(5);
    expect(value(fams, "edgelb_tunnels_total", b)).toBe(1);
    expect(family(fams, "edgelb_tunnels_open").type).toBe("GAUGE");
    expect(family(fams, "edgelb_tunnels_total").type).toBe("COUNTER");
    expect(value(fams, "edgelb_origin_responses_total", { ...a, code: "5xx" })).toBe(1);
    expect(value(fams, "edgelb_retries_total", a)).toBe(2);
    expect(value(fams, "edgelb_redispatches_total", a)).toBe(1);
    expect(value(fams, "edgelb_origin_failures_total", { ...b, kind: "connect-refused" })).toBe(4);
    expect(total(fams, "edgelb_origin_failures_total", a)).toBe(0);
    expect(value(fams, "edgelb_origin_check_success", b)).toBe(0);
    expect(value(fams, "edgelb_origin_check_duration_seconds", b)).toBe(0.01);
    expect(value(fams, "edgelb_origin_last_change_timestamp_seconds", b)).toBe((NOW - 4000) / 1000);
    expect(value(fams, "edgelb_origin_agent_weight_ratio", a)).toBe(0.5);
    expect(value(fams, "edgelb_origin_agent_report_age_seconds", a)).toBe(1.5);
    // no check yet, no agent: no sample rather than a made-up one
    expect(() => value(fams, "edgelb_origin_check_success", a)).toThrow(/0 samples/);
  });

  it("pool counters", () => {
    expect(value(fams, "edgelb_pool_no_origin_total", { pool: "web" })).toBe(1);
    expect(value(fams, "edgelb_retry_budget_exhausted_total", { pool: "web" })).toBe(3);
    expect(value(fams, "edgelb_pool_queued", { pool: "web" })).toBe(2);
  });

  it("the request duration histogram: cumulative buckets, +Inf = count, sum", () => {
    expect(family(fams, "edgelb_request_duration_seconds").type).toBe("HISTOGRAM");
    const [web, api] = histogramSeries(text, "edgelb_request_duration_seconds");
    expect(web.labels).toEqual({ pool: "web" });
    expect(web.buckets).toEqual([
      ["0.005", 3], ["0.01", 3], ["0.025", 3], ["0.05", 3], ["0.1", 3], ["0.25", 3], ["0.5", 4], ["1", 4], ["2.5", 4], ["5", 4], ["10", 4], ["+Inf", 5],
    ]);
    expect(web.count).toBe(5);
    expect(web.sum).toBeCloseTo(20.31, 9);
    expect(api.count).toBe(0);
    expect(api.buckets.at(-1)).toEqual(["+Inf", 0]);
    expect(text).toContain('edgelb_request_duration_seconds_bucket{pool="web",le="0.005"} 3\n');
    expect(text).toContain('edgelb_request_duration_seconds_bucket{pool="web",le="+Inf"} 5\n');
    expect(text).toContain('edgelb_request_duration_seconds_count{pool="web"} 5\n');
  });

  it("escapes pool and origin names in labels, and they read back unchanged", () => {
    expect(text).toContain('edgelb_origin_up{pool="we\\"ird\\\\pool\\nname",origin="o\\\\\\"n\\n"} 1\n');
    expect(value(fams, "edgelb_origin_up", { pool: 'we"ird\\pool\nname', origin: 'o\\"n\n' })).toBe(1);
  });

  it("process metrics when given; reloads when the model has them; Durable Object calls at the edge", () => {
    expect(value(fams, "process_resident_memory_bytes")).toBe(52_428_800);
    expect(value(fams, "process_start_time_seconds")).toBe(1_700_000_000);
    expect(family(fams, "process_cpu_seconds_total").type).toBe("COUNTER");
    const edge = renderPrometheus({ ...s, pools: [{ ...s.pools[0], durableObjectCalls: { onRequestPath: 1, background: 2, flushes: 3, errors: 0 } }] }, null);
    expect(edge).not.toContain("process_");
    expect(lintExposition(edge)).toEqual([]);
    expect(value(parse(edge), "edgelb_durable_object_calls_total", { pool: "web", kind: "flushes" })).toBe(3);
    const node = renderPrometheus({ ...s, reload: { applied: 2, refused: 1, last: null } });
    expect(value(parse(node), "edgelb_config_reloads_total", { result: "refused" })).toBe(1);
  });
});

describe("the exposition checker (test/support/prometheus.ts) finds what it must", () => {
  it("a family without HELP or TYPE, a sample outside its block, a bad value, a counter not ending in _total", () => {
    expect(lintExposition("x_total 1\n")).toEqual(["line 1: x_total has no HELP before its samples", "line 1: x_total has no TYPE before its samples", "line 1: sample of x_total outside its family's block"]);
    expect(lintExposition("# HELP a h\n# TYPE a gauge\n# HELP b h\n# TYPE b counter\na 1\nb x\n")).toEqual([
      "line 5: sample of a outside its family's block",
      "line 6: counter b does not end in _total",
      "line 6: bad value x",
    ]);
  });

  it("a histogram that is not cumulative, lacks +Inf, or whose +Inf is not the count", () => {
    const h = (lines: string) => lintExposition(`# HELP h_seconds h\n# TYPE h_seconds histogram\n${lines}`);
    expect(h('h_seconds_bucket{le="1"} 2\nh_seconds_bucket{le="2"} 1\nh_seconds_bucket{le="+Inf"} 2\nh_seconds_sum 1\nh_seconds_count 2\n')).toEqual(['h_seconds{}: bucket le=2 below le=1 (not cumulative)']);
    expect(h('h_seconds_bucket{le="1"} 2\nh_seconds_sum 1\nh_seconds_count 2\n')).toEqual(["h_seconds{}: no +Inf bucket last"]);
    expect(h('h_seconds_bucket{pool="p",le="+Inf"} 3\nh_seconds_sum{pool="p"} 1\nh_seconds_count{pool="p"} 2\n')).toEqual(['h_seconds{"pool":"p"}: +Inf bucket 3 != count 2']);
  });
});

describe("renderStatsCsv", () => {
  const s = model(false);
  const lines = renderStatsCsv(s, NOW).split("\n");

  it("a header row with HAProxy's names, one row per origin and a BACKEND row per pool", () => {
    expect(lines[0]).toBe(`# ${CSV_COLUMNS.join(",")}`);
    expect(lines[0].startsWith("# pxname,svname,qcur,scur,slim,stot,bout,econ,eresp,wretr,wredis,status,weight")).toBe(true);
    expect(lines.at(-1)).toBe("");
    expect(lines.length).toBe(1 + 3 + 2 + 1);
    const rows = lines.slice(1, -1).map((l) => l.split(","));
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
  });

  it("origin and pool rows carry the counters", () => {
    const col = (line: string, name: (typeof CSV_COLUMNS)[number]) => line.split(",")[CSV_COLUMNS.indexOf(name)];
    const [a, b, back] = lines.slice(1, 4);
    expect([col(a, "pxname"), col(a, "svname"), col(a, "status"), col(a, "scur"), col(a, "stot"), col(a, "bout"), col(a, "wretr"), col(a, "wredis")]).toEqual(["web", "a", "UP", "1", "11", "999", "2", "1"]);
    expect([col(a, "weight"), col(a, "iweight"), col(a, "agent_weight_pct"), col(a, "agent_age"), col(a, "hrsp_2xx"), col(a, "hrsp_5xx")]).toEqual(["0.5", "1", "50", "1", "9", "1"]);
    expect([col(b, "status"), col(b, "slim"), col(b, "econ"), col(b, "chkdown"), col(b, "lastchg"), col(b, "downtime"), col(b, "check_status"), col(b, "check_duration")]).toEqual([
      "DOWN", "10", "4", "1", "4", "4", "connection refused", "10",
    ]);
    expect([col(back, "svname"), col(back, "status"), col(back, "qcur"), col(back, "stot"), col(back, "hrsp_2xx"), col(back, "no_origin"), col(back, "budget_exhausted"), col(back, "act")]).toEqual([
      "BACKEND", "UP", "2", "12", "9", "1", "3", "1",
    ]);
    expect([col(a, "tunnels"), col(a, "tunnels_tot"), col(b, "tunnels"), col(b, "tunnels_tot"), col(back, "tunnels"), col(back, "tunnels_tot")]).toEqual(["2", "5", "0", "1", "2", "6"]);
  });

  it("quotes fields with commas, quotes or line breaks; defuses spreadsheet formulas", () => {
    expect(csvField('a,b"c')).toBe('"a,b""c"');
    expect(csvField("x\ny")).toBe('"x\ny"');
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField("-1+1")).toBe("'-1+1");
    expect(csvField(-1)).toBe("-1");
    expect(csvField(null)).toBe("");
    expect(csvField(0.123456)).toBe("0.123");
    expect(renderStatsCsv(model(), NOW)).toContain('\n"we""ird\\pool\nname","o\\""n\n",');
  });
});
