import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AgentLedger, checkReport, MAX_REPORT_BYTES, type Verdict } from "../../core/agent/ingest.ts";
import { parseReport, reportTtl } from "../../core/agent/report.ts";
import { HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign, TOLERANCE_S, verifySignature } from "../../core/agent/sign.ts";
import type { SecretLookup } from "../../core/auth/index.ts";
import { parseConfig } from "../../core/config/parse.ts";
import type { Config } from "../../core/config/schema.ts";
import { effectiveWeight, freshAgent, unavailable } from "../../core/health/state.ts";
import { HealthStore } from "../../core/health/store.ts";

/** Example keys for tests only: never used anywhere else. */
const KEY_A = "whsec_" + Buffer.from("example-key-a-for-tests-only-000").toString("base64");
const KEY_A_NEXT = "whsec_" + Buffer.from("example-key-a-next-for-tests-001").toString("base64");
const KEY_B = "whsec_" + Buffer.from("example-key-b-for-tests-only-002").toString("base64");
const KEY_OTHER = "whsec_" + Buffer.from("example-key-nobody-has-this-0003").toString("base64");

const NOW = 1_750_000_000_000; // ms
const NOW_S = NOW / 1000;

/** HMAC-SHA256 computed with node:crypto, independently of core/agent/sign.ts. */
function reference(key: string, id: string, ts: number | string, body: string): string {
  const k = key.startsWith("whsec_") ? Buffer.from(key.slice(6), "base64") : Buffer.from(key, "utf8");
  return "v1," + createHmac("sha256", k).update(`${id}.${ts}.${body}`).digest("base64");
}

const hdrs = (h: Record<string, string>) => ({ id: h[HEADER_ID] ?? null, timestamp: h[HEADER_TIMESTAMP] ?? null, signature: h[HEADER_SIGNATURE] ?? null });

describe("sign / verifySignature (Standard Webhooks)", () => {
  it("reproduces the Standard Webhooks specification's test vector", async () => {
    const h = await sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(h).toEqual({
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
    expect(await verifySignature(hdrs(h), '{"test": 2432232314}', ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], 1614265330_000)).toEqual({ ok: true });
  });

  it.each([
    ["a whsec_ key (base64 bytes)", KEY_A],
    ["a raw key (UTF-8 bytes)", "example raw key, blåbær"],
  ])("signs HMAC-SHA256 over id.timestamp.body with %s", async (_, key) => {
    const body = '{"x":"æøå"}';
    const h = await sign(key, "rep_1", NOW_S, body);
    expect(h[HEADER_SIGNATURE]).toBe(reference(key, "rep_1", NOW_S, body));
    expect(await verifySignature(hdrs(h), body, [key], NOW)).toEqual({ ok: true });
  });

  it("rejects a changed body, id or timestamp", async () => {
    const h = await sign(KEY_A, "rep_1", NOW_S, "{}");
    expect(await verifySignature(hdrs(h), "{} ", [KEY_A], NOW)).toEqual({ ok: false, why: "signature" });
    expect(await verifySignature({ ...hdrs(h), id: "rep_2" }, "{}", [KEY_A], NOW)).toEqual({ ok: false, why: "signature" });
    expect(await verifySignature({ ...hdrs(h), timestamp: String(NOW_S + 1) }, "{}", [KEY_A], NOW)).toEqual({ ok: false, why: "signature" });
  });

  it("accepts any of several signatures in the header, and ignores other versions", async () => {
    const good = (await sign(KEY_A, "rep_1", NOW_S, "{}"))[HEADER_SIGNATURE];
    const other = (await sign(KEY_OTHER, "rep_1", NOW_S, "{}"))[HEADER_SIGNATURE];
    const b64 = good.slice(3);
    for (const sig of [`${other} ${good}`, `${good} ${other}`, `v1a,${b64} ${good}`, `v2,AAAA  ${good}`, `${other},  ${good}`, `${good}, ${other}`]) {
      expect(await verifySignature({ id: "rep_1", timestamp: String(NOW_S), signature: sig }, "{}", [KEY_A], NOW), sig).toEqual({ ok: true });
    }
    // the right MAC under another version label is not a v1 signature
    for (const sig of [`v1a,${b64}`, `v2,${b64}`, b64, `V1,${b64}`, `v1;${b64}`, other]) {
      expect(await verifySignature({ id: "rep_1", timestamp: String(NOW_S), signature: sig }, "{}", [KEY_A], NOW), sig).toEqual({ ok: false, why: "signature" });
    }
  });

  it("accepts either of two keys during a rotation, and neither of them alone for the other's signature", async () => {
    const byOld = await sign(KEY_A, "rep_1", NOW_S, "{}");
    const byNew = await sign(KEY_A_NEXT, "rep_1", NOW_S, "{}");
    expect(await verifySignature(hdrs(byOld), "{}", [KEY_A, KEY_A_NEXT], NOW)).toEqual({ ok: true });
    expect(await verifySignature(hdrs(byNew), "{}", [KEY_A, KEY_A_NEXT], NOW)).toEqual({ ok: true });
    expect(await verifySignature(hdrs(byNew), "{}", [KEY_A], NOW)).toEqual({ ok: false, why: "signature" });
    expect(await verifySignature(hdrs(byOld), "{}", [KEY_A_NEXT], NOW)).toEqual({ ok: false, why: "signature" });
    // an agent in the middle of a rotation may send both
    const both = { ...hdrs(byOld), signature: `${byOld[HEADER_SIGNATURE]} ${byNew[HEADER_SIGNATURE]}` };
    expect(await verifySignature(both, "{}", [KEY_A_NEXT], NOW)).toEqual({ ok: true });
    expect(await verifySignature(hdrs(await sign(KEY_OTHER, "rep_1", NOW_S, "{}")), "{}", [KEY_A, KEY_A_NEXT], NOW)).toEqual({ ok: false, why: "signature" });
  });

  it.each([
    ["exactly 300 s old", -TOLERANCE_S * 1000, true],
    ["exactly 300 s ahead", TOLERANCE_S * 1000, true],
    ["299.999 s old", -299_999, true],
    ["300.001 s old", -300_001, false],
    ["300.001 s ahead", 300_001, false],
    ["an hour old", -3_600_000, false],
    ["an hour ahead", 3_600_000, false],
  ])("timestamp %s -> %s", async (_, skewMs, ok) => {
    // the receiver's clock is NOW - skew, so the timestamp is skew away from it
    const h = await sign(KEY_A, "rep_1", NOW_S, "{}");
    expect(await verifySignature(hdrs(h), "{}", [KEY_A], NOW - skewMs)).toEqual(ok ? { ok: true } : { ok: false, why: "timestamp" });
  });

  it.each([
    ["no id", { id: null }],
    ["empty id", { id: "" }],
    ["id with a space", { id: "rep 1" }],
    ["id with a slash", { id: "rep/1" }],
    ["id of 129 characters", { id: "x".repeat(129) }],
    ["no timestamp", { timestamp: null }],
    ["empty timestamp", { timestamp: "" }],
    ["timestamp in exponent form", { timestamp: "1.75e9" }],
    ["negative timestamp", { timestamp: "-1750000000" }],
    ["timestamp with a space", { timestamp: " 1750000000" }],
    ["timestamp with a fraction", { timestamp: "1750000000.5" }],
    ["timestamp in ms (13 digits)", { timestamp: "1750000000000" }],
    ["no signature", { signature: null }],
    ["empty signature", { signature: "" }],
  ])("malformed headers: %s -> headers", async (_, change) => {
    const h = hdrs(await sign(KEY_A, "rep_1", NOW_S, "{}"));
    expect(await verifySignature({ ...h, ...change }, "{}", [KEY_A], NOW)).toEqual({ ok: false, why: "headers" });
  });

  it("an id of 128 allowed characters is fine", async () => {
    const id = "msg_A-z.0:9".padEnd(128, "x");
    expect(await verifySignature(hdrs(await sign(KEY_A, id, NOW_S, "{}")), "{}", [KEY_A], NOW)).toEqual({ ok: true });
  });

  it.each([["v1,"], ["v1"], ["v1,not base64!"], ["v1,AAAA"], ["v1," + "A".repeat(43) + "=" + "A"], [" "], ["v1, v1,"]])(
    "malformed signature %j -> signature",
    async (signature) => {
      expect(await verifySignature({ id: "rep_1", timestamp: String(NOW_S), signature }, "{}", [KEY_A], NOW)).toEqual({ ok: false, why: "signature" });
    },
  );

  it("a MAC cut to 16 bytes or padded to 33 does not verify", async () => {
    const mac = Buffer.from((await sign(KEY_A, "rep_1", NOW_S, "{}"))[HEADER_SIGNATURE].slice(3), "base64");
    for (const bytes of [mac.subarray(0, 16), Buffer.concat([mac, Buffer.from([0])])]) {
      expect(await verifySignature({ id: "rep_1", timestamp: String(NOW_S), signature: `v1,${bytes.toString("base64")}` }, "{}", [KEY_A], NOW)).toEqual({ ok: false, why: "signature" });
    }
  });

  it("no keys, empty keys and keys that are not keys never verify and never throw; a good key beside them still does", async () => {
    const h = hdrs(await sign(KEY_A, "rep_1", NOW_S, "{}"));
    for (const keys of [[], [""], ["whsec_"], ["whsec_!!!not base64"], ["", "whsec_", "whsec_%%"]]) {
      await expect(verifySignature(h, "{}", keys, NOW), JSON.stringify(keys)).resolves.toEqual({ ok: false, why: "signature" });
    }
    expect(await verifySignature(h, "{}", ["whsec_!!!", "", "whsec_", KEY_A], NOW)).toEqual({ ok: true });
    // and a second call (import failures are not cached as keys)
    expect(await verifySignature(h, "{}", ["whsec_!!!", KEY_A], NOW)).toEqual({ ok: true });
  });

  it("an empty signature over an empty key cannot be forged: a whsec_ key of zero bytes throws on signing", async () => {
    await expect(sign("whsec_", "rep_1", NOW_S, "{}")).rejects.toThrow();
    await expect(sign("", "rep_1", NOW_S, "{}")).rejects.toThrow();
  });
});

/** A complete, valid report for origin `a` of pool `web`. */
function report(extra: Record<string, unknown> = {}) {
  return {
    v: 1,
    pool: "web",
    origin: "a",
    seq: 1,
    ts: NOW,
    interval: 2000,
    health: "up",
    admin: "ready",
    weightPct: 100,
    readings: {
      loadPerCpu: 0.42,
      cpus: 8,
      memAvailablePct: 61.5,
      swapInPerSec: 0,
      psi: { cpu: 1.2, memory: 0, io: 3.5 },
      app: { status: 200, ms: 12.5 },
    },
    ...extra,
  };
}
const readings = (extra: Record<string, unknown>) => ({ readings: { ...report().readings, ...extra } });

describe("parseReport", () => {
  it("accepts a complete report, readings the agent could not take as null, and an optional reason", () => {
    expect(parseReport(report())).toEqual({ ok: true, report: report() });
    const nulls = readings({ loadPerCpu: null, cpus: null, memAvailablePct: null, swapInPerSec: null, psi: null, app: null });
    expect(parseReport(report(nulls)).ok).toBe(true);
    expect(parseReport(report(readings({ psi: { cpu: null, memory: null, io: null }, app: { status: 0, ms: 0 } }))).ok).toBe(true);
    expect(parseReport(report({ reason: "load 3.1/cpu" })).ok).toBe(true);
    for (const health of ["up", "down", "fail", "stopped"]) expect(parseReport(report({ health })).ok).toBe(true);
    for (const admin of ["ready", "drain", "maint"]) expect(parseReport(report({ admin })).ok).toBe(true);
    for (const weightPct of [0, 0.5, 25, 100]) expect(parseReport(report({ weightPct })).ok).toBe(true);
    for (const interval of [100, 600_000]) expect(parseReport(report({ interval })).ok).toBe(true);
  });

  it.each([
    ["v", 2, "v: must be 1 (report format version)"],
    ["v", "1", "v: must be 1 (report format version)"],
    ["pool", 5, "pool: must be a string"],
    ["pool", "", "pool: must not be empty"],
    ["pool", "p".repeat(65), "pool: must be at most 64 characters"],
    ["origin", null, "origin: must be a string"],
    ["origin", "", "origin: must not be empty"],
    ["seq", -1, "seq: must be >= 0"],
    ["seq", 1.5, "seq: must be a safe integer"],
    ["seq", 2 ** 53, "seq: must be a safe integer"],
    ["seq", "7", "seq: must be an integer"],
    ["ts", -1, "ts: must be >= 0"],
    ["ts", 1.5, "ts: must be an integer (ms)"],
    ["ts", "now", "ts: must be a number"],
    ["interval", 99, "interval: must be 100-600000 ms"],
    ["interval", 600_001, "interval: must be 100-600000 ms"],
    ["interval", 100.5, "interval: must be an integer (ms)"],
    ["interval", "2s", "interval: must be an integer (ms)"],
    ["health", "UP", "health: must be up, down, fail or stopped"],
    ["health", "maint", "health: must be up, down, fail or stopped"],
    ["health", true, "health: must be up, down, fail or stopped"],
    ["admin", "up", "admin: must be ready, drain or maint"],
    ["admin", null, "admin: must be ready, drain or maint"],
    ["weightPct", -1, "weightPct: must be 0-100"],
    ["weightPct", -0.001, "weightPct: must be 0-100"],
    ["weightPct", 100.001, "weightPct: must be 0-100"],
    ["weightPct", 150, "weightPct: must be 0-100"],
    ["weightPct", "50", "weightPct: must be a number 0-100"],
    ["weightPct", "50%", "weightPct: must be a number 0-100"],
    ["weightPct", null, "weightPct: must be a number 0-100"],
    // impossible in JSON, but parseReport may be handed objects by other code
    ["weightPct", NaN, "weightPct: must be a number 0-100"],
    ["weightPct", Infinity, "weightPct: must be a finite number 0-100"],
    ["reason", 5, "reason: must be a string"],
    ["reason", "r".repeat(201), "reason: must be at most 200 characters"],
    ["readings", null, "readings: must be an object"],
    ["readings", 5, "readings: must be an object"],
    ["readings", "none", "readings: must be an object"],
  ])("%s = %j -> %j", (key, value, problem) => {
    expect(parseReport(report({ [key]: value }))).toEqual({ ok: false, problems: [problem] });
  });

  it.each([
    ["loadPerCpu", -0.1, "readings.loadPerCpu: must be >= 0"],
    ["loadPerCpu", "0.4", "readings.loadPerCpu: must be a number >= 0"],
    ["loadPerCpu", -Infinity, "readings.loadPerCpu: must be a finite number >= 0"],
    ["loadPerCpu", 10_001, "readings.loadPerCpu: must be >= 0"],
    ["cpus", 0, "readings.cpus: must be >= 1"],
    ["cpus", 4097, "readings.cpus: must be <= 4096"],
    ["cpus", 2.5, "readings.cpus: must be an integer"],
    ["memAvailablePct", 100.5, "readings.memAvailablePct: must be 0-100"],
    ["memAvailablePct", -1, "readings.memAvailablePct: must be 0-100"],
    ["swapInPerSec", -5, "readings.swapInPerSec: must be >= 0"],
    ["psi", 5, "readings.psi: must be an object or null"],
    ["psi", { cpu: 101, memory: -1, io: "x" }, ["readings.psi.cpu: must be 0-100", "readings.psi.memory: must be 0-100", "readings.psi.io: must be a number 0-100"]],
    ["psi", { cpu: 1, memory: 1 }, "readings.psi.io: is missing"],
    ["psi", { cpu: 1, memory: 1, io: 1, irq: 1 }, "readings.psi.irq: is not a known key"],
    ["app", "200", "readings.app: must be an object or null"],
    ["app", { status: 600, ms: -1 }, ["readings.app.status: must be 0-599", "readings.app.ms: must be >= 0"]],
    ["app", { status: 200.5, ms: 1 }, "readings.app.status: must be an integer"],
    ["app", { status: 200 }, "readings.app.ms: is missing"],
  ])("readings.%s = %j -> %j", (key, value, problems) => {
    expect(parseReport(report(readings({ [key]: value })))).toEqual({ ok: false, problems: [problems].flat() });
  });

  it.each(["v", "pool", "origin", "seq", "ts", "interval", "health", "admin", "weightPct", "readings"])("missing %s is named", (key) => {
    const r: Record<string, unknown> = report();
    delete r[key];
    expect(parseReport(r)).toEqual({ ok: false, problems: [`${key}: is missing`] });
  });

  it.each(["loadPerCpu", "cpus", "memAvailablePct", "swapInPerSec", "psi", "app"])("missing readings.%s is named (null is how to say 'no reading')", (key) => {
    const r = report();
    delete (r.readings as Record<string, unknown>)[key];
    expect(parseReport(r)).toEqual({ ok: false, problems: [`readings.${key}: is missing`] });
  });

  it("names unknown keys at the top and inside readings", () => {
    expect(parseReport({ ...report(), weight: 50, extra: true, ...readings({ load: 1 }) })).toEqual({
      ok: false,
      // in the order of the document (readings comes before the added keys)
      problems: ["readings.load: is not a known key", "weight: is not a known key", "extra: is not a known key"],
    });
  });

  it("lists every problem at once", () => {
    const r = parseReport({ ...report({ v: 2, seq: -1, health: "ok", weightPct: 101, bogus: 1 }), ...readings({ cpus: 0, psi: 1 }) });
    expect(r.ok).toBe(false);
    expect(!r.ok && [...r.problems].sort()).toEqual(
      ["v: must be 1 (report format version)", "seq: must be >= 0", "health: must be up, down, fail or stopped", "weightPct: must be 0-100", "bogus: is not a known key", "readings.cpus: must be >= 1", "readings.psi: must be an object or null"].sort(),
    );
  });

  it.each([[null], [[]], [[report()]], ["report"], [5], [true]])("%j is not a report", (json) => {
    expect(parseReport(json)).toEqual({ ok: false, problems: ["(report): must be a JSON object"] });
  });

  it("a report counts for 3 of its intervals", () => {
    for (const [interval, ttl] of [[100, 300], [2000, 6000], [600_000, 1_800_000]]) {
      const r = parseReport(report({ interval }));
      expect(r.ok && reportTtl(r.report)).toBe(ttl);
    }
  });
});

/** Secrets as the runtime would look them up; every key here is an example for tests only. */
const ENV: Record<string, string> = { AGENT_KEY_A: KEY_A, AGENT_KEY_A_NEXT: KEY_A_NEXT, AGENT_KEY_B: KEY_B, AGENT_KEY_EMPTY: "" };
const secret: SecretLookup = (name) => ENV[name];

function config(): Config {
  const r = parseConfig({
    listen: { port: 8080 },
    pools: {
      web: {
        origins: [
          { name: "a", url: "http://10.0.0.1", agentKeys: ["AGENT_KEY_A", "AGENT_KEY_A_NEXT"] },
          { name: "b", url: "http://10.0.0.2", agentKeys: ["AGENT_KEY_B"] },
          { name: "nokeys", url: "http://10.0.0.3" },
          { name: "unset", url: "http://10.0.0.4", agentKeys: ["AGENT_KEY_NOT_SET"] },
          { name: "empty", url: "http://10.0.0.5", agentKeys: ["AGENT_KEY_EMPTY"] },
        ],
      },
      api: { origins: [{ name: "a", url: "http://10.0.1.1", agentKeys: ["AGENT_KEY_B"] }] },
    },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}
const CFG = config();

/** checkReport on `body` signed with `key` (or with the given headers). */
async function check(body: unknown, key: string | null = KEY_A, opts: { id?: string; ts?: number; headers?: Record<string, string>; now?: number } = {}): Promise<Verdict> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const h = opts.headers ?? (key ? await sign(key, opts.id ?? "rep_1", opts.ts ?? NOW_S, text) : {});
  return checkReport((n) => h[n.toLowerCase()] ?? null, text, CFG, secret, opts.now ?? NOW);
}

describe("checkReport", () => {
  it("200 for a good report: pool, origin index, report and id", async () => {
    expect(await check(report({ weightPct: 25 }), KEY_A, { id: "rep_9" })).toEqual({ status: 200, pool: "web", origin: 0, report: report({ weightPct: 25 }), id: "rep_9" });
    expect(await check(report({ origin: "b" }), KEY_B)).toMatchObject({ status: 200, pool: "web", origin: 1 });
    expect(await check(report({ pool: "api" }), KEY_B)).toMatchObject({ status: 200, pool: "api", origin: 0 });
  });

  it("accepts both keys of an origin during a rotation", async () => {
    expect((await check(report(), KEY_A)).status).toBe(200);
    expect((await check(report(), KEY_A_NEXT)).status).toBe(200);
  });

  it(`413 over ${MAX_REPORT_BYTES} bytes, counted in UTF-8 bytes, before anything else`, async () => {
    const base = JSON.stringify(report());
    const exact = base + " ".repeat(MAX_REPORT_BYTES - base.length);
    expect((await check(exact)).status).toBe(200);
    expect(await check(exact + " ")).toEqual({ status: 413 });
    // 2 bytes per character: under the cap in characters, over it in bytes
    const wide = JSON.stringify(report()).slice(0, -1) + `,"reason":"${"å".repeat(2100)}"}`;
    expect(wide.length).toBeLessThan(MAX_REPORT_BYTES);
    expect(await check(wide)).toEqual({ status: 413 });
    expect(await check("x".repeat(MAX_REPORT_BYTES + 1), null)).toEqual({ status: 413 });
  });

  it("400 for a body that is not JSON", async () => {
    expect(await check("{not json", KEY_A)).toEqual({ status: 400, problems: ["(report): is not valid JSON"] });
    expect(await check("", KEY_A)).toEqual({ status: 400, problems: ["(report): is not valid JSON"] });
  });

  it.each([
    [{ ...report(), pool: "nope" }, 'pool: names no pool in this config, got "nope"'],
    [{ ...report(), pool: "constructor" }, 'pool: names no pool in this config, got "constructor"'],
    [{ ...report(), pool: "__proto__" }, 'pool: names no pool in this config, got "__proto__"'],
    [{ ...report(), pool: 5 }, "pool: names no pool in this config, got 5"],
    [(({ pool, ...r }) => r)(report()), "pool: names no pool in this config, got null"],
    [{ ...report(), origin: "zz" }, 'origin: names no origin of pool web, got "zz"'],
    [{ ...report(), origin: null }, "origin: names no origin of pool web, got null"],
    [null, "pool: names no pool in this config, got null"],
    [[1], "pool: names no pool in this config, got null"],
    ['"web"', "pool: names no pool in this config, got null"],
  ])("400 for a report from no configured origin (%j), whatever its signature", async (body, problem) => {
    expect(await check(body, KEY_A)).toEqual({ status: 400, problems: [problem] });
    expect(await check(body, null)).toEqual({ status: 400, problems: [problem] });
  });

  it("401 without headers, with a bad signature, or with another origin's key", async () => {
    expect(await check(report(), null)).toEqual({ status: 401 });
    const h = await sign(KEY_A, "rep_1", NOW_S, JSON.stringify(report()));
    expect(await check(report(), null, { headers: { ...h, [HEADER_SIGNATURE]: reference(KEY_OTHER, "rep_1", NOW_S, "x") } })).toEqual({ status: 401 });
    expect(await check(report(), null, { headers: { ...h, [HEADER_SIGNATURE]: "v1,AAAA" } })).toEqual({ status: 401 });
    expect(await check(report(), null, { headers: { [HEADER_ID]: "rep_1", [HEADER_TIMESTAMP]: String(NOW_S) } })).toEqual({ status: 401 });
    expect(await check(report(), KEY_OTHER)).toEqual({ status: 401 });
    // b's key cannot speak for a, nor a's for b; the same origin name in another pool has its own keys
    expect(await check(report(), KEY_B)).toEqual({ status: 401 });
    expect(await check(report({ origin: "b" }), KEY_A)).toEqual({ status: 401 });
    expect(await check(report({ pool: "api" }), KEY_A)).toEqual({ status: 401 });
  });

  it("401 for a timestamp older or newer than 300 s", async () => {
    expect(await check(report(), KEY_A, { ts: NOW_S - 301 })).toEqual({ status: 401 });
    expect(await check(report(), KEY_A, { ts: NOW_S + 301 })).toEqual({ status: 401 });
    expect((await check(report(), KEY_A, { ts: NOW_S - 300 })).status).toBe(200);
    expect((await check(report(), KEY_A, { ts: NOW_S + 300 })).status).toBe(200);
  });

  it("an origin without keys, or whose key variable is unset or empty, never verifies", async () => {
    for (const origin of ["nokeys", "unset", "empty"]) {
      for (const key of [KEY_A, KEY_B, KEY_OTHER, "x"]) expect(await check(report({ origin }), key), `${origin} ${key}`).toEqual({ status: 401 });
      // a signature computed as if the key were empty bytes
      const empty = "v1," + createHmac("sha256", Buffer.alloc(0)).update(`rep_1.${NOW_S}.${JSON.stringify(report({ origin }))}`).digest("base64");
      expect(await check(report({ origin }), null, { headers: { [HEADER_ID]: "rep_1", [HEADER_TIMESTAMP]: String(NOW_S), [HEADER_SIGNATURE]: empty } })).toEqual({ status: 401 });
    }
  });

  it("400 with every schema problem for a correctly signed bad report; 401 (no detail) when it is not signed", async () => {
    const bad = { ...report({ seq: -1, weightPct: 150, health: "great", interval: 5 }), extra: 1 };
    expect(await check(bad, KEY_A)).toEqual({
      status: 400,
      problems: ["seq: must be >= 0", "interval: must be 100-600000 ms", "health: must be up, down, fail or stopped", "weightPct: must be 0-100", "extra: is not a known key"],
    });
    expect(await check(bad, KEY_OTHER)).toEqual({ status: 401 });
    expect(await check(bad, null)).toEqual({ status: 401 });
  });
});

/** A 200 verdict for `report(extra)` with `id`. */
function verdict(id: string, extra: Record<string, unknown> = {}, origin = 0): Extract<Verdict, { status: 200 }> {
  const r = parseReport(report(extra));
  if (!r.ok) throw new Error(r.problems.join("; "));
  return { status: 200, pool: r.report.pool, origin, report: r.report, id };
}

const WINDOW2 = 2 * TOLERANCE_S * 1000;

describe("AgentLedger", () => {
  it("turns an admitted report into an agent event on the receiver's clock: ttl = 3 x interval", () => {
    const l = new AgentLedger();
    // the agent's own ts is far off; only the receiver's clock counts
    const r = l.admit(verdict("rep_1", { ts: 5, interval: 1500, health: "down", admin: "drain", weightPct: 25 }, 3), NOW);
    expect(r).toEqual({ ok: true, event: { type: "agent", origin: 3, at: NOW, agent: { health: "down", admin: "drain", weightPct: 25, at: NOW, ttl: 4500 } } });
  });

  it("refuses a replayed id with 401, even with a greater seq, and changes nothing", () => {
    const l = new AgentLedger();
    expect(l.admit(verdict("rep_1", { seq: 1 }), NOW).ok).toBe(true);
    const before = JSON.stringify(l);
    expect(l.admit(verdict("rep_1", { seq: 2 }), NOW + 1000)).toEqual({ ok: false, status: 401, problem: "replayed id" });
    expect(JSON.stringify(l)).toBe(before);
    // ids are one space for every pool and origin
    expect(l.admit(verdict("rep_1", { seq: 1, origin: "b" }, 1), NOW + 1000)).toMatchObject({ ok: false, status: 401 });
    expect(l.admit(verdict("rep_2", { seq: 2 }), NOW + 1000).ok).toBe(true);
  });

  it("refuses a seq that does not grow with 409, per pool and origin", () => {
    const l = new AgentLedger();
    expect(l.admit(verdict("rep_1", { seq: 10 }), NOW).ok).toBe(true);
    expect(l.admit(verdict("rep_2", { seq: 10 }), NOW)).toEqual({ ok: false, status: 409, problem: "seq must grow: got 10, last 10" });
    expect(l.admit(verdict("rep_3", { seq: 9 }), NOW)).toEqual({ ok: false, status: 409, problem: "seq must grow: got 9, last 10" });
    expect(l.admit(verdict("rep_4", { seq: 0, origin: "b" }, 1), NOW).ok).toBe(true);
    expect(l.admit(verdict("rep_5", { seq: 0, pool: "api" }), NOW).ok).toBe(true);
    // a refused report left no trace: its id is still free
    expect(l.admit(verdict("rep_2", { seq: 11 }), NOW).ok).toBe(true);
    expect(l.toJSON().seqs).toEqual([["web/a", 11], ["web/b", 0], ["api/a", 0]]);
  });

  it("remembers an id for twice the timestamp window, inclusive, then forgets it", () => {
    const l = new AgentLedger();
    expect(l.admit(verdict("rep_1", { seq: 1 }), NOW).ok).toBe(true);
    expect(l.admit(verdict("rep_1", { seq: 2 }), NOW + WINDOW2)).toMatchObject({ ok: false, status: 401 });
    expect(l.admit(verdict("rep_1", { seq: 2 }), NOW + WINDOW2 + 1).ok).toBe(true);
  });

  it("prunes forgotten ids once there are many", () => {
    const l = new AgentLedger();
    for (let i = 0; i < 100; i++) expect(l.admit(verdict(`rep_${i}`, { seq: i }), NOW + i).ok).toBe(true);
    expect(l.toJSON().ids.length).toBe(100);
    expect(l.admit(verdict("rep_late", { seq: 1000 }), NOW + 50 + WINDOW2).ok).toBe(true);
    // ids 0..49 were remembered until NOW + i + WINDOW2 < NOW + 50 + WINDOW2
    expect(l.toJSON().ids.map(([id]) => id)).toEqual([...Array.from({ length: 50 }, (_, i) => `rep_${i + 50}`), "rep_late"]);
  });

  it("survives a JSON round trip (the Durable Object stores it): ids and seqs still hold", () => {
    const l = new AgentLedger();
    l.admit(verdict("rep_1", { seq: 5 }), NOW);
    l.admit(verdict("rep_2", { seq: 7, origin: "b" }, 1), NOW);
    const back = AgentLedger.from(JSON.parse(JSON.stringify(l)));
    expect(back.toJSON()).toEqual(l.toJSON());
    expect(back.admit(verdict("rep_1", { seq: 6 }), NOW + 1)).toMatchObject({ ok: false, status: 401 });
    expect(back.admit(verdict("rep_3", { seq: 5 }), NOW + 1)).toMatchObject({ ok: false, status: 409 });
    expect(back.admit(verdict("rep_3", { seq: 6 }), NOW + 1).ok).toBe(true);
    expect(AgentLedger.from(null).toJSON()).toEqual({ ids: [], seqs: [] });
    expect(AgentLedger.from(undefined).toJSON()).toEqual({ ids: [], seqs: [] });
  });

  it("the event lowers the weight while fresh and stops counting after 3 intervals", () => {
    const store = new HealthStore(CFG.pools.web, () => 0);
    const r = new AgentLedger().admit(verdict("rep_1", { weightPct: 25, interval: 1000 }), NOW);
    if (!r.ok) throw new Error(r.problem);
    store.apply(r.event);
    const o = () => store.state.origins[0];
    expect(effectiveWeight(o(), NOW + 3000, 0)).toBe(0.25);
    expect(freshAgent(o(), NOW + 3000)).not.toBeNull();
    expect(effectiveWeight(o(), NOW + 3001, 0)).toBe(1);
    expect(freshAgent(o(), NOW + 3001)).toBeNull();
    expect(unavailable(o(), NOW + 3001)).toBeNull();
    expect(store.weights(NOW + 3001).primary[0]).toBe(1);
  });
});
