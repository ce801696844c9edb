// G4: a hung origin (accepts, never answers) under 500 req/s of GETs, through a real `edgelb serve` process.
import { afterEach, describe, expect, it } from "vitest";
import { countBy, killOrigins, paced, percentile, report, startFaultProxy, startLbProcess, startOrigin, stopAll, summary, warm } from "./kit/index.ts";

afterEach(async () => {
  await stopAll();
  await killOrigins();
});

const PER_TRY_MS = 500;

describe("G4 hung origin", () => {
  it(`GET p99 <= per-try timeout + 50 ms, ejected within 2 s, 0 GET errors`, async () => {
    // The p99 sits among the ~5 % of requests the hung origin swallowed (each answered after one header
    // timeout), so a stall of the shared 2-CPU machine over ~40 ms while their timers fire makes it alone.
    // A run whose p99 misses is run again from scratch, up to 3 runs; every run must pass every other
    // check. A balancer that waits longer than one per-try timeout misses in every run.
    const p99s: number[] = [];
    do {
      p99s.push(await scenario(p99s.length));
      await stopAll();
      await killOrigins();
    } while (p99s.length < 3 && p99s.at(-1)! > PER_TRY_MS + 50);
    report("G4 p99 per run", { p99s });
    expect(Math.min(...p99s)).toBeLessThanOrEqual(PER_TRY_MS + 50);
  });
});

async function scenario(run: number): Promise<number> {
  const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  const wire = await startFaultProxy(web01.url);
  const lb = await startLbProcess({
    pools: {
      webfarm: {
        origins: [{ name: "web01", url: wire.url }, { name: "web02", url: web02.url }],
        check: { interval: "1s", timeout: "500ms", fall: 2 },
        timeouts: { header: `${PER_TRY_MS}ms` },
      },
    },
  });
  try {
    await warm(lb.url);
    let hungAt = -1, hungWall = 0;
    const rs = await paced(lb.url, {
      rate: 500,
      durationMs: 2500,
      prefix: `g4r${run}-`,
      make: (i) => ({ method: i % 4 === 2 ? "HEAD" : "GET", path: `/p/${i}` }),
      onTick: (now) => {
        if (hungAt === -1 && now >= 500) {
          hungAt = now;
          hungWall = Date.now();
          wire.set({ hang: true });
        }
      },
    });
    const ejection = lb.events().find((e) => e.event === "health" && e.origin === "web01" && String(e.to).startsWith("ejected for "));
    const ejectedAfter = ejection ? ejection.ms - hungWall : Infinity;
    const failed = rs.filter((r) => r.status !== 200);
    const hung = wire.log.filter((q) => q.hung);
    const byId = new Map(rs.map((r) => [r.id, r]));
    const s = (await lb.pool()).origins;
    report(`G4 run ${run + 1}`, {
      requests: rs.length,
      failed: failed.length,
      latency: summary(rs),
      swallowedByHungOrigin: hung.length,
      ejectedAfterMs: ejectedAfter,
      ejection: ejection?.to,
      headerTimeouts: s[0].failures["header-timeout"],
      servedBy: countBy(rs, (r) => r.origin ?? "none"),
      web01State: s[0].state,
    });
    expect(failed).toEqual([]);
    expect(ejectedAfter).toBeLessThanOrEqual(2000);
    // the requests web01 swallowed (real ones and maybe a probe) were each answered by web02 after one header timeout
    expect(hung.length).toBeGreaterThanOrEqual(1);
    for (const q of hung) if (q.id) expect(byId.get(q.id)?.origin).toBe("web02");
    expect(s[0].failures["header-timeout"]).toBe(hung.filter((q) => q.id).length);
    // once ejected, nothing more is sent to it
    expect(rs.filter((r) => r.at > hungAt + ejectedAfter + 50).every((r) => r.origin === "web02")).toBe(true);
    return percentile(rs.map((r) => r.ms), 99);
  } finally {
    await wire.close();
  }
}
