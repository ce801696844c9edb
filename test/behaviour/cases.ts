// The request-level behaviour suite, one case file for both builds: the Node build
// (test/behaviour/node.test.ts, a Balancer in process) and the edge build
// (test/worker/behaviour.test.ts, the Worker inside workerd). Both run with the same config
// (test/behaviour/config.ts) against the same kind of origins (test/worker/origin-http.ts
// processes); every case has a pool of its own, reached by its Host. A case that cannot hold on a
// build is skipped there with the reason in the build's `skip`; one that a reported bug breaks on a
// build runs there as `it.fails` (the build's `knownBugs`). Runtime-neutral: no node:*, no
// cloudflare:*.
import { beforeAll, describe, expect, it } from "vitest";
import type { FailureKind } from "../../core/proxy/retry.ts";
import type { PoolStats } from "../../core/stats/model.ts";
import { hostOf, TEST_SECRETS } from "./config.ts";
import type { OriginLogEntry, TestOrigin } from "./origin-client.ts";

/** A request as a test client sends it. */
export interface ClientRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What the suite needs from a build. */
export interface Build {
  name: string;
  /** One request through the balancer with Host `host`; rejects only when no response came at all. */
  fetch(host: string, path: string, init?: ClientRequest): Promise<Response>;
  /** A test origin by name (a, b, h, x: see CONFIG_ORIGINS). */
  origin(name: string): TestOrigin;
  /** The pool's row of the stats JSON, read through the balancer's real route with the bearer token. */
  stats(pool: string): Promise<PoolStats>;
  /** What the origin must see for this build's test client: X-Forwarded-For and X-Forwarded-Proto. */
  client: { forwardedFor: string; proto: string };
  /** The failure kind a refused connection is counted as in this build's stats. */
  refusedAs: FailureKind;
  /** Cases that cannot apply to this build, with the reason. */
  skip: Partial<Record<CaseName, string>>;
  /**
   * Cases this build fails today because of a reported bug, with the bug. They run as `it.fails`:
   * once the bug is fixed the case fails until its entry here is removed.
   */
  knownBugs?: Partial<Record<CaseName, string>>;
}

/** The case names (what a build's `skip` refers to). */
export const CASE = {
  alternate: "alternates between two origins",
  weights: "follows weights 3:1 over 400 requests within 2 %",
  paths: "keeps a //evil path on the configured origin, byte for byte",
  forwarded: "sets X-Forwarded-For/-Proto/-Host and discards the client's copies",
  hopByHop: "does not forward hop-by-hop or Connection-listed request headers",
  connectionForbidden: "refuses a Connection header naming Authorization with 400 and forwards nothing",
  host: "passes the client's Host header to the origin",
  responseHeaders: "does not pass hop-by-hop or Connection-listed response headers to the client",
  cookies: "passes each Set-Cookie header of the origin on its own",
  postBody: "forwards a POST body intact, once",
  expectContinue: "forwards a POST sent with Expect: 100-continue",
  noHeaderTimeout: "timeouts.header 0 means no header timeout",
  head: "answers HEAD with the origin's headers and no body",
  redirect: "passes a redirect to the client without following it",
  midBody: "an origin that breaks mid-body: the client's response is cut, the origin is charged a body-error and ejected",
  stall: "an origin silent mid-body past timeouts.idle: the client's response is cut, the origin is charged a body-error",
  deadGets: "dead origin: no GET fails, each one that met it is redispatched",
  deadPost: "dead origin: a POST whose connection was refused is sent to another origin, once",
  hungGet: "hung origin: a GET is redispatched after the header timeout",
  hungPost: "hung origin: a POST that was sent is not replayed; the client gets 504",
  headerTimeoutPrecise: "timeouts.header 250ms is kept to within 150 ms",
  deadlineHeaders: "timeouts.total reached before the headers: 504, and the origin is not charged",
  deadlineBody: "timeouts.total reached mid-body: the response is cut, and the origin is not charged",
  sameOrigin: "redispatch off: a GET is retried on the same origin `retries` times, then 502",
  allDown: "every origin down by checks: 503 with Retry-After, no origin tried",
  statsAuth: "stats need the bearer token",
} as const;
export type CaseName = keyof typeof CASE;

/** The stats JSON of one pool, fetched with `fetch` through the real route (both builds use this). */
export async function statsThrough(fetch: Build["fetch"], pool: string): Promise<PoolStats> {
  const r = await fetch(hostOf("stats"), "/__edgelb/stats?format=json", { headers: { authorization: `Bearer ${TEST_SECRETS.EDGELB_STATS_TOKEN}` } });
  if (r.status !== 200) throw new Error(`stats: ${r.status} ${await r.text()}`);
  const s = (await r.json()) as { pools: PoolStats[] };
  const p = s.pools.find((x) => x.name === pool);
  if (!p) throw new Error(`stats: no pool ${pool} in ${s.pools.map((x) => x.name).join(", ")}`);
  return p;
}

interface Result {
  status: number;
  origin: string | null;
  body: string;
  headers: Headers;
  ms: number;
}

/** Header values by lower-cased name, from raw pairs. */
function headerMap(raw: readonly string[]): Record<string, string[]> {
  const h: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) (h[raw[i].toLowerCase()] ??= []).push(raw[i + 1]);
  return h;
}

function withId(log: OriginLogEntry[], id: string): OriginLogEntry[] {
  return log.filter((e) => e.id === id);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function behaviourSuite(build: Build): void {
  const names = new Set(Object.keys(CASE));
  const bugs = build.knownBugs ?? {};
  for (const k of [...Object.keys(build.skip), ...Object.keys(bugs)]) if (!names.has(k)) throw new Error(`${build.name}: skip/knownBugs names no case: ${k}`);
  const registered = new Set<string>();

  /** Registers a case; skips it with the build's reason, or expects it to fail with the build's known bug. */
  const test = (key: CaseName, fn: () => Promise<void>) => {
    registered.add(key);
    const why = build.skip[key], bug = bugs[key];
    if (why !== undefined) it.skip(`${CASE[key]} [not on ${build.name}: ${why}]`, fn);
    else if (bug !== undefined) it.fails(`${CASE[key]} [known bug on ${build.name}: ${bug}]`, fn);
    else it(CASE[key], fn);
  };

  /** Request ids unique to this build and case. */
  const idOf = (tag: string, i = 0) => `${build.name}-${tag}-${i}`;

  async function send(pool: string, path: string, init: ClientRequest = {}): Promise<Result> {
    const t0 = Date.now();
    const r = await build.fetch(hostOf(pool), path, init);
    const body = await r.text();
    return { status: r.status, origin: r.headers.get("x-origin"), body, headers: r.headers, ms: Date.now() - t0 };
  }

  /** `total` requests, `concurrency` at a time; results in request order. */
  async function load(pool: string, total: number, concurrency: number, make: (i: number) => [string, ClientRequest]): Promise<Result[]> {
    const out: Result[] = new Array(total);
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const [path, init] = make(i);
        out[i] = await send(pool, path, init);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return out;
  }

  describe(`behaviour (${build.name} build)`, () => {
    let a: TestOrigin, b: TestOrigin, h: TestOrigin, x: TestOrigin;
    beforeAll(async () => {
      [a, b, h, x] = ["a", "b", "h", "x"].map((n) => build.origin(n));
      await Promise.all([a.setMode({ mode: "ok" }), b.setMode({ mode: "ok" }), h.setMode({ mode: "hang" }), x.setMode({ mode: "close" })]);
    });

    test("alternate", async () => {
      const seq: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await send("alternate", `/alt?i=${i}`, { headers: { "x-request-id": idOf("alt", i) } });
        expect(r.status).toBe(200);
        expect(r.body).toBe(`origin ${r.origin}\n`);
        seq.push(r.origin!);
      }
      // where it starts is the build's business (the edge starts each isolate at a random point)
      expect(seq.filter((o) => o === "a")).toHaveLength(3);
      expect(seq.filter((o) => o === "b")).toHaveLength(3);
      for (let i = 1; i < seq.length; i++) expect(seq[i], `request ${i} of ${seq.join(",")}`).not.toBe(seq[i - 1]);
      // each request reached exactly the origin that answered it
      const logs = { a: await a.log(), b: await b.log() };
      seq.forEach((who, i) => {
        expect(withId(logs[who as "a" | "b"], idOf("alt", i))).toHaveLength(1);
        expect(withId(logs[who === "a" ? "b" : "a"], idOf("alt", i))).toHaveLength(0);
      });
      const s = await build.stats("alternate");
      expect(s.origins.map((o) => o.tries)).toEqual([3, 3]);
      expect(s.requests).toBe(6);
      expect(s.status["2xx"]).toBe(6);
    });

    test("weights", async () => {
      const rs = await load("weights", 400, 8, (i) => [`/w${i}`, {}]);
      expect(rs.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`)).toEqual([]);
      const na = rs.filter((r) => r.origin === "a").length, nb = rs.filter((r) => r.origin === "b").length;
      expect(na + nb).toBe(400);
      expect(Math.abs(na / 400 - 0.75)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(nb / 400 - 0.25)).toBeLessThanOrEqual(0.02);
      const s = await build.stats("weights");
      expect(s.origins.map((o) => o.tries)).toEqual([na, nb]);
      expect(s.origins.map((o) => o.retries)).toEqual([0, 0]);
    });

    test("paths", async () => {
      const path = "//evil.example/x?a=%2F&b";
      const id = idOf("path");
      const r = await send("paths", path, { headers: { "x-request-id": id } });
      expect(r.status).toBe(200);
      expect(["a", "b"]).toContain(r.origin);
      expect(r.body).toBe(`origin ${r.origin}\n`);
      const [served, other] = r.origin === "a" ? [a, b] : [b, a];
      expect(withId(await served.log(), id).map((e) => e.url)).toEqual([path]);
      expect(withId(await other.log(), id)).toEqual([]);
    });

    test("forwarded", async () => {
      const id = idOf("fwd");
      const r = await send("headers", "/fwd", {
        headers: {
          "x-request-id": id,
          "x-forwarded-for": "6.6.6.6",
          "x-forwarded-host": "evil.example",
          "x-forwarded-proto": "gopher",
          forwarded: "for=6.6.6.6;proto=gopher",
          "x-kept": "yes",
        },
      });
      expect(r.status).toBe(200);
      const [seen] = withId(await a.log(), id);
      expect(seen, "request reached origin a").toBeDefined();
      const hm = headerMap(seen.headers);
      expect(hm["x-forwarded-for"]).toEqual([build.client.forwardedFor]);
      expect(hm["x-forwarded-proto"]).toEqual([build.client.proto]);
      expect(hm["x-forwarded-host"]).toEqual([hostOf("headers")]);
      expect(hm["forwarded"]).toBeUndefined();
      // the edge's own client headers stay at the edge (inside workerd, fetch drops CF-Connecting-IP
      // by itself too, so the edge's own rule is not what this line sees there)
      expect(hm["cf-connecting-ip"]).toBeUndefined();
      expect(hm["x-kept"]).toEqual(["yes"]);
    });

    test("hopByHop", async () => {
      const id = idOf("hop");
      const r = await send("headers", "/hop", {
        headers: {
          "x-request-id": id,
          connection: "x-drop",
          "x-drop": "1",
          "keep-alive": "timeout=5",
          te: "trailers",
          "proxy-authorization": "Basic Zm9vOmJhcg==",
          "x-kept": "yes",
        },
      });
      expect(r.status).toBe(200);
      const [seen] = withId(await a.log(), id);
      expect(seen, "request reached origin a").toBeDefined();
      const hm = headerMap(seen.headers);
      for (const name of ["x-drop", "keep-alive", "te", "proxy-authorization"]) expect(hm[name], name).toBeUndefined();
      // the balancer's own connection to the origin may say keep-alive or close; never the client's tokens
      expect((hm["connection"] ?? []).join(",").toLowerCase()).not.toContain("x-drop");
      expect(hm["x-kept"]).toEqual(["yes"]);
    });

    test("connectionForbidden", async () => {
      const id = idOf("badconn");
      const r = await send("badconn", "/c", { headers: { "x-request-id": id, connection: "authorization", authorization: "Bearer abc" } });
      expect(r.status).toBe(400);
      expect(r.body).toMatch(/Connection names authorization/);
      expect(withId(await a.log(), id)).toEqual([]);
    });

    test("host", async () => {
      const id = idOf("host");
      const r = await send("hostheader", "/host", { headers: { "x-request-id": id } });
      expect(r.status).toBe(200);
      expect(withId(await a.log(), id).map((e) => e.host)).toEqual([hostOf("hostheader")]);
    });

    test("responseHeaders", async () => {
      await b.setMode({
        mode: "ok",
        headers: { connection: "x-secret", "x-secret": "1", "keep-alive": "timeout=7", "proxy-authenticate": 'Basic realm="t"', "x-kept": "yes" },
      });
      try {
        const r = await send("resheaders", "/res");
        expect(r.status).toBe(200);
        expect(r.origin).toBe("b");
        expect(r.headers.get("x-kept")).toBe("yes");
        expect(r.headers.get("x-secret")).toBeNull();
        expect(r.headers.get("proxy-authenticate")).toBeNull();
        // the Node build's server may send a Keep-Alive of its own; never the origin's
        expect(r.headers.get("keep-alive")).not.toBe("timeout=7");
        expect(r.headers.get("connection") ?? "").not.toContain("x-secret");
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("cookies", async () => {
      const cookies = ["sid=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/; HttpOnly", "lang=nb; Path=/"];
      await b.setMode({ mode: "ok", headers: { "set-cookie": cookies } });
      try {
        const r = await send("cookies", "/login");
        expect(r.status).toBe(200);
        expect(r.origin).toBe("b");
        expect(r.headers.getSetCookie()).toEqual(cookies);
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("postBody", async () => {
      const id = idOf("post");
      const body = "item=42&note=" + "æøå-".repeat(500);
      const r = await send("post", "/order", { method: "POST", headers: { "x-request-id": id, "content-type": "application/x-www-form-urlencoded" }, body });
      expect(r.status).toBe(200);
      expect(r.origin).toBe("a");
      const seen = withId(await a.log(), id);
      expect(seen.map((e) => [e.method, e.body])).toEqual([["POST", body]]);
    });

    test("expectContinue", async () => {
      const id = idOf("expect");
      const body = "x".repeat(2000);
      const r = await send("post", "/upload", { method: "POST", headers: { "x-request-id": id, expect: "100-continue" }, body });
      expect(`${r.status} ${r.origin}`, r.body).toBe("200 a");
      const seen = withId(await a.log(), id);
      expect(seen.map((e) => [e.method, e.body])).toEqual([["POST", body]]);
      const s = await build.stats("post");
      expect(Object.values(s.origins[0].failures).reduce((n, v) => n + v, 0)).toBe(0);
      expect(s.origins[0].ejected).toBe(false);
    });

    test("noHeaderTimeout", async () => {
      await b.setMode({ mode: "ok", delayMs: 300 });
      try {
        const r = await send("noheadertimeout", "/slow");
        expect(`${r.status} ${r.origin}`, r.body).toBe("200 b");
        expect(r.ms).toBeGreaterThanOrEqual(280);
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("head", async () => {
      const id = idOf("head");
      const r = await send("head", "/h", { method: "HEAD", headers: { "x-request-id": id } });
      expect(`${r.status} ${r.origin}`).toBe("200 a");
      expect(r.body).toBe("");
      expect(r.headers.get("content-length")).toBe(String("origin a\n".length));
      expect(withId(await a.log(), id).map((e) => e.method)).toEqual(["HEAD"]);
    });

    test("redirect", async () => {
      await b.setMode({ mode: "status", status: 302, location: "/elsewhere" });
      try {
        const id = idOf("redirect");
        const r = await send("redirect", "/from", { headers: { "x-request-id": id } });
        expect(r.status).toBe(302);
        expect(r.headers.get("location")).toBe("/elsewhere");
        expect(withId(await b.log(), id).map((e) => e.url)).toEqual(["/from"]);
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("midBody", async () => {
      await b.setMode({ mode: "reset-mid-body", bytes: 1000 });
      try {
        const got = await send("midbody", "/big").then(
          (r) => `a complete response: ${r.status}, ${r.body.length} bytes`,
          () => "cut",
        );
        expect(got).toBe("cut");
        // the edge learns of the break as the body streams: give it a moment to count it
        let s = await build.stats("midbody");
        for (let i = 0; i < 20 && s.origins[0].failures["body-error"] === 0; i++) {
          await sleep(50);
          s = await build.stats("midbody");
        }
        expect(s.origins[0].failures["body-error"]).toBe(1);
        expect(s.origins[0].ejected).toBe(true);
        expect(s.origins[0].status["2xx"]).toBe(0);
        const next = await send("midbody", "/after");
        expect(`${next.status} ${next.origin}`).toBe("200 a");
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("stall", async () => {
      await b.setMode({ mode: "stall-mid-body", bytes: 1000 });
      try {
        const t0 = Date.now();
        const got = await send("stall", "/big").then(
          (r) => `a complete response: ${r.status}, ${r.body.length} bytes`,
          () => "cut",
        );
        const ms = Date.now() - t0;
        expect(got).toBe("cut");
        // cut by the idle deadline (300ms), not by anything slower
        expect(ms).toBeGreaterThanOrEqual(280);
        expect(ms).toBeLessThan(3000);
        let s = await build.stats("stall");
        for (let i = 0; i < 20 && s.origins[0].failures["body-error"] === 0; i++) {
          await sleep(50);
          s = await build.stats("stall");
        }
        expect(s.origins[0].failures["body-error"]).toBe(1);
        expect(s.origins[0].ejected).toBe(true);
        expect(s.origins[0].status["2xx"]).toBe(0);
        expect(s.origins[0].inflight).toBe(0);
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("deadGets", async () => {
      const rs = await load("dead", 20, 4, (i) => [`/d${i}`, { headers: { "x-request-id": idOf("dead", i) } }]);
      expect(rs.map((r) => `${r.status} ${r.origin}`)).toEqual(rs.map(() => "200 a"));
      const log = await a.log();
      rs.forEach((_, i) => expect(withId(log, idOf("dead", i))).toHaveLength(1));
      const s = await build.stats("dead");
      const [dead, oa] = s.origins;
      const met = dead.failures[build.refusedAs];
      expect(met).toBeGreaterThanOrEqual(1);
      // no other kind of failure, and every try on the dead origin failed
      expect(Object.values(dead.failures).reduce((n, v) => n + v, 0)).toBe(met);
      expect(dead.tries).toBe(met);
      expect(dead.ejected).toBe(true);
      // every request that met the dead origin went on to a, once
      expect(oa.tries).toBe(20);
      expect(oa.retries).toBe(met);
      expect(oa.redispatches).toBe(met);
      expect(s.requests).toBe(20);
      expect(s.status["2xx"]).toBe(20);
      expect(s.status["5xx"]).toBe(0);
    });

    test("deadPost", async () => {
      // two POSTs one after the other: one of them meets the dead origin (round-robin over two)
      const rs: Result[] = [];
      for (let i = 0; i < 2; i++) {
        rs.push(await send("deadpost", "/order", { method: "POST", headers: { "x-request-id": idOf("deadpost", i) }, body: `item=${i}` }));
      }
      expect(rs.map((r) => `${r.status} ${r.origin}`)).toEqual(["200 a", "200 a"]);
      const log = await a.log();
      for (let i = 0; i < 2; i++) expect(withId(log, idOf("deadpost", i)).map((e) => e.method)).toEqual(["POST"]);
      const s = await build.stats("deadpost");
      expect(s.origins[0].failures[build.refusedAs]).toBe(1);
      expect(s.origins[1].redispatches).toBe(1);
    });

    test("hungGet", async () => {
      // h first or second: round-robin over two sends exactly one of these GETs to h
      const rs: Result[] = [];
      for (let i = 0; i < 2; i++) rs.push(await send("hung", `/get${i}`, { headers: { "x-request-id": idOf("hung", i) } }));
      expect(rs.map((r) => `${r.status} ${r.origin}`)).toEqual(["200 b", "200 b"]);
      const hl = await h.log(), bl = await b.log();
      const viaH = [0, 1].filter((i) => withId(hl, idOf("hung", i)).length > 0);
      expect(viaH).toHaveLength(1);
      const i = viaH[0];
      expect(withId(hl, idOf("hung", i))).toHaveLength(1);
      for (const j of [0, 1]) expect(withId(bl, idOf("hung", j))).toHaveLength(1);
      // it waited for the header timeout (400ms) on h, then b answered at once
      expect(rs[i].ms).toBeGreaterThanOrEqual(380);
      expect(rs[i].ms).toBeLessThan(3000);
      expect(rs[1 - i].ms).toBeLessThan(380);
      const s = await build.stats("hung");
      const [sh, sb] = s.origins;
      expect(sh.tries).toBe(1);
      expect(sh.failures["header-timeout"]).toBe(1);
      expect(sh.ejected).toBe(true);
      expect(sb.tries).toBe(2);
      expect(sb.retries).toBe(1);
      expect(sb.redispatches).toBe(1);
      expect(s.status["2xx"]).toBe(2);
    });

    test("hungPost", async () => {
      const id = idOf("hungpost");
      const r = await send("hungpost", "/order", { method: "POST", headers: { "x-request-id": id }, body: "item=42" });
      expect(r.status).toBe(504);
      expect(r.ms).toBeGreaterThanOrEqual(380);
      expect(r.ms).toBeLessThan(3000);
      // h received it once; it was not sent again, not to h and not to the backup b
      expect(withId(await h.log(), id).map((e) => e.method)).toEqual(["POST"]);
      expect(withId(await b.log(), id)).toEqual([]);
      const s = await build.stats("hungpost");
      const [sh, sb] = s.origins;
      expect(sh.tries).toBe(1);
      expect(sh.failures["header-timeout"]).toBe(1);
      expect(sb.tries).toBe(0);
      expect(sb.retries + sh.retries).toBe(0);
      expect(s.status["5xx"]).toBe(1);
    });

    test("headerTimeoutPrecise", async () => {
      const r = await send("hungsolo", "/slow");
      expect(r.status).toBe(504);
      expect(r.ms).toBeGreaterThanOrEqual(240);
      expect(r.ms).toBeLessThan(400);
      const s = await build.stats("hungsolo");
      expect(s.origins[0].failures["header-timeout"]).toBe(1);
    });

    test("deadlineHeaders", async () => {
      const id = idOf("deadline");
      const r = await send("deadline", "/slow", { headers: { "x-request-id": id } });
      expect(r.status).toBe(504);
      expect(r.ms).toBeGreaterThanOrEqual(280);
      expect(r.ms).toBeLessThan(1500);
      expect(withId(await h.log(), id)).toHaveLength(1);
      const s = await build.stats("deadline");
      expect(s.origins[0].failures).toEqual(Object.fromEntries(Object.keys(s.origins[0].failures).map((k) => [k, 0])));
      expect(s.origins[0].ejected).toBe(false);
      expect(s.origins[0].inflight).toBe(0);
      expect(s.status["5xx"]).toBe(1);
    });

    test("deadlineBody", async () => {
      await b.setMode({ mode: "stall-mid-body", bytes: 1000 });
      try {
        const t0 = Date.now();
        const got = await send("deadlinebody", "/big").then(
          (r) => `a complete response: ${r.status}, ${r.body.length} bytes`,
          () => "cut",
        );
        const ms = Date.now() - t0;
        expect(got).toBe("cut");
        expect(ms).toBeGreaterThanOrEqual(280);
        expect(ms).toBeLessThan(1500);
        let s = await build.stats("deadlinebody");
        for (let i = 0; i < 20 && s.origins[0].inflight !== 0; i++) {
          await sleep(50);
          s = await build.stats("deadlinebody");
        }
        expect(s.origins[0].inflight).toBe(0);
        expect(s.origins[0].failures).toEqual(Object.fromEntries(Object.keys(s.origins[0].failures).map((k) => [k, 0])));
        expect(s.origins[0].ejected).toBe(false);
      } finally {
        await b.setMode({ mode: "ok" });
      }
    });

    test("sameOrigin", async () => {
      // two GETs: round-robin over x and b starts one of them on x, where it stays
      const rs: Result[] = [];
      for (let i = 0; i < 2; i++) rs.push(await send("sameorigin", `/same${i}`, { headers: { "x-request-id": idOf("same", i) } }));
      expect(rs.map((r) => r.status).sort()).toEqual([200, 502]);
      const i = rs.findIndex((r) => r.status === 502);
      expect(rs[1 - i].origin).toBe("b");
      expect(withId(await x.log(), idOf("same", i))).toHaveLength(3);
      expect(withId(await b.log(), idOf("same", i))).toEqual([]);
      expect(withId(await x.log(), idOf("same", 1 - i))).toEqual([]);
      const s = await build.stats("sameorigin");
      const [sx, sb] = s.origins;
      expect(sx.tries).toBe(3);
      expect(sx.failures["empty-response"]).toBe(3);
      expect(sx.retries).toBe(2);
      expect(sx.redispatches).toBe(0);
      expect(sb.tries).toBe(1);
      expect(sb.retries + sb.redispatches).toBe(0);
      expect(s.status["5xx"]).toBe(1);
      expect(s.status["2xx"]).toBe(1);
    });

    test("allDown", async () => {
      // until the checks (every 250ms) have taken both down, requests still try them (fail open)
      const until = Date.now() + 10_000;
      let last: Result | null = null;
      while (Date.now() < until) {
        last = await send("alldead", "/poll");
        if (last.status === 503 && last.headers.get("retry-after") !== null) break;
        await sleep(100);
      }
      expect(last?.headers.get("retry-after"), `last answer ${last?.status} ${last?.body}`).toBe("1");
      const before = await build.stats("alldead");
      expect(before.origins.map((o) => o.up)).toEqual([false, false]);
      const r = await send("alldead", "/x", { headers: { "x-request-id": idOf("alldown") } });
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBe("1");
      expect(r.body).toMatch(/no origin is available/);
      expect(r.ms).toBeLessThan(1000);
      const after = await build.stats("alldead");
      expect(after.noOrigin).toBe(before.noOrigin + 1);
      expect(after.origins.map((o) => o.tries)).toEqual(before.origins.map((o) => o.tries));
    });

    test("statsAuth", async () => {
      const path = "/__edgelb/stats?format=json";
      expect((await send("stats", path)).status).toBe(401);
      expect((await send("stats", path, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      const ok = await send("stats", path, { headers: { authorization: `Bearer ${TEST_SECRETS.EDGELB_STATS_TOKEN}` } });
      expect(ok.status).toBe(200);
      const names = (JSON.parse(ok.body) as { pools: { name: string }[] }).pools.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(["webfarm", "alternate", "hung", "alldead"]));
    });

    const missing = Object.keys(CASE).filter((k) => !registered.has(k));
    if (missing.length) throw new Error(`cases named in CASE but never registered: ${missing.join(", ")}`);
  });
}
