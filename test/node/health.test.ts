import { afterEach, describe, expect, it } from "vitest";
import { countBy, killOrigins, load, poolOf, startBalancer, startOrigin, waitFor } from "../support/harness.ts";

afterEach(killOrigins);

describe("active checks and slow start (Node build)", () => {
  it("a dead origin is marked down within fall x inter + timeout with no traffic, and back within rise x inter", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const inter = 300, timeout = 150, rise = 2, fall = 3;
    const b = await startBalancer({
      pools: { webfarm: poolOf([web01, web02], { check: { interval: `${inter}ms`, timeout: `${timeout}ms`, rise, fall } }) },
    });
    try {
      // let it be fully up (counter at rise + fall - 1) so it takes `fall` failures to go down
      await waitFor(() => (b.stats().origins[0].lastCheck?.at ?? 0) > 0, 2000);
      await new Promise((r) => setTimeout(r, inter * 3));
      expect(b.stats().origins[0].state).toBe("UP");
      await web01.kill();
      const down = await waitFor(() => !b.stats().origins[0].up, 5000, 10);
      // +10 % check spread, plus a margin for the test's own polling
      expect(down).toBeLessThanOrEqual(fall * inter * 1.1 + timeout + 150);
      expect(down).toBeGreaterThanOrEqual((fall - 1) * inter * 0.9);
      expect(b.stats().origins[0].lastCheck?.ok).toBe(false);
      expect(b.log.lines.some((l) => l.event === "health" && l.origin === "web01" && l.to === "DOWN")).toBe(true);
      await web01.restart();
      const up = await waitFor(() => b.stats().origins[0].up, 5000, 10);
      expect(up).toBeLessThanOrEqual(rise * inter * 1.1 + 150);
      expect(b.stats().origins[0].transitions).toBe(2);
    } finally {
      await b.close();
    }
  });

  it("a check that gets no answer within check.timeout fails as a timeout; a wrong status fails; a check answered with 1 MiB passes on its status", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({
      pools: { webfarm: poolOf([web01, web02], { check: { interval: "200ms", timeout: "150ms", rise: 1, fall: 1 } }) },
    });
    try {
      await waitFor(() => (b.stats().origins[0].lastCheck?.at ?? 0) > 0, 2000);
      // a body of 1 MiB: the check passes on the status (it reads at most 64 KiB of it)
      await web02.setMode({ mode: "ok", bodyBytes: 1 << 20 });
      await web01.setMode({ mode: "hang" });
      await waitFor(() => !b.stats().origins[0].up, 3000, 10);
      expect(b.stats().origins[0].lastCheck).toMatchObject({ ok: false, detail: "timeout after 150ms" });
      await web01.setMode({ mode: "ok", status: 500 });
      await waitFor(() => b.stats().origins[0].lastCheck?.detail === "HTTP 500", 3000, 10);
      expect(b.stats().origins[0].up).toBe(false);
      await web01.setMode({ mode: "ok" });
      await waitFor(() => b.stats().origins[0].up, 3000, 10);
      expect(b.stats().origins[1]).toMatchObject({ up: true, lastCheck: { ok: true, detail: "HTTP 200" } });
    } finally {
      await b.close();
    }
  });

  it("slow start ramps a recovered origin's share", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({
      pools: { webfarm: poolOf([web01, web02], { check: { interval: "100ms", timeout: "80ms", rise: 1, fall: 1 }, slowStart: "3s" }) },
    });
    try {
      await web01.kill();
      await waitFor(() => !b.stats().origins[0].up, 3000, 10);
      await web01.restart();
      await waitFor(() => b.stats().origins[0].up, 3000, 10);
      const early = countBy(await load(b.url, 100, 4), (r) => r.origin ?? "err");
      await new Promise((r) => setTimeout(r, 3200));
      const late = countBy(await load(b.url, 100, 4), (r) => r.origin ?? "err");
      // at first it gets a trickle; after slowStart the full half
      expect(early.web01 ?? 0).toBeGreaterThan(0);
      expect(early.web01 ?? 0).toBeLessThan(30);
      expect(late.web01).toBe(50);
      expect(late.web02).toBe(50);
    } finally {
      await b.close();
    }
  });
});
