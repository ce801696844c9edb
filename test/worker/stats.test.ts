// Stats page, CSV and /__edgelb/metrics at the edge, inside workerd, in front of the real origin
// processes of global-setup: the same renderers as the Node build, the isolate's own counters
// (in-flight from the selection's array, Durable Object calls), no process_* metrics.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import type { EdgeEnv } from "../../durable/config.ts";
import { histogramSeries, lintExposition, parse, total, value } from "../support/prometheus.ts";

const base = JSON.parse((env as unknown as { EDGELB_CONFIG: string }).EDGELB_CONFIG);
/** A config of its own (another snapshot TTL), so this file's isolate starts with its own counters. */
const e = { ...env, EDGELB_CONFIG: JSON.stringify({ ...base, edge: { ...base.edge, snapshotTtl: "3s" } }) } as unknown as EdgeEnv;
const AUTH = { authorization: "Bearer test-stats-token" };

async function call(path: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://lb.test${path}`, { headers }), e, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, body, type: res.headers.get("content-type") };
}

describe("edge: stats and metrics", () => {
  it("metrics and stats need the stats token", async () => {
    for (const path of ["/__edgelb/metrics", "/__edgelb/stats", "/__edgelb/stats?format=csv"]) {
      expect((await call(path)).status, path).toBe(401);
      expect((await call(path, { authorization: "Bearer test-stats-tokenx" })).status, path).toBe(401);
      expect((await call(path, AUTH)).status, path).toBe(200);
    }
  });

  it("after 9 requests the exposition counts 9 in webfarm, well formed, with the isolate's Durable Object calls", async () => {
    const before = parse((await call("/__edgelb/metrics", AUTH)).body);
    const sentBefore = total(before, "edgelb_requests_total", { pool: "webfarm" });
    for (let i = 0; i < 9; i++) expect((await call(`/edge-metrics-${i}`)).status).toBe(200);
    const r = await call("/__edgelb/metrics", AUTH);
    expect(r.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(lintExposition(r.body)).toEqual([]);
    const fams = parse(r.body);
    expect(total(fams, "edgelb_requests_total", { pool: "webfarm" }) - sentBefore).toBe(9);
    expect(value(fams, "edgelb_requests_total", { pool: "webfarm", code: "2xx" }) - sentBefore).toBe(9);
    const tries = ["a", "b", "c"].map((o) => value(fams, "edgelb_origin_tries_total", { pool: "webfarm", origin: o }));
    expect(tries.reduce((x, y) => x + y, 0) - sentBefore).toBe(9);
    for (const o of ["a", "b", "c"]) {
      expect(value(fams, "edgelb_origin_up", { pool: "webfarm", origin: o })).toBe(1);
      expect(value(fams, "edgelb_origin_inflight", { pool: "webfarm", origin: o })).toBe(0);
      expect(value(fams, "edgelb_origin_weight", { pool: "webfarm", origin: o, kind: "configured" })).toBe(1);
    }
    expect(value(fams, "edgelb_durable_object_calls_total", { pool: "webfarm", kind: "onRequestPath" })).toBe(1);
    expect(r.body).not.toContain("process_");
    expect(value(fams, "edgelb_build_info", { build: "edgelb (Cloudflare Worker)" })).toBe(1);
    const h = histogramSeries(r.body, "edgelb_request_duration_seconds").find((s) => s.labels.pool === "webfarm")!;
    expect(h.buckets.at(-1)).toEqual(["+Inf", h.count]);
    // every request answered is one observation
    expect(h.count).toBe(total(fams, "edgelb_requests_total", { pool: "webfarm" }));
  });

  it("the HTML page and the CSV show one row per origin of every pool", async () => {
    const html = (await call("/__edgelb/stats", AUTH)).body;
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    for (const o of ["a", "b", "c"]) expect(html).toMatch(new RegExp(`<tr class="st-up" data-pool="webfarm" data-origin="${o}">`));
    expect(html).toContain("Durable Object calls: onRequestPath 1");
    const csv = await call("/__edgelb/stats?format=csv", AUTH);
    expect(csv.type).toMatch(/^text\/csv/);
    const lines = csv.body.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^# pxname,svname,/);
    expect(lines.filter((l) => l.startsWith("webfarm,")).map((l) => l.split(",")[1])).toEqual(["a", "b", "c", "BACKEND"]);
  });
});
