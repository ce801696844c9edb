// G8: every origin down: 503 with Retry-After, fast, no upstream attempts beyond the probes; recovery
// within rise x inter. Through a real `edgelb serve` process.
import { afterEach, describe, expect, it } from "vitest";
import { countBy, killOrigins, paced, percentile, report, startFaultProxy, startLbProcess, startOrigin, stopAll, summary, waitFor, warm } from "./kit/index.ts";

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

      // down by their checks: 500 req/s for 2 s (1,000 requests: one stall of the machine alone cannot make the
      // p99), the checks' results sampled every 100 ms meanwhile
      const triesBefore = await tries();
      const seenChecks = new Set<string>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const o of (await lb.pool()).origins) if (o.lastCheck) seenChecks.add(`${o.name}@${o.lastCheck.at}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const down = await paced(lb.url, { rate: 500, durationMs: 2000, prefix: "g8b-" });
      sampling = false;
      await sampler;
      const attempts = (await tries()) - triesBefore;

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
        downByChecks: { requests: down.length, statuses: countBy(down, (r) => String(r.status)), latency: summary(down), upstreamAttempts: attempts, probes: seenChecks.size },
        recoveryMs: Math.round(recoveryMs),
        lastFailureAfterUpMs: lastFailure ? Math.round(lastFailure.at - upAt) : null,
      });

      expect(down.every((r) => r.status === 503)).toBe(true);
      expect(down.every((r) => r.headers["retry-after"] === String(Math.ceil(INTER / 1000)))).toBe(true);
      expect(percentile(down.map((r) => r.ms), 99)).toBeLessThanOrEqual(10);
      expect(attempts).toBeLessThanOrEqual(down.length);
      expect(attempts).toBe(0);
      // the probes went on meanwhile (2 origins every 500 ms for 2 s, sampled every 100 ms)
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
