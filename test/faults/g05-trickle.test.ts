// G5: a trickling origin: every response is aborted at the total deadline +/- 1 s.
import { afterEach, describe, expect, it } from "vitest";
import { killOrigins, report, send, startBalancer, startFaultProxy, startOrigin } from "./kit/index.ts";

afterEach(killOrigins);

const TOTAL_MS = 1500;

describe("G5 trickling origin", () => {
  it("every response is aborted at the total deadline +/- 1 s, whether the head or the body trickles", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    // web01: the whole response trickles, one byte every 25 ms, through the proxy (its head alone takes ~3 s)
    const wire = await startFaultProxy(web01.url);
    wire.set({ trickle: { everyMs: 25 } });
    // web02: the head comes at once, then the body trickles one byte every 50 ms from the origin itself
    await web02.setMode({ mode: "trickle", everyMs: 50 });
    const pool = (url: string) => ({ origins: [{ name: "o", url }], check: { enabled: false }, timeouts: { total: `${TOTAL_MS}ms` } });
    const b = await startBalancer({ pools: { head: pool(wire.url), body: pool(web02.url) }, routes: [{ host: ["body.test"], pool: "body" }] });
    try {
      const one = async (host: string) => {
        const t0 = performance.now();
        const r = await send(b.url, { path: "/slow", headers: { host } });
        return { ...r, ms: performance.now() - t0 };
      };
      const rs = await Promise.all([...Array.from({ length: 10 }, () => one("head.test")), ...Array.from({ length: 10 }, () => one("body.test"))]);
      const head = rs.slice(0, 10), body = rs.slice(10);
      const ms = rs.map((r) => Math.round(r.ms));
      report("G5", {
        deadlineMs: TOTAL_MS,
        headTrickle: head.map((r) => `${r.status || r.error}@${Math.round(r.ms)}`),
        bodyTrickle: body.map((r) => `${r.status || r.error}@${Math.round(r.ms)}`),
        spreadMs: [Math.min(...ms), Math.max(...ms)],
      });
      for (const r of rs) {
        expect(r.ms).toBeGreaterThanOrEqual(TOTAL_MS - 1000);
        expect(r.ms).toBeLessThanOrEqual(TOTAL_MS + 1000);
      }
      // no head yet at the deadline: 504; head sent: the body is cut, the client sees a truncated response
      for (const r of head) expect(r.status).toBe(504);
      for (const r of body) expect(r.error).not.toBeNull();
    } finally {
      await b.close();
      await wire.close();
    }
  });
});
