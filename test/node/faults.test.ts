import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { countBy, killOrigins, load, poolOf, send, startBalancer, startOrigin, synced, waitFor } from "../support/harness.ts";

afterEach(killOrigins);

describe("faults (Node build, real sockets)", () => {
  it("SIGKILL of one origin during 2,000 GETs at 64 concurrent loses no GET", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    await Promise.all([web01.setMode({ mode: "ok", delayMs: 200 }), web02.setMode({ mode: "ok", delayMs: 200 })]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { interval: "1s", timeout: "500ms" } }) } });
    try {
      let killedAt = -1;
      let inFlightOnVictim = 0;
      const results = await load(b.url, 2000, 64, (i) => ({ path: `/r${i}` }), (done) => {
        // kill once the run is well under way and dozens of GETs are in flight on web01
        if (done >= 300 && killedAt === -1 && b.lb.inflightOn("webfarm", 0) >= 20) {
          killedAt = done;
          inFlightOnVictim = b.stats().origins[0].inflight;
          void web01.kill("SIGKILL");
        }
      });
      const failed = results.filter((r) => r.status !== 200);
      expect(killedAt).toBeGreaterThanOrEqual(300);
      expect(killedAt).toBeLessThan(1500);
      // dozens of GETs were in flight on web01 when it died; none of them failed
      expect(inFlightOnVictim).toBeGreaterThanOrEqual(20);
      expect(failed).toEqual([]);
      const by = countBy(results, (r) => r.origin ?? "none");
      expect(by.web01 + by.web02).toBe(2000);
      expect(by.web02).toBeGreaterThan(1000);
      const s = b.stats().origins[0];
      // the GETs in flight on web01 failed there (less the few whose responses were already on their
      // way when the signal landed: on a loaded machine the balancer reads them after counting
      // `inflight`), as did any sent to it before its ejection; each failure went on to web02
      const lost = s.failures["empty-response"] + s.failures["connect-refused"];
      expect(lost).toBeGreaterThanOrEqual(20);
      expect(b.stats().origins[1].redispatches).toBeGreaterThanOrEqual(lost);
      // ejected once at its first failure and kept out (its checks fail), not re-tried and re-ejected
      expect(s.ejections).toBe(1);
      expect(s.up).toBe(false);
    } finally {
      await b.close();
    }
  });

  it("hung origin: a GET is redispatched after the header timeout; a POST that was sent is not replayed and gets 504", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    await web01.setMode({ mode: "hang" });
    const pool = poolOf([web01, web02], { check: { enabled: false }, timeouts: { header: "400ms" } });
    // first request of a fresh balancer goes to web01 (the hung one)
    let b = await startBalancer({ pools: { webfarm: pool } });
    try {
      const t0 = Date.now();
      const r = await send(b.url, { path: "/get", headers: { "x-request-id": "get-1" } });
      expect(r.status).toBe(200);
      expect(r.origin).toBe("web02");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
      const more = await load(b.url, 50, 8);
      expect(more.filter((x) => x.status !== 200)).toEqual([]);
      await synced(web01, web02);
      expect(web01.requests.filter((q) => q.id === "get-1")).toHaveLength(1);
      expect(web02.requests.filter((q) => q.id === "get-1")).toHaveLength(1);
      expect(b.stats().origins[0].failures["header-timeout"]).toBe(1);
      expect(b.stats().origins[0].ejected).toBe(true);
    } finally {
      await b.close();
    }
    b = await startBalancer({ pools: { webfarm: pool } });
    try {
      const r = await send(b.url, { method: "POST", path: "/order", headers: { "x-request-id": "post-1" }, body: "item=42" });
      expect(r.status).toBe(504);
      await synced(web01, web02);
      expect(web01.requests.filter((q) => q.id === "post-1")).toHaveLength(1);
      expect(web02.requests.filter((q) => q.id === "post-1")).toHaveLength(0);
    } finally {
      await b.close();
    }
  });

  it("redispatch off: a GET is retried on the same origin, `retries` times, then 502", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    await web01.setMode({ mode: "close" });
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false }, redispatch: false, retries: 2, passive: { enabled: false } }) } });
    try {
      const r = await send(b.url, { path: "/same", headers: { "x-request-id": "same-1" } });
      expect(r.status).toBe(502);
      await synced(web01, web02);
      expect(web01.requests.filter((q) => q.id === "same-1")).toHaveLength(3);
      expect(web02.requests.filter((q) => q.id === "same-1")).toHaveLength(0);
      expect(b.stats().origins[0].retries).toBe(2);
      expect(b.stats().origins[0].redispatches).toBe(0);
    } finally {
      await b.close();
    }
  });

  it("a POST whose connection was refused is retried on another origin (its bytes never left)", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) } });
    try {
      await web01.kill();
      const r = await send(b.url, { method: "POST", path: "/order", headers: { "x-request-id": "post-2" }, body: "item=1" });
      expect(r.status).toBe(200);
      expect(r.origin).toBe("web02");
      await synced(web02);
      expect(web02.requests.filter((q) => q.id === "post-2")).toHaveLength(1);
      expect(b.stats().origins[0].failures["connect-refused"]).toBe(1);
    } finally {
      await b.close();
    }
  });

  it("an origin that resets mid-body: the client sees a truncated response and the origin is ejected", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    await web01.setMode({ mode: "reset-mid-body", bytes: 1000 });
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) } });
    try {
      const { port } = new URL(b.url);
      const got = await new Promise<string>((resolve) => {
        const s = net.connect(Number(port), "127.0.0.1", () => s.write("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
        let out = "";
        s.on("data", (d) => (out += d.toString("latin1")));
        s.on("close", () => resolve(out));
        s.on("error", () => {});
      });
      const [head, body] = got.split("\r\n\r\n");
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      expect(head.toLowerCase()).toContain("content-length: 100000");
      // the connection closed before the announced length: a truncated response, not a complete one
      expect(body.length).toBeGreaterThan(0);
      expect(body.length).toBeLessThan(100_000);
      const s = b.stats().origins[0];
      expect(s.failures["body-error"]).toBe(1);
      expect(s.ejected).toBe(true);
      // the next requests avoid web01
      const rs = await load(b.url, 10, 2);
      expect(countBy(rs, (r) => r.origin ?? "none")).toEqual({ web02: 10 });
    } finally {
      await b.close();
    }
  });

  it("all origins down: 503 with Retry-After, fast", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { interval: "200ms", timeout: "100ms", fall: 1 } }) } });
    try {
      await Promise.all([web01.kill(), web02.kill()]);
      await waitFor(() => b.stats().origins.every((o) => !o.up), 3000);
      const t0 = performance.now();
      const r = await send(b.url);
      const ms = performance.now() - t0;
      expect(r.status).toBe(503);
      expect(r.headers["retry-after"]).toBe("1");
      expect(ms).toBeLessThan(100);
      expect(b.stats().noOrigin).toBe(1);
    } finally {
      await b.close();
    }
  });

  it("every origin refused by passive signals only: fail open and try them, one try per request", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false }, passive: { baseEjection: "1m" } }) } });
    try {
      await web01.setMode({ mode: "close" });
      await web02.setMode({ mode: "close" });
      // both fail on real traffic and are ejected for a minute
      const r1 = await send(b.url);
      expect(r1.status).toBe(502);
      expect(b.stats().origins.every((o) => o.ejected)).toBe(true);
      await web01.setMode({ mode: "ok" });
      // each request gets one try among the ejected origins (a retry would go to another origin that
      // just failed: G8, at most one attempt per request while the farm is out); round-robin reaches web01
      const tries = () => b.stats().origins.reduce((n, o) => n + o.tries, 0);
      const before = tries();
      const rs = [await send(b.url), await send(b.url)];
      expect(tries() - before).toBe(2);
      expect(rs.filter((r) => r.status === 200).map((r) => r.origin)).toContain("web01");
    } finally {
      await b.close();
    }
  });

  it("a client that aborts does not count against the origin and aborts the upstream request", async () => {
    const [web01] = await Promise.all([startOrigin("web01")]);
    await web01.setMode({ mode: "ok", delayMs: 500 });
    const b = await startBalancer({ pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } });
    try {
      const ac = new AbortController();
      const p = fetch(b.url + "/slow", { signal: ac.signal }).catch((e) => e);
      await waitFor(() => b.stats().origins[0].inflight === 1, 2000);
      ac.abort();
      await p;
      await waitFor(() => b.stats().origins[0].inflight === 0, 2000);
      const s = b.stats().origins[0];
      expect(s.clientAborts).toBe(1);
      expect(s.ejected).toBe(false);
      expect(Object.values(s.failures).reduce((a, n) => a + n, 0)).toBe(0);
    } finally {
      await b.close();
    }
  });
});
