// G6: 10 SIGHUP reloads of a real `edgelb serve` process during load, and one broken config among them.
import { afterEach, describe, expect, it } from "vitest";
import type { BalancerStats } from "../../core/stats/model.ts";
import { countBy, killOrigins, paced, report, startLbProcess, startOrigin, stopAll, summary, warm, writeAtomic } from "./kit/index.ts";

afterEach(async () => {
  await stopAll();
  await killOrigins();
});

describe("G6 reloads under load", () => {
  it("10 SIGHUP reloads at 500 req/s: 0 failed requests; a broken config is refused, said in the log and on the stats", async () => {
    const [web01, web02, web03] = await Promise.all([startOrigin("web01"), startOrigin("web02"), startOrigin("web03")]);
    const o = (x: typeof web01, weight = 1) => ({ name: x.name, url: x.url, weight });
    // each reload changes the pool (weights, a third origin in and out, check timing): a new pool runtime each time
    const variants = [
      [o(web01, 2), o(web02)],
      [o(web01), o(web02), o(web03)],
      [o(web01), o(web02, 3), o(web03)],
      [o(web01), o(web02)],
      [o(web01), o(web02), o(web03, 2)],
    ];
    const config = (i: number) => ({
      listen: { host: "127.0.0.1", port: 0 },
      pools: { webfarm: { origins: variants[i % variants.length], check: { interval: i % 2 ? "500ms" : "700ms" } } },
    });
    const lb = await startLbProcess(config(3));
    await warm(lb.url);

    const reloads: { at: number; broken: boolean }[] = [];
    let refusedSeen: Promise<BalancerStats> | null = null;
    const rs = await paced(lb.url, {
      rate: 500,
      durationMs: 4000,
      prefix: "g6-",
      make: (i) => (i % 4 === 3 ? { method: "POST", path: `/order/${i}`, body: `item=${i}` } : { path: `/p/${i}` }),
      onTick: (now) => {
        // a reload every 300 ms from 300 ms on: 10 good ones, and a broken one (the 6th SIGHUP)
        if (reloads.length >= 11 || now < 300 + reloads.length * 300) return;
        const broken = reloads.length === 5;
        if (broken) writeAtomic(lb.file, JSON.stringify({ ...config(0), pools: { webfarm: { origins: [{ name: "web01", url: web01.url, weight: 1000 }] } } }));
        else writeAtomic(lb.file, JSON.stringify(config(reloads.length)));
        lb.child.proc.kill("SIGHUP");
        reloads.push({ at: now, broken });
        // the stats while the broken file is in place (the next good reload comes 300 ms later)
        if (broken) refusedSeen = new Promise((r) => setTimeout(r, 100)).then(() => lb.stats());
      },
    });
    const during = await refusedSeen!;
    const after = await lb.stats();
    const events = lb.events();
    const applied = events.filter((e) => e.event === "reload");
    const refused = events.filter((e) => e.event === "reload-refused");
    const failed = rs.filter((r) => r.status !== 200);
    report("G6", {
      requests: rs.length,
      failed: failed.length,
      sighups: reloads.length,
      applied: applied.length,
      refused: refused.map((e) => e.problems),
      statsWhileBroken: during.reload,
      statsAfter: { ...after.reload, last: after.reload?.last?.ok },
      servedBy: countBy(rs, (r) => r.origin ?? "none"),
      latency: summary(rs),
    });

    expect(reloads.length).toBe(11);
    expect(failed).toEqual([]);
    expect(applied).toHaveLength(10);
    // the log says why, naming the path and the value
    expect(refused).toHaveLength(1);
    expect(refused[0].problems).toEqual(["pools.webfarm.origins[0].weight: must be 0-256, got 1000"]);
    // ... and so do the stats, while the broken file is in place; the old config keeps serving
    expect(during.reload?.last).toMatchObject({ ok: false, problems: ["pools.webfarm.origins[0].weight: must be 0-256, got 1000"] });
    expect(during.reload?.refused).toBe(1);
    expect(during.pools[0].origins.map((x) => x.name)).toEqual(["web01", "web02", "web03"]);
    expect(after.reload).toMatchObject({ applied: 10, refused: 1, last: { ok: true } });
    // the last config (variant 10 % 5 = 0: web01 x2, web02) is the one serving
    expect(after.pools[0].origins.map((x) => [x.name, x.weight.configured])).toEqual([["web01", 2], ["web02", 1]]);
    // every origin took part (web03 only in some variants)
    expect(Object.keys(countBy(rs, (r) => r.origin ?? "none")).sort()).toEqual(["web01", "web02", "web03"]);
  });
});
