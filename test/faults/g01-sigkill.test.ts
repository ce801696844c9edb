// G1: SIGKILL one of two origins under load (500 req/s of GET, HEAD and POST).
import { afterEach, describe, expect, it } from "vitest";
import { killOrigins, paced, report, seenTwice, startBalancer, startOrigin, synced, waitFor, warm } from "./kit/index.ts";

afterEach(killOrigins);

describe("G1 SIGKILL of one origin under load", () => {
  it("0 failed GET/HEAD, failed POSTs <= POSTs in flight on it at the kill, no POST seen twice", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    // POSTs go to a pool of their own over the same two origins (routed by Host), so the balancer's own
    // in-flight count on web01 in that pool is the number of POSTs in flight on web01
    const pool = { origins: [{ name: "web01", url: web01.url }, { name: "web02", url: web02.url }], check: { interval: "1s", timeout: "500ms" } };
    const b = await startBalancer({ pools: { site: pool, orders: pool }, routes: [{ host: ["orders.test"], pool: "orders" }] });
    const orders = () => b.lb.stats().pools.find((p) => p.name === "orders")!.origins[0];
    try {
      await warm(b.url);
      // 50 ms per answer: at 500 req/s about a dozen requests are in flight on each origin
      await Promise.all([web01.setMode({ mode: "ok", delayMs: 50 }), web02.setMode({ mode: "ok", delayMs: 50 })]);
      let killAt = -1, postsInFlightAtKill = -1, triesAtKill = 0, refusedAtKill = 0;
      let killed: Promise<void> = Promise.resolve();
      const rs = await paced(b.url, {
        rate: 500,
        durationMs: 3000,
        prefix: "g1-",
        // GET, GET, HEAD, POST: a quarter of the load is POSTs, never replayable once sent
        make: (i) =>
          i % 4 === 3
            ? { method: "POST", path: `/order/${i}`, body: `item=${i}`, headers: { host: "orders.test" } }
            : { method: i % 4 === 2 ? "HEAD" : "GET", path: `/p/${i}` },
        onTick: (now) => {
          if (killAt === -1 && now >= 1000) {
            killAt = now;
            postsInFlightAtKill = b.lb.inflightOn("orders", 0);
            triesAtKill = orders().tries;
            refusedAtKill = orders().failures["connect-refused"];
            killed = web01.kill("SIGKILL");
          }
        },
      });
      await killed;
      await synced(web02);

      const failed = rs.filter((r) => r.status !== 200);
      const failedGetHead = failed.filter((r) => r.method !== "POST");
      const failedPosts = failed.filter((r) => r.method === "POST");
      // POSTs put on web01's connections after the kill, before the balancer could see it die (its keep-alive
      // sockets were already closed by the kernel): in flight on the dead origin too, from where the balancer stands
      const o = orders();
      const postsSentAfterKill = o.tries - triesAtKill - (o.failures["connect-refused"] - refusedAtKill);
      const twice = seenTwice([web01, web02], "POST");
      report("G1", {
        requests: rs.length,
        posts: rs.filter((r) => r.method === "POST").length,
        failedGetHead: failedGetHead.length,
        failedPosts: failedPosts.length,
        failedPostReasons: [...new Set(failedPosts.map((r) => `${r.status} ${r.body.trim()}`))],
        postsInFlightOnWeb01AtKill: postsInFlightAtKill,
        postsSentToWeb01AfterKill: postsSentAfterKill,
        postsRefusedAndRetried: o.failures["connect-refused"] - refusedAtKill,
        getsRedispatched: b.lb.stats().pools[0].origins[1].redispatches,
        postsSeenTwice: Object.keys(twice).length,
      });

      expect(killAt).toBeGreaterThan(0);
      expect(failedGetHead).toEqual([]);
      expect(failedPosts.length).toBeLessThanOrEqual(postsInFlightAtKill + postsSentAfterKill);
      // each failed POST had been sent to web01 (502 after its bytes left), none was refused and then dropped
      for (const r of failedPosts) expect(`${r.status} ${r.body.trim()}`).toBe("502 Bad Gateway: empty-response");
      expect(twice).toEqual({});
      // the dead origin was ejected at its first failure, then kept out by its checks
      await waitFor(() => !b.lb.stats().pools.every((p) => p.origins[0].up), 3000);
      expect(o.ejections).toBe(1);
      expect(rs.filter((r) => r.at > killAt + 200).every((r) => r.origin === "web02")).toBe(true);
    } finally {
      await b.close();
    }
  });
});
