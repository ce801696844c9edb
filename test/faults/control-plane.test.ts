import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssue, parseConfig } from "../../core/config/parse.ts";
import { startBalancer, type TestBalancer } from "../support/harness.ts";
import { exchange, StubOrigin, type Seen } from "./smuggling/wire.ts";

/**
 * The control plane (/__edgelb/*) over raw bytes, in front of origin stubs that record every byte:
 * stats and admin need their tokens, admin changes state only on POST, and no other spelling of a
 * control path (//, dot segments, %-escapes, letter case, absolute-form) reaches the control app
 * without auth or reaches an origin. Related: test/node/agent.test.ts ("admin API": wrong tokens,
 * bad weights, unknown origins), test/core/auth.test.ts (the constant-time compare),
 * test/node/cli.test.ts ("edgelb check" names each bad path and value).
 */

const ADMIN = "cp-admin-token-0123456789";
const STATS = "cp-stats-token-0123456789";
process.env.EDGELB_CP_ADMIN_TOKEN = ADMIN;
process.env.EDGELB_CP_STATS_TOKEN = STATS;

const web01 = new StubOrigin();
const web02 = new StubOrigin();
let b: TestBalancer;
let port = 0;

beforeAll(async () => {
  await Promise.all([web01.listen(), web02.listen()]);
  b = await startBalancer({
    pools: { webfarm: { origins: [{ name: "web01", url: web01.url }, { name: "web02", url: web02.url }], check: { enabled: false } } },
    stats: { auth: { bearerEnv: "EDGELB_CP_STATS_TOKEN" } },
    admin: { auth: { bearerEnv: "EDGELB_CP_ADMIN_TOKEN" } },
  });
  port = Number(new URL(b.url).port);
});
afterAll(async () => {
  await b?.close();
  await Promise.all([web01.close(), web02.close()]);
});

/** One request, exact bytes; Connection: close so the exchange ends with the response. */
function call(method: string, target: string, headers: string[] = [], body = ""): Promise<Seen> {
  const lines = ["Host: shop.example", "Connection: close", ...headers, ...(body || method === "POST" || method === "PUT" ? [`Content-Length: ${body.length}`] : [])];
  return exchange(port, `${method} ${target} HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n${body}`, 1, 2000);
}

const bearer = (t: string) => `Authorization: Bearer ${t}`;
const status = (s: Seen) => s.responses[0]?.status ?? 0;
const text = (s: Seen) => s.raw.toString("latin1");
/** What admin can change: each origin's admin state and configured weight. */
const state = () => JSON.stringify(b.stats().origins.map((o) => [o.name, o.admin, o.weight.configured]));
const originBytes = () => web01.bytesIn + web02.bytesIn;

describe("control plane (Node build, raw bytes)", () => {
  it("stats: 401 without the token or with a near miss; 200 with it; healthz needs none", async () => {
    for (const h of [[], [bearer(`${STATS}x`)], [bearer(STATS.slice(0, -1))], [bearer(`${STATS.slice(0, -1)}X`)], [bearer(ADMIN)], [`Authorization: Basic ${Buffer.from(`admin:${STATS}`).toString("base64")}`], [`Authorization: ${STATS}`]]) {
      const r = await call("GET", "/__edgelb/stats?format=json", h);
      expect(status(r), h.join()).toBe(401);
      expect(text(r)).not.toContain("webfarm");
    }
    const ok = await call("GET", "/__edgelb/stats?format=json", [bearer(STATS)]);
    expect(status(ok)).toBe(200);
    expect(JSON.parse(ok.responses[0].body.toString()).pools[0].name).toBe("webfarm");
    expect(status(await call("GET", "/__edgelb/healthz"))).toBe(200);
    expect(originBytes()).toBe(0);
  });

  it("admin: POST with the token changes state; without it 401; any other method changes nothing", async () => {
    const before = state();
    expect(status(await call("POST", "/__edgelb/admin/webfarm/web01/drain"))).toBe(401);
    expect(status(await call("POST", "/__edgelb/admin/webfarm/web01/drain", [bearer(STATS)]))).toBe(401);
    expect(status(await call("POST", "/__edgelb/admin/webfarm/web01/drain", [bearer(ADMIN.toUpperCase())]))).toBe(401);
    expect(state()).toBe(before);
    for (const method of ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const r = await call(method, "/__edgelb/admin/webfarm/web01/drain", [bearer(ADMIN)]);
      expect([method, status(r)]).toEqual([method, 405]);
      expect(state(), method).toBe(before);
    }
    // the positive case, so the checks above can tell a change from none
    expect(status(await call("POST", "/__edgelb/admin/webfarm/web01/drain", [bearer(ADMIN)]))).toBe(200);
    expect(state()).not.toBe(before);
    expect(status(await call("POST", "/__edgelb/admin/webfarm/web01/ready", [bearer(ADMIN)]))).toBe(200);
    expect(state()).toBe(before);
    expect(originBytes()).toBe(0);
  });

  const ADMIN_LOOKALIKES = [
    "//__edgelb/admin/webfarm/web01/drain",
    "///__edgelb/admin/webfarm/web01/drain",
    "/__edgelb/../__edgelb/admin/webfarm/web01/drain",
    "/x/../__edgelb/admin/webfarm/web01/drain",
    "/./__edgelb/admin/webfarm/web01/drain",
    "/%2e%2e/__edgelb/admin/webfarm/web01/drain",
    "/%2E%2E/__edgelb/admin/webfarm/web01/drain",
    "/%252e%252e/__edgelb/admin/webfarm/web01/drain",
    "/x/..%2f__edgelb/admin/webfarm/web01/drain",
    "/__edgelb/%61dmin/webfarm/web01/drain",
    "/%5f_edgelb/admin/webfarm/web01/drain",
    "/__edgelb%2fadmin/webfarm/web01/drain",
    "/__edgelb//admin/webfarm/web01/drain",
    "/__edgelb/./admin/webfarm/web01/drain",
    "/__edgelb;x/admin/webfarm/web01/drain",
    "/__edgelb/admin;x/webfarm/web01/drain",
    "/__EDGELB/admin/webfarm/web01/drain",
    "/__Edgelb/ADMIN/webfarm/web01/drain",
    "/__edgelb\\admin/webfarm/web01/drain",
    "http://shop.example/__edgelb/admin/webfarm/web01/drain",
  ];

  it.each(ADMIN_LOOKALIKES)("POST %s: refused, with or without the token; the origin never sees it", async (target) => {
    const before = state(), bytes = originBytes();
    for (const h of [[], [bearer(ADMIN)]]) {
      const r = await call("POST", target, h);
      // 404 from the balancer (a lookalike), or 400 where the parser refuses the target outright
      expect([400, 404], `${target} ${h.join()}`).toContain(status(r));
      expect(state()).toBe(before);
    }
    expect(originBytes(), "nothing forwarded, the token least of all").toBe(bytes);
  });

  it.each(["//__edgelb/stats?format=json", "/__EDGELB/stats?format=json", "/__edgelb/%73tats?format=json", "/x/../__edgelb/stats?format=json", "/__edgelb/./stats?format=json"])(
    "GET %s: no stats without the token, and not forwarded",
    async (target) => {
      const bytes = originBytes();
      for (const h of [[], [bearer(STATS)]]) {
        const r = await call("GET", target, h);
        expect([400, 404], `${target} ${h.join()}`).toContain(status(r));
        expect(text(r)).not.toContain("webfarm");
      }
      expect(originBytes()).toBe(bytes);
    },
  );

  it("canonical paths that are no route stay in the control app (404/401), never reach an origin", async () => {
    const before = state(), bytes = originBytes();
    for (const target of ["/__edgelb/admin/webfarm/web01/drain/", "/__edgelb/admin/webfarm/web01", "/__edgelb/nothing", "/__edgelb"]) {
      const r = await call("POST", target, [bearer(ADMIN)]);
      expect([401, 404], target).toContain(status(r));
    }
    expect(state()).toBe(before);
    expect(originBytes()).toBe(bytes);
  });

  it("control requests are validated like any other (two Host headers, TE+CL): 400 and close", async () => {
    const two = await exchange(port, `GET /__edgelb/stats?format=json HTTP/1.1\r\nHost: a\r\nHost: b\r\n${bearer(STATS)}\r\n\r\n`, 1, 1000, 100);
    expect(two.responses.map((r) => r.status)).toEqual([400]);
    expect(two.closed).toBe(true);
    const tecl = await exchange(port, `POST /__edgelb/admin/webfarm/web01/drain HTTP/1.1\r\nHost: a\r\n${bearer(ADMIN)}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 1, 1000, 100);
    expect(tecl.responses.map((r) => r.status)).toEqual([400]);
    expect(tecl.closed).toBe(true);
  });

  it("an ordinary path that merely contains the prefix is forwarded", async () => {
    const m = web01.mark(), n = web02.mark();
    const r = await call("GET", "/shop/__edgelb/admin/x");
    expect(status(r)).toBe(200);
    expect([...web01.since(m).requests, ...web02.since(n).requests].map((q) => q.target)).toEqual(["/shop/__edgelb/admin/x"]);
  });
});

describe("control-plane config: bad values are refused with their path", () => {
  it("names each bad stats/admin/prefix value with its path (the CLI prints these lines: test/node/cli.test.ts)", () => {
    const r = parseConfig({
      listen: { port: 8080 },
      prefix: "__edgelb",
      pools: { web: { origins: [{ name: "a", url: "http://10.0.0.1" }] } },
      stats: { auth: { bearerEnv: "not a name" } },
      admin: { auth: { basic: [{ user: "ops" }] }, token: "inline-secret" },
    });
    expect(r.ok).toBe(false);
    const lines = r.ok ? [] : r.issues.map(formatIssue);
    expect(lines.some((l) => l.startsWith("prefix: "))).toBe(true);
    expect(lines.some((l) => l.startsWith("stats.auth.bearerEnv: must be an environment variable name"))).toBe(true);
    expect(lines.some((l) => l.startsWith("admin.auth.basic[0].passwordEnv: "))).toBe(true);
    expect(lines.some((l) => l.startsWith("admin.token: is not a known key"))).toBe(true);
    // the secret itself is never echoed back
    expect(lines.join("\n")).not.toContain("inline-secret");
  });
});
