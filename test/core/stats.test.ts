import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import type { PoolConfig } from "../../core/config/schema.ts";
import { initialHealth, reduce, type HealthEvent, type PoolHealth } from "../../core/health/state.ts";
import { PoolCounters } from "../../core/stats/counters.ts";
import { renderStatsHtml } from "../../core/stats/html.ts";
import { poolStats, stateLabel, type PoolStats } from "../../core/stats/model.ts";

const NAMES = ["up", "down", "rising", "drained", "maint", "ejected", "falling", "agentdown", "zero"] as const;

function poolCfg(): PoolConfig {
  const r = parseConfig({
    listen: { port: 8080 },
    pools: {
      web: {
        balance: "leastconn",
        check: { rise: 2, fall: 3 },
        passive: { baseEjection: "5s" },
        origins: NAMES.map((name, i) => ({ name, url: `http://10.0.0.${i + 1}:8080`, weight: 10 + i, ...(name === "zero" ? { backup: true } : {}) })),
      },
    },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.pools.web;
}

const NOW = 2_000_000;
const i = (n: (typeof NAMES)[number]) => NAMES.indexOf(n);
const chk = (name: (typeof NAMES)[number], ok: boolean, at: number): HealthEvent => ({ type: "check", origin: i(name), ok, at, startedAt: at - 5, ms: 5, detail: ok ? "HTTP 200" : "HTTP 503" });

function health(cfg: PoolConfig): PoolHealth {
  const evs: HealthEvent[] = [
    chk("up", true, NOW - 3000),
    chk("down", false, NOW - 3000),
    chk("rising", false, NOW - 3000),
    chk("rising", true, NOW - 1000),
    { type: "admin", origin: i("drained"), at: NOW - 100, admin: "drain" },
    { type: "admin", origin: i("maint"), at: NOW - 100, admin: "maint" },
    { type: "outcome", origin: i("ejected"), kind: "refused", at: NOW - 1000 },
    chk("falling", true, NOW - 3000),
    chk("falling", false, NOW - 1000),
    { type: "agent", origin: i("agentdown"), at: NOW - 2000, agent: { health: "down", admin: "ready", weightPct: 40, at: NOW - 2000, ttl: 10_000 } },
    { type: "admin", origin: i("zero"), at: NOW - 100, weight: 0 },
  ];
  let s = initialHealth(cfg);
  for (const ev of evs) s = reduce(s, ev, cfg, () => 0);
  return s;
}

function counters(): PoolCounters {
  const c = new PoolCounters(NAMES.length);
  Object.assign(c, { requests: 100, noOrigin: 2, queueTimeouts: 3, queued: 4, budgetExhausted: 5 });
  c.status.splice(0, 6, 0, 1, 80, 5, 10, 4);
  const o = c.origins[0];
  Object.assign(o, { tries: 60, inflight: 2, retries: 3, redispatches: 2, clientAborts: 1, bytesOut: 12345 });
  o.status.splice(0, 6, 0, 0, 50, 4, 3, 1);
  o.failures["connect-refused"] = 2;
  o.failures["header-timeout"] = 1;
  return c;
}

describe("poolStats", () => {
  const cfg = poolCfg();
  const h = health(cfg);
  const c = counters();
  const s = poolStats("web", cfg, h, c, NOW);

  it("labels every state HAProxy-style", () => {
    expect(s.origins.map((o) => [o.name, o.state])).toEqual([
      ["up", "UP"],
      ["down", "DOWN"],
      ["rising", "DOWN, going up 1/2"],
      ["drained", "DRAIN"],
      ["maint", "MAINT"],
      ["ejected", "EJECTED"],
      ["falling", "UP, going down 1/3"],
      ["agentdown", "DOWN (agent)"],
      ["zero", "UP"],
    ]);
  });

  it("effective weight is 0 whenever the origin takes no traffic", () => {
    expect(s.origins.map((o) => [o.name, o.weight])).toEqual([
      ["up", { configured: 10, agentPct: null, effective: 10 }],
      ["down", { configured: 11, agentPct: null, effective: 0 }],
      ["rising", { configured: 12, agentPct: null, effective: 0 }],
      ["drained", { configured: 13, agentPct: null, effective: 0 }],
      ["maint", { configured: 14, agentPct: null, effective: 0 }],
      ["ejected", { configured: 15, agentPct: null, effective: 0 }],
      ["falling", { configured: 16, agentPct: null, effective: 16 }],
      ["agentdown", { configured: 17, agentPct: 40, effective: 0 }],
      ["zero", { configured: 0, agentPct: null, effective: 0 }],
    ]);
  });

  it("pool fields and counters are copied", () => {
    expect({ ...s, origins: undefined }).toEqual({
      name: "web",
      balance: "leastconn",
      version: h.version,
      requests: 100,
      noOrigin: 2,
      queueTimeouts: 3,
      queued: 4,
      budgetExhausted: 5,
      status: { "1xx": 1, "2xx": 80, "3xx": 5, "4xx": 10, "5xx": 4 },
      origins: undefined,
    });
    expect(h.version).toBe(12);
  });

  it("one origin's full row", () => {
    expect(s.origins[0]).toEqual({
      name: "up",
      url: "http://10.0.0.1:8080",
      backup: false,
      state: "UP",
      up: true,
      admin: "ready",
      ejected: false,
      ejectedUntil: null,
      weight: { configured: 10, agentPct: null, effective: 10 },
      inflight: 2,
      tries: 60,
      retries: 3,
      redispatches: 2,
      clientAborts: 1,
      status: { "1xx": 0, "2xx": 50, "3xx": 4, "4xx": 3, "5xx": 1 },
      failures: {
        "connect-refused": 2,
        "connect-timeout": 0,
        "connect-error": 0,
        "empty-response": 0,
        "header-timeout": 1,
        "bad-response": 0,
        "body-error": 0,
      },
      ejections: 0,
      transitions: 0,
      lastChange: null,
      lastCheck: { ok: true, at: NOW - 3000, ms: 5, detail: "HTTP 200" },
      agent: null,
    });
  });

  it("ejection, transitions, last change, agent and backup fields", () => {
    expect(s.origins[i("ejected")]).toMatchObject({ ejected: true, ejectedUntil: NOW - 1000 + 5000, ejections: 1, up: true });
    expect(s.origins[i("down")]).toMatchObject({ up: false, transitions: 1, lastChange: NOW - 3000 });
    expect(s.origins[i("agentdown")].agent).toEqual({ health: "down", admin: "ready", weightPct: 40, ageMs: 2000 });
    expect(s.origins[i("zero")].backup).toBe(true);
  });

  it("is a copy: later counter increments do not change it", () => {
    const before = JSON.stringify(s);
    c.origins[0].failures["connect-refused"]++;
    c.origins[0].status[2]++;
    c.status[5]++;
    expect(JSON.stringify(s)).toBe(before);
    c.origins[0].failures["connect-refused"]--;
    c.origins[0].status[2]--;
    c.status[5]--;
  });

  it("an ejection that has run out shows UP again; a stale agent report is not shown", () => {
    const later = poolStats("web", cfg, h, c, NOW + 20_000);
    // needs a passing check after the ejection: still ejected by time alone
    expect(later.origins[i("ejected")].state).toBe("EJECTED");
    const checked = reduce(h, { type: "check", origin: i("ejected"), ok: true, at: NOW, startedAt: NOW - 10, ms: 10, detail: "HTTP 200" }, cfg, () => 0);
    expect(poolStats("web", cfg, checked, c, NOW + 20_000).origins[i("ejected")]).toMatchObject({ state: "UP", ejected: false, ejectedUntil: null });
    expect(later.origins[i("agentdown")]).toMatchObject({ state: "UP", agent: null, weight: { configured: 17, agentPct: null, effective: 17 } });
  });

  it("stateLabel: an ejected origin whose last check failed is EJECTED, not UP", () => {
    const s2 = reduce(reduce(h, chk("ejected", true, NOW - 900), cfg, () => 0), chk("ejected", false, NOW - 800), cfg, () => 0);
    expect(stateLabel(s2.origins[i("ejected")], NOW, 2, 3)).toBe("EJECTED");
  });
});

describe("renderStatsHtml", () => {
  const cfg = poolCfg();
  const base = poolStats("web", cfg, health(cfg), counters(), NOW);

  it("one row per origin, with its state and colour", () => {
    const html = renderStatsHtml({ build: "edgelb 0.1.0", startedAt: 0, pools: [base] });
    expect(html.match(/<tr style=/g)?.length).toBe(NAMES.length);
    expect(html.match(/<tr>/g)?.length).toBe(1);
    expect(html).toContain('<tr style="background:#c0f0c0"><td>up</td><td>UP</td><td>ready</td><td>10 / -% / 10</td><td>2</td><td>60</td><td>50</td><td>4</td><td>3</td><td>1</td><td>3</td><td>2</td><td>HTTP 200 in 5ms</td></tr>');
    expect(html).toContain('<tr style="background:#f0a0a0"><td>rising</td><td>DOWN, going up 1/2</td>');
    expect(html).toContain('<tr style="background:#f0d090"><td>ejected</td><td>EJECTED</td>');
    expect(html).toContain('<tr style="background:#a0c0f0"><td>drained</td><td>DRAIN</td><td>drain</td>');
    expect(html).toContain('<tr style="background:#c0c0c0"><td>maint</td><td>MAINT</td><td>maint</td>');
    expect(html).toContain("<td>zero (backup)</td>");
    expect(html).toContain("<td>17 / 40% / 0</td>");
    expect(html).toContain("<h2>web <small>leastconn, 100 requests, 2 without origin, 4 queued</small></h2>");
    expect(html).toContain("<p>edgelb 0.1.0, up since 1970-01-01T00:00:00.000Z</p>");
  });

  it("escapes names, states, check details and the build string", () => {
    const evil = `<script>alert("x")</script>&'`;
    const esc = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;";
    const p: PoolStats = {
      ...base,
      name: evil,
      balance: evil,
      origins: [{ ...base.origins[0], name: evil, state: evil, admin: evil, lastCheck: { ok: false, at: 1, ms: 2, detail: evil } }],
    };
    const html = renderStatsHtml({ build: evil, startedAt: 0, pools: [p] });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain(`"x"`);
    expect(html).toContain(`<h2>${esc} <small>${esc}, `);
    expect(html).toContain(`<td>${esc}</td><td>${esc}</td><td>${esc}</td>`);
    expect(html).toContain(`<td>${esc} in 2ms</td>`);
    expect(html).toContain(`<p>${esc}, up since`);
    expect(html.match(/<tr style=/g)?.length).toBe(1);
  });

  it("renders every pool", () => {
    const html = renderStatsHtml({ build: "b", startedAt: 0, pools: [base, { ...base, name: "api", origins: base.origins.slice(0, 2) }] });
    expect(html.match(/<h2>/g)?.length).toBe(2);
    expect(html.match(/<tr style=/g)?.length).toBe(NAMES.length + 2);
  });
});
