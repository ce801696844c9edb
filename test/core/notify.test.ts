import { describe, expect, it } from "vitest";
import { checkReport } from "../../core/agent/ingest.ts";
import { sign } from "../../core/agent/sign.ts";
import { parseConfig } from "../../core/config/parse.ts";
import type { AgentView } from "../../core/health/state.ts";
import { HealthStore, type HealthChange } from "../../core/health/store.ts";
import { FAILURE_TERMINATION } from "../../core/log/httplog.ts";
import { FAILURES } from "../../core/proxy/retry.ts";
import { backoffMs, eventId, originEvent, retryable, signedHeaders, verifyEvent } from "../../core/notify/webhook.ts";

const SECRET = "whsec_" + btoa("webhook-secret-for-tests-only-32");
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const change: HealthChange = { kind: "down", origin: "web01", from: "UP", to: "DOWN", reason: "check failed: ECONNREFUSED", at: NOW - 5 };

/** Headers as a receiver reads them (lower-case names). */
const reader = (h: Record<string, string>) => (name: string) => h[name] ?? null;

describe("webhook events (core/notify/webhook.ts)", () => {
  it("the body names pool, origin, from, to, reason and when", () => {
    expect(originEvent("webfarm", change, "lb1")).toEqual({
      type: "origin.state",
      pool: "webfarm",
      origin: "web01",
      kind: "down",
      from: "UP",
      to: "DOWN",
      reason: "check failed: ECONNREFUSED",
      at: new Date(NOW - 5).toISOString(),
      source: "lb1",
    });
    expect(eventId()).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(eventId()).not.toBe(eventId());
  });

  it("a signed event verifies; a forged signature, another secret, a changed body, a stale timestamp do not", async () => {
    const body = JSON.stringify(originEvent("webfarm", change, "lb1"));
    const h = await signedHeaders(SECRET, "msg_1", body, NOW);
    expect(h["content-type"]).toBe("application/json");
    expect(h["webhook-id"]).toBe("msg_1");
    expect(h["webhook-timestamp"]).toBe(String(NOW / 1000));
    expect(await verifyEvent(reader(h), body, [SECRET], NOW)).toEqual({ ok: true });
    // rotation: any of two secrets
    expect(await verifyEvent(reader(h), body, ["whsec_" + btoa("old"), SECRET], NOW)).toEqual({ ok: true });

    const forged = { ...h, "webhook-signature": `v1,${btoa("x".repeat(32))}` };
    expect(await verifyEvent(reader(forged), body, [SECRET], NOW)).toEqual({ ok: false, why: "signature" });
    const byOther = await signedHeaders("whsec_" + btoa("someone-else"), "msg_1", body, NOW);
    expect(await verifyEvent(reader(byOther), body, [SECRET], NOW)).toEqual({ ok: false, why: "signature" });
    expect(await verifyEvent(reader(h), body.replace("DOWN", "UP"), [SECRET], NOW)).toEqual({ ok: false, why: "signature" });
    // the signature covers the id: the same signature under another id fails
    expect(await verifyEvent(reader({ ...h, "webhook-id": "msg_2" }), body, [SECRET], NOW)).toEqual({ ok: false, why: "signature" });
    expect(await verifyEvent(reader(h), body, [SECRET], NOW + 301_000)).toEqual({ ok: false, why: "timestamp" });
    expect(await verifyEvent(reader({}), body, [SECRET], NOW)).toEqual({ ok: false, why: "headers" });
  });

  it("is signed exactly as agent reports are: the agent ingest accepts the same headers for the same key and body", async () => {
    process.env.EDGELB_TEST_NOTIFY_KEY = SECRET;
    const cfg = parseConfig({ listen: { port: 1 }, pools: { webfarm: { origins: [{ name: "web01", url: "http://10.0.0.1", agentKeys: ["EDGELB_TEST_NOTIFY_KEY"] }] } } });
    if (!cfg.ok) throw new Error("config");
    const report = JSON.stringify({ v: 1, pool: "webfarm", origin: "web01", seq: 1, ts: NOW, health: "up", admin: "ready", weightPct: 100, readings: {} });
    const viaNotify = await signedHeaders(SECRET, "msg_agent", report, NOW);
    const viaAgent = await sign(SECRET, "msg_agent", NOW / 1000, report);
    expect(viaNotify["webhook-signature"]).toBe(viaAgent["webhook-signature"]);
    const v = await checkReport(reader(viaNotify), report, cfg.config, (n) => process.env[n], NOW);
    // past the signature (401 would mean it failed); the schema may still have its say
    expect(v.status).not.toBe(401);
    const forged = { ...viaNotify, "webhook-signature": `v1,${btoa("y".repeat(32))}` };
    expect((await checkReport(reader(forged), report, cfg.config, (n) => process.env[n], NOW)).status).toBe(401);
  });

  it("retries network errors, 408, 429 and 5xx; not other statuses", () => {
    expect([0, 408, 429, 500, 502, 503, 504].every(retryable)).toBe(true);
    expect([200, 204, 301, 400, 401, 403, 404, 410, 422].some(retryable)).toBe(false);
  });

  it("backoff doubles from the base, jittered between half and the whole, capped", () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 1000, 60_000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 1000, 60_000, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffMs(20, 1000, 60_000, () => 1)).toBe(60_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffMs(3, 1000, 60_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});

describe("HealthStore change events for the agent (logged at warn, sent as webhooks)", () => {
  const r = parseConfig({ listen: { port: 1 }, pools: { web: { origins: [{ name: "a", url: "http://10.0.0.1" }] } } });
  if (!r.ok) throw new Error("config");
  const cfg = r.config.pools.web;
  const agent = (at: number, a: Partial<AgentView>) => ({ type: "agent" as const, origin: 0, at, agent: { health: "up" as const, admin: "ready" as const, weightPct: 100, at, ttl: 3000, ...a } });

  it("agent drain, agent down, back to ready; a report expiring while it kept the origin out; weight % alone is not a change", () => {
    const st = new HealthStore(cfg, () => 0);
    const seen: HealthChange[] = [];
    st.onChange = (c) => seen.push(c);
    st.apply(agent(1000, { weightPct: 60 }));
    st.apply(agent(2000, { weightPct: 40 }));
    st.apply(agent(3000, { admin: "drain" }));
    st.apply(agent(4000, { admin: "drain" }));
    st.apply(agent(5000, { admin: "ready" }));
    st.apply(agent(6000, { health: "down" }));
    // silent agent: its last report (down) expires at 9000
    st.weights(9001);
    expect(seen).toEqual([
      { kind: "agent", origin: "a", from: "agent ready", to: "agent drain", reason: "agent report", at: 3000 },
      { kind: "agent", origin: "a", from: "agent drain", to: "agent ready", reason: "agent report", at: 5000 },
      { kind: "agent", origin: "a", from: "agent up", to: "agent down", reason: "agent report", at: 6000 },
      { kind: "agent", origin: "a", from: "agent down", to: "agent silent", reason: "agent report expired", at: 9001 },
    ]);
  });
});

describe("termination states (core/log/httplog.ts)", () => {
  it("every failure kind has a two-letter HAProxy state: S or s for the origin, P for a response we blocked", () => {
    for (const kind of Object.keys(FAILURES) as (keyof typeof FAILURES)[]) expect(FAILURE_TERMINATION[kind]).toMatch(/^[SsP][CHD]$/);
    expect(FAILURE_TERMINATION["connect-refused"]).toBe("SC");
    expect(FAILURE_TERMINATION["header-timeout"]).toBe("sH");
  });
});
