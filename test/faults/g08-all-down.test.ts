// G8: every origin down: 503 with Retry-After, fast, no upstream attempts beyond the probes; recovery
// within rise x inter. Through a real `edgelb serve` process.
import { afterEach, describe, expect, it } from "vitest";
import { type Timed, countBy, killOrigins, paced, percentile, report, startFaultProxy, startLbProcess, startOrigin, stopAll, summary, waitFor, warm } from "./kit/index.ts";

afterEach(async () => {
  await stopAll();
  await killOrigins();
});

const INTER = 500, RISE = 2;

describe("G8 all origins down", () => {
  it("503 with Retry-After, p99 <= 10 ms, <= 1 upstream attempt per request plus probes; back within rise x inter", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    // each origin behind a proxy: down() makes it refuse connections, up() brings it back on the same port
    const [p1, p2] = await Promise.all([startFaultProxy(web01.url), startFaultProxy(web02.url)]);
    const lb = await startLbProcess({
      pools: {
        webfarm: {
          origins: [{ name: "web01", url: p1.url }, { name: "web02", url: p2.url }],
          check: { interval: `${INTER}ms`, timeout: "250ms", rise: RISE, fall: 2 },
        },
      },
    });
    const tries = async () => (await lb.pool()).origins.reduce((n, o) => n + o.tries, 0);
    try {
      await warm(lb.url);
      // both die under load; until their checks take them out, requests still try them (fail open)
      let downAt = -1;
      const triesBeforeDying = await tries();
      const dying = await paced(lb.url, {
        rate: 500,
        durationMs: 1200,
        prefix: "g8a-",
        onTick: (now) => {
          if (downAt === -1 && now >= 100) {
            downAt = now;
            void p1.down();
            void p2.down();
          }
        },
      });
      await waitFor(async () => (await lb.pool()).origins.every((o) => !o.up), 3000);
      const afterDown = dying.filter((r) => r.at > downAt);
      const triesWhileDying = (await tries()) - triesBeforeDying;

      // down by their checks: 500 req/s for 2 s (1,000 requests), the checks' results sampled every 100 ms
      // meanwhile. The p99 bound is on the balancer; the client, the fault proxies and the balancer share
      // 2 CPUs, and one stall of the machine longer than 10 ms in 1 % of a window's requests makes its p99
      // alone (CI saw 12 ms once where it is ~4 ms). So a window whose p99 misses is measured again, up to
      // 3 windows; every window must be all 503s with Retry-After and 0 upstream attempts. A balancer that
      // waits on anything (a connect, a queue, a timer) misses in every window.
      const seenChecks = new Set<string>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const o of (await lb.pool()).origins) if (o.lastCheck) seenChecks.add(`${o.name}@${o.lastCheck.at}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const windows: { down: Timed[]; attempts: number; p99: number }[] = [];
      do {
        const triesBefore = await tries();
        const down = await paced(lb.url, { rate: 500, durationMs: 2000, prefix: `g8b${windows.length}-` });
        windows.push({ down, attempts: (await tries()) - triesBefore, p99: percentile(down.map((r) => r.ms), 99) });
      } while (windows.length < 3 && windows.at(-1)!.p99 > 10);
      sampling = false;
      await sampler;

      // both come back: the first 200 within rise x inter (+10 % check spread, + one check's time)
      let upAt = -1;
      const back = await paced(lb.url, {
        rate: 500,
        durationMs: 2000,
        prefix: "g8c-",
        onTick: (now) => {
          if (upAt === -1 && now >= 200) {
            upAt = now;
            void p1.up();
            void p2.up();
          }
        },
      });
      const firstOk = back.find((r) => r.status === 200);
      const recoveryMs = firstOk ? firstOk.at + firstOk.ms - upAt : Infinity;
      const lastFailure = back.findLast((r) => r.status !== 200);

      report("G8", {
        whileDying: {
          requests: afterDown.length,
          statuses: countBy(afterDown, (r) => String(r.status)),
          withRetryAfter: afterDown.filter((r) => r.headers["retry-after"]).length,
          upstreamAttempts: triesWhileDying,
          latency: summary(afterDown),
        },
        downByChecks: windows.map(({ down, attempts }) => ({ requests: down.length, statuses: countBy(down, (r) => String(r.status)), latency: summary(down), upstreamAttempts: attempts })),
        probes: seenChecks.size,
        recoveryMs: Math.round(recoveryMs),
        lastFailureAfterUpMs: lastFailure ? Math.round(lastFailure.at - upAt) : null,
      });

      for (const { down, attempts } of windows) {
        expect(down.length).toBeGreaterThan(900);
        expect(down.every((r) => r.status === 503)).toBe(true);
        expect(down.every((r) => r.headers["retry-after"] === String(Math.ceil(INTER / 1000)))).toBe(true);
        expect(attempts).toBe(0);
      }
      expect(Math.min(...windows.map((w) => w.p99))).toBeLessThanOrEqual(10);
      // the probes went on meanwhile (2 origins every 500 ms for >= 2 s, sampled every 100 ms)
      expect(seenChecks.size).toBeGreaterThanOrEqual(6);
      // while they were dying (out by passive ejection only: fail open, one try per request) every answer
      // was still an error of ours, none hung, and no request made more than one attempt, but for the few
      // whose try was on its way when the origins died, or that found the second one dead too before it was ejected
      expect(afterDown.every((r) => r.status === 503 || r.status === 502)).toBe(true);
      expect(triesWhileDying).toBeLessThanOrEqual(dying.length + 4);
      expect(recoveryMs).toBeLessThanOrEqual(RISE * INTER * 1.1 + 250);
      const settled = back.filter((r) => r.at > upAt + RISE * INTER * 1.1 + 250);
      expect(settled.length).toBeGreaterThan(100);
      expect(settled.every((r) => r.status === 200)).toBe(true);
    } finally {
      await Promise.all([p1.close(), p2.close()]);
    }
  });
});
