// The edge build's own guarantees, inside workerd: no Durable Object call on the request path once
// the isolate is warm, traffic keeps flowing when the object is unavailable (G12), agent reports and
// admin actions reach the object and the edge within one snapshot TTL, outcomes are batched.
import { env } from "cloudflare:workers";
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index.ts";
import { sign } from "../../core/agent/sign.ts";
import type { HealthObject } from "../../durable/health-object.ts";
import type { EdgeEnv } from "../../durable/config.ts";
import { origin } from "./helpers.ts";

/** Example agent key for tests only; production keys come from `wrangler secret put`. */
const EXAMPLE_AGENT_KEY = "example-agent-key-a-test-only";
const base = JSON.parse((env as unknown as { EDGELB_CONFIG: string }).EDGELB_CONFIG);

/** The test config with other edge settings, and agent keys for origin "a" of webfarm. */
function variant(edge: Record<string, string>) {
  const cfg = structuredClone(base);
  cfg.edge = edge;
  for (const o of cfg.pools.webfarm.origins) if (o.name === "a") o.agentKeys = ["EDGELB_AGENT_KEY_A"];
  return { ...env, EDGELB_CONFIG: JSON.stringify(cfg), EDGELB_AGENT_KEY_A: EXAMPLE_AGENT_KEY } as unknown as EdgeEnv;
}

async function call(e: EdgeEnv, path: string, init?: RequestInit, host = "lb.test") {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://${host}${path}`, init), e, ctx);
  const body = await res.text();
  return { status: res.status, body, origin: res.headers.get("x-origin"), done: waitOnExecutionContext(ctx) };
}

async function stats(e: EdgeEnv, pool = "webfarm") {
  const r = await call(e, "/__edgelb/stats?format=json", { headers: { authorization: "Bearer test-stats-token" } });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body).pools as { name: string; durableObjectCalls: Record<string, number>; origins: { name: string; weight: { effective: number } }[] }[]).find((p) => p.name === pool)!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stub = () => env.HEALTH.getByName("webfarm");

afterEach(async () => {
  await runInDurableObject(stub(), (obj: HealthObject) => void (obj.fault = false));
  for (const name of ["a", "b", "c"]) await stub().admin("webfarm", { origin: name, admin: "ready" });
});

describe("edge: Durable Object calls", () => {
  it("one awaited call when cold, then none on the request path while the snapshot is warm", async () => {
    const e = variant({ snapshotTtl: "5s" });
    const first = await call(e, "/warmup");
    expect(first.status).toBe(200);
    await first.done;
    const warm = (await stats(e)).durableObjectCalls;
    expect(warm.onRequestPath).toBe(1);
    const seen: string[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await call(e, `/r${i}`);
      expect(r.status).toBe(200);
      seen.push(r.origin!);
      await r.done;
    }
    const after = (await stats(e)).durableObjectCalls;
    // 60 proxied requests inside the TTL: 0 Durable Object calls, awaited or in the background
    expect(after.onRequestPath - warm.onRequestPath).toBe(0);
    expect(after.background - warm.background).toBe(0);
    expect(new Set(seen)).toEqual(new Set(["a", "b", "c"]));
  });

  it("refreshes in the background (stale-while-revalidate) once the TTL has passed", async () => {
    const e = variant({ snapshotTtl: "200ms" });
    await (await call(e, "/cold")).done;
    await sleep(250);
    const r = await call(e, "/stale");
    expect(r.status).toBe(200);
    await r.done;
    const c = (await stats(e)).durableObjectCalls;
    expect(c.onRequestPath).toBe(1);
    expect(c.background).toBe(1);
  });
});

describe("edge: the Durable Object unavailable (G12)", () => {
  it("keeps serving on the stale snapshot, then on every configured origin; 0 failed requests", async () => {
    const e = variant({ snapshotTtl: "100ms", maxStale: "800ms", coldWait: "500ms" });
    await stub().admin("webfarm", { origin: "c", admin: "maint" });
    const warm = await call(e, "/w");
    await warm.done;
    expect(warm.status).toBe(200);
    await runInDurableObject(stub(), (obj: HealthObject) => void (obj.fault = true));
    const served: { t: number; origin: string | null; status: number }[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 2500) {
      const r = await call(e, `/g${served.length}`);
      served.push({ t: Date.now() - t0, origin: r.origin, status: r.status });
      await r.done;
      await sleep(40);
    }
    expect(served.filter((s) => s.status !== 200)).toEqual([]);
    // on the stale snapshot, c (in maint) gets nothing; after maxStale without an answer, every origin does
    expect(served.filter((s) => s.t < 600 && s.origin === "c")).toEqual([]);
    expect(served.filter((s) => s.t > 1500 && s.origin === "c").length).toBeGreaterThan(0);
    expect((await stats(e)).durableObjectCalls.errors).toBeGreaterThan(0);
  });
});

describe("edge: agent reports and admin actions", () => {
  let seq = 1000;
  const report = (over: Record<string, unknown>) =>
    JSON.stringify({
      v: 1, pool: "webfarm", origin: "a", seq: ++seq, ts: Date.now(), interval: 1000, health: "up", admin: "ready", weightPct: 100,
      readings: { loadPerCpu: 0.2, cpus: 2, memAvailablePct: 60, swapInPerSec: 0, psi: null, app: { status: 200, ms: 3 } }, ...over,
    });
  async function post(e: EdgeEnv, body: string, key = EXAMPLE_AGENT_KEY, id = crypto.randomUUID(), ts = Math.floor(Date.now() / 1000)) {
    const headers = await sign(key, id, ts, body);
    return call(e, "/__edgelb/agent", { method: "POST", body, headers: { ...headers, "content-type": "application/json" } });
  }

  it("a signed drain is applied at the edge within one TTL; forged, replayed and stale-seq reports change nothing", async () => {
    const e = variant({ snapshotTtl: "300ms" });
    await (await call(e, "/w")).done;
    const forged = await post(e, report({ admin: "drain" }), "not-the-key");
    expect(forged.status).toBe(401);
    expect(forged.body).toBe("Unauthorized\n");
    const body = report({ admin: "drain" });
    const id = crypto.randomUUID();
    const ok = await post(e, body, EXAMPLE_AGENT_KEY, id);
    expect(ok.status).toBe(200);
    await ok.done;
    expect((await post(e, body, EXAMPLE_AGENT_KEY, id)).status).toBe(401); // replayed id
    const older = await post(e, report({ seq: 5, admin: "ready" }));
    expect(older.status).toBe(409);
    const snap = await stub().snapshot("webfarm", 0);
    expect(snap!.origins[0].agent).toMatchObject({ admin: "drain", weightPct: 100 });
    await sleep(350);
    const after: (string | null)[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await call(e, `/d${i}`);
      after.push(r.origin);
      await r.done;
    }
    // the first request may still use the snapshot from before (it refreshes in the background)
    expect(after.slice(1).filter((o) => o === "a")).toEqual([]);
    const back = await post(e, report({ admin: "ready" }));
    expect(back.status).toBe(200);
    await back.done;
  });

  it("admin API: bearer auth, POST only, applied at the edge", async () => {
    const e = variant({ snapshotTtl: "300ms" });
    await (await call(e, "/w")).done;
    const auth = { authorization: "Bearer test-admin-token" };
    expect((await call(e, "/__edgelb/admin/webfarm/b/maint", { method: "POST" })).status).toBe(401);
    expect((await call(e, "/__edgelb/admin/webfarm/b/maint", { method: "POST", headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await call(e, "/__edgelb/admin/webfarm/b/maint", { headers: auth })).status).toBe(405);
    expect((await stub().snapshot("webfarm", 0))!.origins[1].admin).toBe("ready");
    expect((await call(e, "/__edgelb/admin/webfarm/nope/maint", { method: "POST", headers: auth })).status).toBe(404);
    const ok = await call(e, "/__edgelb/admin/webfarm/b/maint", { method: "POST", headers: auth });
    expect(ok.status).toBe(200);
    await ok.done;
    expect((await stub().snapshot("webfarm", 0))!.origins[1].admin).toBe("maint");
    await sleep(350);
    const seen: (string | null)[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await call(e, `/m${i}`);
      seen.push(r.origin);
      await r.done;
    }
    expect(seen.slice(1).filter((o) => o === "b")).toEqual([]);
  });
});

describe("edge: control paths", () => {
  it("another spelling of a control path is answered 404 and never forwarded with its credentials; the admin state is unchanged", async () => {
    const e = variant({ snapshotTtl: "300ms" });
    const a = origin("a"), b = origin("b");
    const auth = { authorization: "Bearer test-admin-token", "x-request-id": "lookalike" };
    for (const path of ["//__edgelb/admin/webfarm/b/maint", "/__EDGELB/admin/webfarm/b/maint", "/__edgelb/%61dmin/webfarm/b/maint", "//__edgelb/stats"]) {
      const r = await call(e, path, { method: "POST", headers: auth });
      expect([path, r.status]).toEqual([path, 404]);
      await r.done;
    }
    // dot segments, "%2e%2e" included, are resolved by the runtime's URL parser before the Worker
    // sees the request: these are control requests, and without credentials they are refused
    for (const path of ["/%2e%2e/__edgelb/admin/webfarm/b/maint", "/x/../__edgelb/admin/webfarm/b/maint", "/x/%2e%2e/__edgelb/admin/webfarm/b/maint"]) {
      const r = await call(e, path, { method: "POST", headers: { "x-request-id": "lookalike" } });
      expect([path, r.status]).toEqual([path, 401]);
      await r.done;
    }
    const seen = [...(await a.log()), ...(await b.log())].filter((l) => l.id === "lookalike");
    expect(seen).toEqual([]);
    expect((await stub().snapshot("webfarm", 0))!.origins[1].admin).toBe("ready");
  });
});

describe("edge: response bodies", () => {
  it("by default a body passes through untouched: a break mid-body cuts the client's response, the origin is not charged", async () => {
    const e = variant({ snapshotTtl: "5s" });
    const x = origin("a");
    await x.setMode({ mode: "reset-mid-body", bytes: 1000 });
    try {
      let cut = 0, served = 0;
      for (let i = 0; i < 6; i++) {
        const ctx = createExecutionContext();
        const res = await worker.fetch(new Request(`http://lb.test/body${i}`), e, ctx);
        if (res.headers.get("x-origin") === "a") {
          served++;
          await res.text().then(() => {}, () => cut++);
        } else await res.text();
        await waitOnExecutionContext(ctx);
      }
      expect(served).toBeGreaterThan(0);
      expect(cut).toBe(served);
      const s = await stats(e);
      expect((s.origins.find((o) => o.name === "a") as unknown as { failures: Record<string, number> }).failures["body-error"]).toBe(0);
    } finally {
      await x.setMode({ mode: "ok" });
    }
  });
});

describe("edge: where health data lives", () => {
  // workerd refuses jurisdictions locally ("Jurisdiction restrictions are not implemented in
  // workerd"), so this asserts that the EU namespace is the one asked for, and that traffic flows
  // even so (the isolate goes on with every configured origin, as when the object is unavailable).
  it("jurisdiction \"eu\" asks for the pool's object in the EU jurisdiction; traffic flows even where that fails", async () => {
    const jurisdiction = vi.spyOn(env.HEALTH, "jurisdiction");
    try {
      const e = variant({ jurisdiction: "eu", locationHint: "weur" });
      const r = await call(e, "/eu");
      expect(r.status).toBe(200);
      await r.done;
      expect(jurisdiction).toHaveBeenCalledWith("eu");
      expect((await stats(e)).durableObjectCalls.onRequestPath).toBe(1);
      expect((await stats(e)).durableObjectCalls.errors).toBe(1);
    } finally {
      jurisdiction.mockRestore();
    }
  });
});

describe("edge: outcomes", () => {
  it("a dead origin's failures reach the object in batches, at most one flush per interval", async () => {
    const e = variant({ snapshotTtl: "5s", flushInterval: "300ms" });
    const t0 = Date.now();
    const results: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call(e, `/x${i}`, undefined, "withdead.test");
      results.push(r.status);
      await r.done;
    }
    const elapsed = Date.now() - t0;
    expect(results.every((s) => s === 200)).toBe(true);
    const s = await stats(e, "withdead");
    expect(s.durableObjectCalls.flushes).toBeGreaterThanOrEqual(1);
    expect(s.durableObjectCalls.flushes).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 1);
    const snap = await env.HEALTH.getByName("withdead").snapshot("withdead", 0);
    expect(snap!.origins[0].ejectionsTotal).toBeGreaterThanOrEqual(1);
  });
});
