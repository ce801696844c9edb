import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { sign } from "../../core/agent/sign.ts";
import { countBy, killOrigins, load, send, startBalancer, startOrigin, waitFor, type Result, type TestBalancer, type TestOrigin } from "../support/harness.ts";

/** Example secrets for these tests only, set in this process's environment for the in-process balancer. */
const ENV = {
  EDGELB_TEST_AGENT_KEY_WEB01: "whsec_" + Buffer.from("example-agent-key-web01-tests-00").toString("base64"),
  EDGELB_TEST_AGENT_KEY_WEB01_NEXT: "whsec_" + Buffer.from("example-agent-key-web01-next-001").toString("base64"),
  EDGELB_TEST_AGENT_KEY_WEB02: "whsec_" + Buffer.from("example-agent-key-web02-tests-02").toString("base64"),
  EDGELB_TEST_ADMIN_TOKEN: "example-admin-token-for-tests",
};
const KEY1 = ENV.EDGELB_TEST_AGENT_KEY_WEB01;
const KEY1_NEXT = ENV.EDGELB_TEST_AGENT_KEY_WEB01_NEXT;
const KEY2 = ENV.EDGELB_TEST_AGENT_KEY_WEB02;
const TOKEN = ENV.EDGELB_TEST_ADMIN_TOKEN;

let web01: TestOrigin, web02: TestOrigin, web03: TestOrigin;
beforeAll(async () => {
  Object.assign(process.env, ENV);
  [web01, web02, web03] = await Promise.all([startOrigin("web01"), startOrigin("web02"), startOrigin("web03")]);
});
afterAll(async () => {
  for (const k of Object.keys(ENV)) delete process.env[k];
  await killOrigins();
});

/** A balancer on web01 + web02 (agent keys by env var name), admin API on a bearer token unless `admin: false`. */
async function balancer(opts: { check?: Record<string, unknown>; admin?: boolean; weights?: [number, number] } = {}): Promise<TestBalancer> {
  return startBalancer({
    pools: {
      webfarm: {
        origins: [
          { name: "web01", url: web01.url, weight: opts.weights?.[0] ?? 1, agentKeys: ["EDGELB_TEST_AGENT_KEY_WEB01", "EDGELB_TEST_AGENT_KEY_WEB01_NEXT"] },
          { name: "web02", url: web02.url, weight: opts.weights?.[1] ?? 1, agentKeys: ["EDGELB_TEST_AGENT_KEY_WEB02"] },
          // no agentKeys: no report from it is ever accepted; weight 0 keeps it out of the traffic counts
          { name: "web03", url: web03.url, weight: 0 },
        ],
        check: opts.check ?? { enabled: false },
        passive: { enabled: false },
      },
    },
    ...(opts.admin === false ? {} : { admin: { auth: { bearerEnv: "EDGELB_TEST_ADMIN_TOKEN" } } }),
  });
}

async function run(opts: Parameters<typeof balancer>[0], body: (b: TestBalancer) => Promise<void>): Promise<void> {
  const b = await balancer(opts);
  try {
    await body(b);
  } finally {
    await b.close();
  }
}

let lastSeq = 0;
/** A valid v1 report from web01 (or as changed by `extra`), with a fresh seq. */
function report(extra: Record<string, unknown> = {}) {
  return {
    v: 1,
    pool: "webfarm",
    origin: "web01",
    seq: ++lastSeq,
    ts: Date.now(),
    interval: 60_000,
    health: "up",
    admin: "ready",
    weightPct: 100,
    readings: { loadPerCpu: 0.3, cpus: 4, memAvailablePct: 70, swapInPerSec: 0, psi: null, app: { status: 200, ms: 3 } },
    ...extra,
  };
}

/** POSTs a report signed like the agent does; `id`, `ts` (s) and `key` may be overridden, `headers` replaces the signature. */
async function post(b: TestBalancer, body: unknown, opts: { key?: string; id?: string; ts?: number; headers?: Record<string, string> } = {}): Promise<Result> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const signed = opts.headers ?? (await sign(opts.key ?? KEY1, opts.id ?? `rep_${randomUUID()}`, opts.ts ?? Math.floor(Date.now() / 1000), text));
  return send(b.url, { method: "POST", path: "/__edgelb/agent", headers: { "content-type": "application/json", ...signed }, body: text });
}

type OriginRow = {
  name: string;
  state: string;
  up: boolean;
  admin: string;
  weight: { configured: number; agentPct: number | null; effective: number };
  agent: { health: string; admin: string; weightPct: number; ageMs: number } | null;
};
type PoolRow = { name: string; version: number; origins: OriginRow[] };

/** The pool as /__edgelb/stats?format=json shows it. */
async function stats(b: TestBalancer): Promise<PoolRow> {
  const r = await send(b.url, { path: "/__edgelb/stats?format=json" });
  expect(r.status).toBe(200);
  return JSON.parse(r.body).pools[0];
}
const row = async (b: TestBalancer, name = "web01") => (await stats(b)).origins.find((o) => o.name === name)!;

/** What a rejected report or admin call must leave as it was (the agent's age keeps running). */
async function snapshot(b: TestBalancer) {
  const p = await stats(b);
  return { version: p.version, origins: p.origins.map((o) => ({ ...o, agent: o.agent && { ...o.agent, ageMs: 0 }, lastCheck: null, tries: 0, status: null })) };
}

/** Who answered `n` requests. */
async function shares(b: TestBalancer, n = 100): Promise<Record<string, number>> {
  return countBy(await load(b.url, n, 4), (r) => r.origin ?? `error ${r.status} ${r.error}`);
}

describe("agent reports over HTTP (Node build)", () => {
  it("an accepted report lowering weightPct to 25 lowers the effective weight and the share of requests", () =>
    run({}, async (b) => {
      expect(await shares(b, 20)).toEqual({ web01: 10, web02: 10 });
      const r = await post(b, report({ weightPct: 25 }));
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ ok: true });
      const o = await row(b);
      expect(o.weight).toEqual({ configured: 1, agentPct: 25, effective: 0.25 });
      expect(o.agent).toMatchObject({ health: "up", admin: "ready", weightPct: 25 });
      expect(o.state).toBe("UP");
      // 0.25 : 1 -> one request in five
      const by = await shares(b, 100);
      expect(by.web01 + by.web02).toBe(100);
      expect(by.web01).toBeGreaterThanOrEqual(18);
      expect(by.web01).toBeLessThanOrEqual(22);
    }));

  it("accepts both keys of a rotation, and a later report replaces the earlier one", () =>
    run({}, async (b) => {
      expect((await post(b, report({ weightPct: 25 }), { key: KEY1_NEXT })).status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0.25);
      expect((await post(b, report({ weightPct: 50 }), { key: KEY1 })).status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0.5);
      expect((await post(b, report({ origin: "web02", weightPct: 10 }), { key: KEY2 })).status).toBe(200);
      expect((await row(b, "web02")).weight).toEqual({ configured: 1, agentPct: 10, effective: 0.1 });
    }));

  it("drain takes the origin out of rotation; ready brings it back", () =>
    run({}, async (b) => {
      expect((await post(b, report({ admin: "drain" }))).status).toBe(200);
      let o = await row(b);
      expect(o.state).toBe("DRAIN");
      expect(o.weight.effective).toBe(0);
      expect(await shares(b, 20)).toEqual({ web02: 20 });
      expect((await post(b, report({ admin: "maint" }))).status).toBe(200);
      expect((await row(b)).state).toBe("MAINT");
      expect(await shares(b, 10)).toEqual({ web02: 10 });
      expect((await post(b, report({ admin: "ready" }))).status).toBe(200);
      o = await row(b);
      expect(o.state).toBe("UP");
      expect(await shares(b, 20)).toEqual({ web01: 10, web02: 10 });
    }));

  it.each(["down", "fail", "stopped"])("health %s takes the origin out", (health) =>
    run({}, async (b) => {
      expect((await post(b, report({ health }))).status).toBe(200);
      const o = await row(b);
      expect(o.state).toBe("DOWN (agent)");
      expect(o.up).toBe(true); // the checks' verdict is its own
      expect(o.weight.effective).toBe(0);
      expect(await shares(b, 20)).toEqual({ web02: 20 });
    }));

  it("weightPct 0 takes the origin out", () =>
    run({}, async (b) => {
      expect((await post(b, report({ weightPct: 0 }))).status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0);
      expect(await shares(b, 20)).toEqual({ web02: 20 });
    }));

  it("the agent's `up` does not bring back an origin its checks hold down", async () => {
    await web01.setMode({ mode: "ok", status: 503 });
    try {
      await run({ check: { interval: "100ms", timeout: "100ms", rise: 1, fall: 1 } }, async (b) => {
        await waitFor(async () => !(await row(b)).up, 3000);
        expect((await post(b, report({ health: "up", admin: "ready", weightPct: 100 }))).status).toBe(200);
        const o = await row(b);
        expect(o.agent).toMatchObject({ health: "up" });
        expect(o.up).toBe(false);
        expect(o.state).toMatch(/^DOWN/);
        expect(o.weight.effective).toBe(0);
        expect(await shares(b, 20)).toEqual({ web02: 20 });
      });
    } finally {
      await web01.setMode({ mode: "ok" });
    }
  });

  it("no report raises the weight above the configured one: 100 % is the configured weight, over 100 is refused", () =>
    run({ weights: [3, 1] }, async (b) => {
      expect((await post(b, report({ weightPct: 25 }))).status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0.75);
      expect((await post(b, report({ weightPct: 100 }))).status).toBe(200);
      expect((await row(b)).weight).toEqual({ configured: 3, agentPct: 100, effective: 3 });
      const before = await snapshot(b);
      const r = await post(b, report({ weightPct: 400 }));
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ error: "invalid report", problems: ["weightPct: must be 0-100"] });
      expect(await snapshot(b)).toEqual(before);
      const by = await shares(b, 100);
      expect(by.web01).toBeGreaterThanOrEqual(73);
      expect(by.web01).toBeLessThanOrEqual(77);
    }));

  describe("a rejected report changes nothing", () => {
    let b: TestBalancer;
    let acceptedId: string;
    let acceptedSeq: number;
    beforeAll(async () => {
      b = await balancer();
      acceptedId = `rep_${randomUUID()}`;
      const r = report({ weightPct: 50 });
      acceptedSeq = r.seq;
      expect((await post(b, r, { id: acceptedId })).status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0.5);
    });
    afterAll(() => b.close());

    /** Runs `attempt`, expects `status`, and that stats did not move. */
    async function rejected(attempt: () => Promise<Result>, status: number): Promise<Result> {
      const before = await snapshot(b);
      const r = await attempt();
      expect(r.status).toBe(status);
      expect(await snapshot(b)).toEqual(before);
      expect((await row(b)).weight).toEqual({ configured: 1, agentPct: 50, effective: 0.5 });
      return r;
    }

    it("forged signature -> 401 without detail", async () => {
      const r = await rejected(
        () => post(b, report({ weightPct: 5 }), { headers: { "webhook-id": "rep_forged", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": `v1,${Buffer.alloc(32, 7).toString("base64")}` } }),
        401,
      );
      expect(r.body).toBe("Unauthorized\n");
    });

    it("no signature headers -> 401", () => rejected(() => post(b, report({ weightPct: 5 }), { headers: {} }), 401));

    it("another origin's key, or a key nobody configured -> 401", async () => {
      await rejected(() => post(b, report({ weightPct: 5 }), { key: KEY2 }), 401);
      await rejected(() => post(b, report({ weightPct: 5 }), { key: "whsec_" + Buffer.from("example-key-of-nobody-at-all-000").toString("base64") }), 401);
    });

    it("an origin without agentKeys accepts nothing -> 401", async () => {
      for (const key of [KEY1, KEY2, "x"]) await rejected(() => post(b, report({ origin: "web03", weightPct: 5 }), { key }), 401);
    });

    it("a signed body changed on the way -> 401", async () => {
      const text = JSON.stringify(report({ weightPct: 90 }));
      const h = await sign(KEY1, `rep_${randomUUID()}`, Math.floor(Date.now() / 1000), text);
      await rejected(() => post(b, text.replace('"weightPct":90', '"weightPct":5'), { headers: h }), 401);
    });

    it("replayed id -> 401 (even re-signed with a new seq)", async () => {
      await rejected(() => post(b, report({ weightPct: 5 }), { id: acceptedId }), 401);
    });

    it("timestamp older or newer than 300 s -> 401", async () => {
      const now = Math.floor(Date.now() / 1000);
      await rejected(() => post(b, report({ weightPct: 5 }), { ts: now - 302 }), 401);
      await rejected(() => post(b, report({ weightPct: 5 }), { ts: now + 302 }), 401);
    });

    it("seq equal to or lower than the last accepted -> 409", async () => {
      let r = await rejected(() => post(b, report({ weightPct: 5, seq: acceptedSeq })), 409);
      expect(JSON.parse(r.body).error).toMatch(/seq must grow/);
      r = await rejected(() => post(b, report({ weightPct: 5, seq: acceptedSeq - 1 })), 409);
      expect(JSON.parse(r.body).error).toMatch(/seq must grow/);
    });

    it("oversize body -> 413, with a length or chunked", async () => {
      const big = JSON.stringify(report({ weightPct: 5, reason: "x" })).replace('"reason":"x"', `"reason":"x"${" ".repeat(5000)}`);
      await rejected(() => post(b, big), 413);
      // chunked: no content-length to refuse on, the body is cut off after 4 KiB
      await rejected(async () => {
        const text = JSON.stringify(report({ weightPct: 5 }));
        const headers = await sign(KEY1, `rep_${randomUUID()}`, Math.floor(Date.now() / 1000), text);
        async function* chunks() {
          for (let i = 0; i < 64; i++) yield Buffer.alloc(1024, 0x20);
          yield Buffer.from(text);
        }
        const r = await request(`${b.url}/__edgelb/agent`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: Readable.from(chunks()) });
        const body = await r.body.text();
        return { status: r.statusCode, origin: null, body, error: null, headers: r.headers };
      }, 413);
      // a chunked body that never ends: answered once 4 KiB have arrived, not buffered for ever
      await rejected(async () => {
        const ac = new AbortController();
        async function* endless() {
          for (let i = 0; !ac.signal.aborted && i < 100_000; i++) {
            yield Buffer.alloc(1024, 0x20);
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        const t0 = Date.now();
        const r = await request(`${b.url}/__edgelb/agent`, { method: "POST", headers: { "content-type": "application/json" }, body: Readable.from(endless()), signal: ac.signal });
        const body = await r.body.text();
        ac.abort();
        expect(Date.now() - t0).toBeLessThan(2000);
        return { status: r.statusCode, origin: null, body, error: null, headers: r.headers };
      }, 413);
      // a report of exactly 4096 bytes is fine
      const r = report({ weightPct: 50 });
      const text = JSON.stringify(r);
      expect((await post(b, text + " ".repeat(4096 - text.length))).status).toBe(200);
    });

    it("bogus values, correctly signed -> 400 listing every problem", async () => {
      const r = await rejected(() => post(b, { ...report({ weightPct: 250, health: "great", admin: "later", interval: 1, seq: -3 }), bogus: true }), 400);
      expect(JSON.parse(r.body)).toEqual({
        error: "invalid report",
        problems: ["seq: must be >= 0", "interval: must be 100-600000 ms", "health: must be up, down, fail or stopped", "admin: must be ready, drain or maint", "weightPct: must be 0-100", "bogus: is not a known key"],
      });
    });

    it("not JSON, or from no configured pool or origin -> 400 naming it", async () => {
      let r = await rejected(() => post(b, "{weightPct: 5"), 400);
      expect(JSON.parse(r.body).problems).toEqual(["(report): is not valid JSON"]);
      r = await rejected(() => post(b, report({ origin: "web99", weightPct: 5 })), 400);
      expect(JSON.parse(r.body).problems).toEqual(['origin: names no origin of pool webfarm, got "web99"']);
      r = await rejected(() => post(b, report({ pool: "other", weightPct: 5 })), 400);
      expect(JSON.parse(r.body).problems).toEqual(['pool: names no pool in this config, got "other"']);
    });

    it("GET on the agent path changes nothing", async () => {
      await rejected(() => send(b.url, { path: "/__edgelb/agent" }), 404);
    });
  });

  it("a report older than its TTL stops counting: the weight returns and a silent agent never takes an origin down", () =>
    run({}, async (b) => {
      // interval 100 ms -> counts for 300 ms
      expect((await post(b, report({ interval: 100, weightPct: 25 }))).status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0.25);
      expect((await post(b, report({ origin: "web02", interval: 100, health: "down" }), { key: KEY2 })).status).toBe(200);
      const t0 = Date.now();
      expect((await row(b, "web02")).state).toBe("DOWN (agent)");
      expect(await shares(b, 10)).toEqual({ web01: 10 });
      await new Promise((r) => setTimeout(r, 400));
      expect(Date.now() - t0).toBeGreaterThan(300);
      const p = await stats(b);
      for (const o of p.origins.slice(0, 2)) {
        expect(o.agent).toBeNull();
        expect(o.weight).toEqual({ configured: 1, agentPct: null, effective: 1 });
        expect(o.state).toBe("UP");
        expect(o.up).toBe(true);
      }
      expect(await shares(b, 20)).toEqual({ web01: 10, web02: 10 });
    }));

  it("reports survive a reload that moves the origin: the origin is found by name", () =>
    run({}, async (b) => {
      const cfg = structuredClone(b.lb.config);
      cfg.pools.webfarm.origins.reverse();
      b.lb.reload(cfg);
      expect((await post(b, report({ weightPct: 25 }))).status).toBe(200);
      const p = await stats(b);
      expect(p.origins.map((o) => o.name)).toEqual(["web03", "web02", "web01"]);
      expect(p.origins[2].weight.effective).toBe(0.25);
      expect(p.origins[1].weight.effective).toBe(1);
    }));
});

describe("admin API (Node build)", () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const admin = (b: TestBalancer, path: string, opts: { headers?: Record<string, string>; body?: string; method?: string } = {}) =>
    send(b.url, { method: opts.method ?? "POST", path: `/__edgelb/admin/${path}`, headers: { ...auth, ...opts.headers }, body: opts.body });

  it("drain, maint and ready change stats and traffic", () =>
    run({}, async (b) => {
      let r = await admin(b, "webfarm/web01/drain");
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ ok: true, pool: "webfarm", origin: "web01", admin: "drain" });
      expect(await row(b)).toMatchObject({ admin: "drain", state: "DRAIN", weight: { effective: 0 } });
      expect(await shares(b, 20)).toEqual({ web02: 20 });
      expect(b.log.lines.some((l) => l.event === "admin" && l.origin === "web01" && l.admin === "drain")).toBe(true);
      r = await admin(b, "webfarm/web01/maint");
      expect(r.status).toBe(200);
      expect(await row(b)).toMatchObject({ admin: "maint", state: "MAINT" });
      expect(await shares(b, 10)).toEqual({ web02: 10 });
      r = await admin(b, "webfarm/web01/ready");
      expect(r.status).toBe(200);
      expect(await row(b)).toMatchObject({ admin: "ready", state: "UP", weight: { effective: 1 } });
      expect(await shares(b, 20)).toEqual({ web01: 10, web02: 10 });
    }));

  it("weight changes the configured weight, and the share", () =>
    run({}, async (b) => {
      let r = await admin(b, "webfarm/web01/weight", { body: JSON.stringify({ weight: 3 }), headers: { "content-type": "application/json" } });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ ok: true, pool: "webfarm", origin: "web01", weight: 3 });
      expect((await row(b)).weight).toEqual({ configured: 3, agentPct: null, effective: 3 });
      const by = await shares(b, 100);
      expect(by.web01).toBeGreaterThanOrEqual(73);
      expect(by.web01).toBeLessThanOrEqual(77);
      r = await admin(b, "webfarm/web01/weight", { body: JSON.stringify({ weight: 0 }) });
      expect(r.status).toBe(200);
      expect((await row(b)).weight.effective).toBe(0);
      expect(await shares(b, 10)).toEqual({ web02: 10 });
      // an agent's share applies to the weight the admin set
      r = await admin(b, "webfarm/web01/weight", { body: JSON.stringify({ weight: 4 }) });
      expect((await post(b, report({ weightPct: 25 }))).status).toBe(200);
      expect((await row(b)).weight).toEqual({ configured: 4, agentPct: 25, effective: 1 });
    }));

  describe("refusals change nothing", () => {
    let b: TestBalancer;
    beforeAll(async () => {
      b = await balancer();
    });
    afterAll(() => b.close());

    async function refused(attempt: () => Promise<Result>, status: number): Promise<Result> {
      const before = await snapshot(b);
      const r = await attempt();
      expect(r.status).toBe(status);
      expect(await snapshot(b)).toEqual(before);
      return r;
    }

    it("wrong or missing token -> 401", async () => {
      for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, "Bearer ", `Basic ${Buffer.from(`admin:${TOKEN}`).toString("base64")}`, TOKEN, `Token ${TOKEN}`]) {
        const r = await refused(() => admin(b, "webfarm/web01/drain", { headers: { authorization } }), 401);
        expect(r.body).toBe("Unauthorized\n");
      }
      await refused(() => send(b.url, { method: "POST", path: "/__edgelb/admin/webfarm/web01/drain" }), 401);
      await refused(() => send(b.url, { method: "POST", path: "/__edgelb/admin/webfarm/web01/weight", body: '{"weight":9}' }), 401);
      // an unknown origin is not told apart from a known one without the token
      await refused(() => send(b.url, { method: "POST", path: "/__edgelb/admin/webfarm/web99/drain" }), 401);
    });

    it("GET or HEAD on an admin path -> 405 (Allow: POST), nothing changes", async () => {
      for (const method of ["GET", "HEAD"]) {
        await refused(() => admin(b, "webfarm/web01/drain", { method }), 405);
        await refused(() => admin(b, "webfarm/web01/maint", { method }), 405);
      }
    });

    it("unknown pool, origin or action -> 404", async () => {
      let r = await refused(() => admin(b, "webfarm/web99/drain"), 404);
      expect(JSON.parse(r.body).error).toBe('no origin "web99" in pool "webfarm"');
      await refused(() => admin(b, "other/web01/drain"), 404);
      for (const action of ["stop", "constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"]) {
        r = await refused(() => admin(b, `webfarm/web01/${action}`), 404);
        expect(JSON.parse(r.body).error).toMatch(/^unknown action/);
      }
    });

    it("bad weight -> 400", async () => {
      for (const body of ['{"weight":257}', '{"weight":-1}', '{"weight":1.5}', '{"weight":"3"}', '{"weight":null}', "{}", "[3]", "3", "not json", ""]) {
        const r = await refused(() => admin(b, "webfarm/web01/weight", { body }), 400);
        expect(JSON.parse(r.body).error).toMatch(/^weight: must be an integer 0-256/);
      }
    });
  });

  it("no admin.auth in the config -> 403 for everyone, token or not", () =>
    run({ admin: false }, async (b) => {
      const before = await snapshot(b);
      expect((await admin(b, "webfarm/web01/drain")).status).toBe(403);
      expect((await admin(b, "webfarm/web01/drain", { headers: { authorization: "" } })).status).toBe(403);
      expect((await admin(b, "webfarm/web01/weight", { body: '{"weight":5}' })).status).toBe(403);
      expect(await snapshot(b)).toEqual(before);
    }));

  it("the token's variable unset -> 401 for every token", async () => {
    await run({}, async (b) => {
      delete process.env.EDGELB_TEST_ADMIN_TOKEN;
      try {
        const before = await snapshot(b);
        expect((await admin(b, "webfarm/web01/drain")).status).toBe(401);
        expect((await admin(b, "webfarm/web01/drain", { headers: { authorization: "Bearer " } })).status).toBe(401);
        expect((await admin(b, "webfarm/web01/drain", { headers: { authorization: "Bearer undefined" } })).status).toBe(401);
        expect(await snapshot(b)).toEqual(before);
      } finally {
        process.env.EDGELB_TEST_ADMIN_TOKEN = TOKEN;
      }
    });
  });
});
