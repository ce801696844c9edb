// G3: with no traffic, a dead origin is marked down within 3 s (inter 1 s, fall 2).
import { afterEach, describe, expect, it } from "vitest";
import { killOrigins, poolOf, report, startBalancer, startOrigin, waitFor } from "./kit/index.ts";

afterEach(killOrigins);

describe("G3 a dead origin without traffic", () => {
  it("is marked down by its checks within 3 s with inter 1s, fall 2", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { interval: "1s", fall: 2, rise: 2 } }) } });
    try {
      // one passing check brings the counter to rise + fall - 1: from here it takes `fall` failures
      await waitFor(() => b.stats().origins.every((o) => o.lastCheck?.ok === true), 3000);
      // die at an arbitrary point between two checks
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await web01.kill("SIGKILL");
      await waitFor(() => !b.stats().origins[0].up, 5000, 10);
      const ms = performance.now() - t0;
      const s = b.stats().origins;
      const line = b.log.lines.find((l) => l.event === "health" && l.origin === "web01" && l.to === "DOWN");
      report("G3", { downAfterMs: Math.round(ms), lastCheck: s[0].lastCheck?.detail, tries: s[0].tries, state: s[0].state, log: line?.reason });
      expect(ms).toBeLessThanOrEqual(3000);
      // two checks are needed: the first one after the kill leaves it UP, going down 1/2
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(s[0].state).toBe("DOWN");
      expect(s[0].tries).toBe(0);
      expect(line?.reason).toMatch(/^check failed: /);
      expect(s[1].state).toBe("UP");
    } finally {
      await b.close();
    }
  });
});
