import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import type { PoolConfig } from "../../core/config/schema.ts";
import { initialHealth, reduce, type HealthEvent, type PoolHealth } from "../../core/health/state.ts";
import { PoolCounters } from "../../core/stats/counters.ts";
import { age, renderStatsHtml } from "../../core/stats/html.ts";
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
  Object.assign(o, { tries: 60, inflight: 2, retries: 3, redispatches: 2, clientAborts: 1, bytesOut: 12345, tunnels: 1, tunnelsTotal: 7 });
  Object.assign(c.origins[1], { tunnels: 2, tunnelsTotal: 3 });
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
      tunnels: 3,
      tunnelsTotal: 10,
      status: { "1xx": 1, "2xx": 80, "3xx": 5, "4xx": 10, "5xx": 4 },
      duration: {
        buckets: ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"].map((le) => ({ le, count: 0 })),
        sum: 0,
        count: 0,
      },
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
      unavailable: null,
      weight: { configured: 10, agentPct: null, effective: 10 },
      inflight: 2,
      maxconn: 0,
      tries: 60,
      retries: 3,
      redispatches: 2,
      clientAborts: 1,
      bytesOut: 12345,
      tunnels: 1,
      tunnelsTotal: 7,
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
      downMs: 0,
      lastCheck: { ok: true, at: NOW - 3000, ms: 5, detail: "HTTP 200" },
      agent: null,
    });
  });

  it("ejection, transitions, last change, agent and backup fields", () => {
    expect(s.origins[i("ejected")]).toMatchObject({ ejected: true, ejectedUntil: NOW - 1000 + 5000, ejections: 1, up: true });
    expect(s.origins[i("down")]).toMatchObject({ up: false, transitions: 1, lastChange: NOW - 3000, downMs: 3000, unavailable: "down" });
    expect(s.origins.map((o) => o.unavailable)).toEqual([null, "down", "down", "drain", "maint", "ejected", null, "agent-down", "weight-0"]);
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
  const page = (p: PoolStats[] = [base], build = "edgelb 0.1.0") => renderStatsHtml({ build, startedAt: 0, pools: p }, NOW);
  /** The <tr> of origin `name` (its opening tag and cells). */
  const row = (html: string, name: string) => html.match(new RegExp(`<tr class="[^"]*" data-pool="web" data-origin="${name}">.*?</tr>`))?.[0] ?? "";
  const cells = (tr: string) => [...tr.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1].replace(/<[^>]+>/g, ""));

  it("one row per origin, classed by state (the class sets the colour), plus a pool total", () => {
    const html = page();
    expect(html.match(/<tr class="[^"]*" data-pool="web" data-origin="[^"]+">/g)?.length).toBe(NAMES.length);
    expect(html.match(/<tr class="total /g)?.length).toBe(1);
    const cls = (name: string) => row(html, name).match(/^<tr class="([^"]*)"/)?.[1];
    expect(NAMES.map(cls)).toEqual(["st-up", "st-down", "st-going-up", "st-drain", "st-maint", "st-ejected", "st-going-down", "st-down", "st-up backup"]);
    // every state class has its own background colour in the page's style sheet
    for (const c of ["st-up", "st-down", "st-going-up", "st-drain", "st-maint", "st-ejected", "st-going-down"]) expect(html).toMatch(new RegExp(`\\.${c} td,[^{]*\\{background:#[0-9a-f]{6}\\}`));
    expect(html).toContain(".st-up td,.legend .st-up{background:#c0f0c0}");
    expect(html).toContain(".st-down td,.legend .st-down{background:#f0a0a0}");
  });

  it("the full row of an origin: state, check, weights, sessions, responses, errors, warnings", () => {
    expect(cells(row(page(), "up"))).toEqual([
      "up", "UP", "HTTP 200 in 5ms, 3s ago", "-", "-", "ready",
      "10", "-", "10", // weight cfg / agent / eff
      "2", "-", "60", // sessions cur / max / total
      "1", "7", // tunnels open / total
      "50", "4", "3", "1", // 2xx..5xx
      "2", "1", "1", // conn errors, resp errors, client aborts
      "3", "2", "0", // retries, redispatches, ejections
      "-", "-", // agent
    ]);
    const down = cells(row(page(), "down"));
    expect(down.slice(0, 6)).toEqual(["down", "DOWN", "HTTP 503 in 5ms, 3s ago", "3s ago", "3s", "ready"]);
    expect(cells(row(page(), "agentdown")).slice(-2)).toEqual(["down ready 40%", "2s"]);
    expect(cells(row(page(), "agentdown")).slice(6, 9)).toEqual(["17", "40%", "0"]);
    expect(row(page(), "zero")).toContain("zero <i>(backup)</i>");
  });

  it("the pool total row and the pool's facts", () => {
    const html = page();
    const total = cells(html.match(/<tr class="total [^"]*".*?<\/tr>/)![0]);
    expect(total.slice(0, 3)).toEqual(["pool total", "UP", "2/9 taking requests"]);
    expect(total.slice(9, 18)).toEqual(["2", "queue 4", "100", "3", "10", "80", "5", "10", "4"]);
    expect(html).toContain("<h2>web</h2><p class=\"facts\">leastconn · requests 100 · queued 4 · without origin 2 · queue timeouts 3 · retries refused by the budget 5</p>");
    expect(html).toContain("<p>edgelb 0.1.0, up since 1970-01-01T00:00:00.000Z (33m20s); page made");
  });

  it("refreshes itself (meta refresh, 5 s by default), fits a phone, loads nothing from elsewhere", () => {
    const html = page();
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
    expect(html).toContain('<div class="scroll"><table>');
    expect(html).toContain(".scroll{overflow-x:auto");
    expect(html).not.toMatch(/<script|src=|url\(|@import|href="(https?:)?\/\//);
    expect(html.match(/<link[^>]*>/g)).toEqual(['<link rel="icon" href="data:,">']);
    expect(renderStatsHtml({ build: "b", startedAt: 0, pools: [base] }, NOW, 2)).toContain('<meta http-equiv="refresh" content="2">');
    expect(renderStatsHtml({ build: "b", startedAt: 0, pools: [base] }, NOW, 0)).not.toContain("http-equiv");
  });

  it("escapes names, states, check details and the build string", () => {
    const evil = `<script>alert("x")</script>&'`;
    const esc = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;";
    const p: PoolStats = {
      ...base,
      name: evil,
      balance: evil,
      origins: [{ ...base.origins[0], name: evil, url: evil, state: evil, admin: evil, lastCheck: { ok: false, at: 1, ms: 2, detail: evil } }],
    };
    const html = page([p], evil);
    expect(html).not.toContain("<script>");
    expect(html).not.toContain(`"x"`);
    expect(html).toContain(`<h2>${esc}</h2><p class="facts">${esc} · `);
    expect(html).toContain(`data-pool="${esc}" data-origin="${esc}"><td class="name" title="${esc}">${esc}</td><td class="state">${esc}</td>`);
    expect(html).toContain(`<span class="bad">${esc}</span> in 2ms`);
    expect(html).toContain(`<td class="admin">${esc}</td>`);
    expect(html).toContain(`<p>${esc}, up since`);
  });

  it("renders every pool", () => {
    const html = page([base, { ...base, name: "api", origins: base.origins.slice(0, 2) }]);
    expect(html.match(/<h2>/g)?.length).toBe(2);
    expect(html.match(/ data-origin="[^"]+">/g)?.length).toBe(NAMES.length + 2);
  });

  it("a refused reload is shown", () => {
    const html = renderStatsHtml({ build: "b", startedAt: 0, pools: [base], reload: { applied: 1, refused: 1, last: { at: 0, ok: false, file: "f", problems: ["pools.web.origins[0].weight: must be 0-256, got 1000"] } } }, NOW);
    expect(html).toContain('<p class="alert">config reload refused 1970-01-01T00:00:00.000Z, the running config keeps serving: pools.web.origins[0].weight: must be 0-256, got 1000</p>');
  });

  it("age() writes durations for people", () => {
    expect([0, 850, 1000, 59_999, 60_000, 185_000, 3_600_000, 7_500_000, 90_000_000, -1].map(age)).toEqual(["0ms", "850ms", "1s", "59s", "1m00s", "3m05s", "1h00m", "2h05m", "1d01h", "-"]);
  });
});
