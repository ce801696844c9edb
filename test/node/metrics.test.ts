// /__edgelb/metrics and ?format=csv on the real Node balancer, in front of real origin processes:
// the exposition parses (parse-prometheus-text-format and the checks of test/support/prometheus.ts),
// and its counters are the traffic that was sent. Auth as the stats page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killOrigins, load, poolOf, send, startBalancer, startOrigin, waitFor, type TestBalancer, type TestOrigin } from "../support/harness.ts";
import { histogramSeries, lintExposition, parse, total, value } from "../support/prometheus.ts";

const STATS_TOKEN = "metrics-test-stats-token-0123";
const STATS_PASSWORD = "metrics-test-pässword";
process.env.EDGELB_METRICS_TEST_TOKEN = STATS_TOKEN;
process.env.EDGELB_METRICS_TEST_PASSWORD = STATS_PASSWORD;
const BEARER = { authorization: `Bearer ${STATS_TOKEN}` };
const BASIC = { authorization: `Basic ${Buffer.from(`ops:${STATS_PASSWORD}`).toString("base64")}` };

let web01: TestOrigin, web02: TestOrigin, b: TestBalancer;

beforeAll(async () => {
  [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  b = await startBalancer({
    pools: { webfarm: poolOf([web01, web02], { check: { interval: "200ms", timeout: "150ms", rise: 2, fall: 2 } }, [3, 2]) },
    stats: { auth: { basic: [{ user: "ops", passwordEnv: "EDGELB_METRICS_TEST_PASSWORD" }], bearerEnv: "EDGELB_METRICS_TEST_TOKEN" } },
  });
});
afterAll(async () => {
  await b?.close();
  await killOrigins();
});

async function metrics() {
  const r = await send(b.url, { path: "/__edgelb/metrics", headers: BEARER });
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
  expect(lintExposition(r.body)).toEqual([]);
  return { text: r.body, fams: parse(r.body) };
}

const O1 = { pool: "webfarm", origin: "web01" }, O2 = { pool: "webfarm", origin: "web02" };

describe("GET /__edgelb/metrics (Node build)", () => {
  it("needs the stats credentials (bearer or Basic); a wrong one is 401", async () => {
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${STATS_TOKEN}x` }, { authorization: `Basic ${Buffer.from(`ops:${STATS_PASSWORD}x`).toString("base64")}` }]) {
      const r = await send(b.url, { path: "/__edgelb/metrics", headers });
      expect(r.status).toBe(401);
      expect(r.body).not.toContain("edgelb_");
    }
    expect((await send(b.url, { path: "/__edgelb/metrics", headers: BASIC })).status).toBe(200);
    expect((await send(b.url, { path: "/__edgelb/metrics", headers: BEARER })).status).toBe(200);
  });

  it("after 10 requests: edgelb_requests_total sums to 10, per-origin counters match what the origins saw", async () => {
    // wait for a first round of checks, so both are fully up and the counters start from a known point
    await waitFor(() => b.stats().origins.every((o) => o.lastCheck !== null), 3000);
    const before = await metrics();
    expect(total(before.fams, "edgelb_requests_total")).toBe(0);
    const results = await load(b.url, 10, 2, (i) => ({ path: `/m${i}` }));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const { text, fams } = await metrics();
    expect(total(fams, "edgelb_requests_total")).toBe(10);
    expect(value(fams, "edgelb_requests_total", { pool: "webfarm", code: "2xx" })).toBe(10);
    expect(value(fams, "edgelb_requests_total", { pool: "webfarm", code: "5xx" })).toBe(0);
    // what each origin served, counted by the origins themselves
    const served = (o: TestOrigin) => o.requests.filter((r) => r.url.startsWith("/m")).length;
    expect(value(fams, "edgelb_origin_tries_total", O1)).toBe(served(web01));
    expect(value(fams, "edgelb_origin_tries_total", O2)).toBe(served(web02));
    expect(served(web01) + served(web02)).toBe(10);
    // weights 3:2 -> 6 and 4 by weighted round-robin
    expect([served(web01), served(web02)]).toEqual([6, 4]);
    expect(total(fams, "edgelb_origin_responses_total", { code: "2xx" })).toBe(10);
    expect(value(fams, "edgelb_origin_up", O1)).toBe(1);
    expect(value(fams, "edgelb_origin_up", O2)).toBe(1);
    expect(value(fams, "edgelb_origin_weight", { ...O1, kind: "configured" })).toBe(3);
    expect(value(fams, "edgelb_origin_weight", { ...O2, kind: "effective" })).toBe(2);
    expect(value(fams, "edgelb_origin_inflight", O1)).toBe(0);
    expect(total(fams, "edgelb_retries_total")).toBe(0);
    expect(total(fams, "edgelb_redispatches_total")).toBe(0);
    expect(total(fams, "edgelb_origin_failures_total")).toBe(0);
    expect(value(fams, "edgelb_pool_no_origin_total", { pool: "webfarm" })).toBe(0);
    expect(value(fams, "edgelb_retry_budget_exhausted_total", { pool: "webfarm" })).toBe(0);
    expect(value(fams, "edgelb_origin_check_success", O1)).toBe(1);
    // the duration histogram: well formed (lintExposition), one series for the pool; its count is
    // the requests answered once node/proxy.ts observes each one (0 before that: see the report)
    const [h] = histogramSeries(text, "edgelb_request_duration_seconds");
    expect(h.labels).toEqual({ pool: "webfarm" });
    expect(h.buckets.at(-1)).toEqual(["+Inf", h.count]);
    expect(h.count).toBe(10);
    // the process that serves them (this one: the balancer runs in the test's process)
    expect(value(fams, "process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    const start = value(fams, "process_start_time_seconds");
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    expect(value(fams, "edgelb_start_time_seconds")).toBe(b.lb.startedAt / 1000);
  });

  it("a killed origin: connection failures and redispatches are counted, then it is down", async () => {
    const before = await metrics();
    const sent = total(before.fams, "edgelb_requests_total");
    await web02.kill();
    // right away, before the checks notice: web02's turn fails (refused) and goes to web01
    const results = await load(b.url, 6, 1, (i) => ({ path: `/k${i}` }));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    await waitFor(() => !b.stats().origins[1].up, 5000);
    const { fams } = await metrics();
    expect(total(fams, "edgelb_requests_total") - sent).toBe(6);
    expect(value(fams, "edgelb_origin_failures_total", { ...O2, kind: "connect-refused" })).toBeGreaterThanOrEqual(1);
    expect(value(fams, "edgelb_redispatches_total", O1)).toBe(value(fams, "edgelb_origin_failures_total", { ...O2, kind: "connect-refused" }));
    expect(value(fams, "edgelb_origin_up", O2)).toBe(0);
    expect(value(fams, "edgelb_origin_available", O2)).toBe(0);
    expect(value(fams, "edgelb_origin_weight", { ...O2, kind: "effective" })).toBe(0);
    expect(value(fams, "edgelb_origin_check_success", O2)).toBe(0);
    expect(value(fams, "edgelb_origin_up", O1)).toBe(1);
    expect(value(fams, "edgelb_origin_transitions_total", O2)).toBe(1);
  });

  it("?format=csv: a header row and the same counters, HAProxy's column names", async () => {
    const r = await send(b.url, { path: "/__edgelb/stats?format=csv", headers: BASIC });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    const [head, ...rows] = r.body.trimEnd().split("\n");
    expect(head).toMatch(/^# pxname,svname,qcur,scur,slim,stot,/);
    const cols = head.slice(2).split(",");
    const get = (row: string, c: string) => row.split(",")[cols.indexOf(c)];
    expect(rows.map((x) => get(x, "svname"))).toEqual(["web01", "web02", "BACKEND"]);
    const [w1, w2, back] = rows;
    expect(get(w2, "status")).toBe("DOWN");
    expect(get(w1, "status")).toBe("UP");
    expect(Number(get(back, "req_tot"))).toBe(16);
    expect(Number(get(back, "hrsp_2xx"))).toBe(16);
    expect(Number(get(w1, "stot")) + Number(get(w2, "stot"))).toBe(16 + Number(get(w1, "wredis")));
    expect((await send(b.url, { path: "/__edgelb/stats?format=csv" })).status).toBe(401);
    expect((await send(b.url, { path: "/__edgelb/stats?format=xml", headers: BASIC })).status).toBe(400);
  });
});
