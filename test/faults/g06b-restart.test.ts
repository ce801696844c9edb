// G6b (issue 8, item 6): a restart hands the port over with listen.reusePort. Process A serves under
// steady load; B starts on the same port; A gets SIGTERM and drains. Not one request may fail.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EDGELB, start, waitFor as waitUntil } from "../agent/helpers.ts";
import { countBy, freePort, killOrigins, paced, poolOf, report, startLbProcess, startOrigin, stopAll, summary, tempDir, warm, type LbProcess } from "./kit/index.ts";

afterEach(async () => {
  await stopAll();
  await killOrigins();
});

/** Request lines of one process (its stderr), by path prefix. */
const served = (lb: LbProcess, prefix: string) => lb.events().filter((e) => e.event === "request" && String(e.path).startsWith(prefix));

describe("G6b restart with reusePort under load", () => {
  it("A serves, B starts on the same port, A gets SIGTERM: 0 failed requests, both served, A exits 0", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const port = await freePort();
    const config = { listen: { host: "127.0.0.1", port, reusePort: true }, pools: { webfarm: poolOf([web01, web02]) } };
    const a = await startLbProcess(config);
    expect(a.url).toBe(`http://127.0.0.1:${port}`);
    await warm(a.url);

    let b: LbProcess | null = null;
    let bStarted: Promise<void> | null = null;
    let termAt = 0;
    const rs = await paced(a.url, {
      rate: 400,
      durationMs: 5000,
      prefix: "g6b-",
      make: (i) => (i % 4 === 3 ? { method: "POST", path: `/g6b/order/${i}`, body: `item=${i}` } : { path: `/g6b/p/${i}` }),
      onTick: (now) => {
        // B at 1 s; A stopped 300 ms after B listens
        if (now >= 1000 && !bStarted) bStarted = startLbProcess(config).then((x) => void (b = x));
        if (b && !termAt && now >= 1300) {
          termAt = now;
          a.child.proc.kill("SIGTERM");
        }
      },
    });
    await bStarted;
    const code = await a.child.exited;
    const failed = rs.filter((r) => r.status !== 200);
    // A's last lines and B's newest ones reach the pipes a moment after the fact
    await waitUntil("every request in one log", () => served(a, "/g6b/").length + served(b!, "/g6b/").length, (n) => n >= rs.length, 3000).catch(() => {});
    const byA = served(a, "/g6b/").length, byB = served(b!, "/g6b/").length;
    report("G6b", {
      requests: rs.length,
      failed: failed.length,
      firstFailed: failed[0] ?? null,
      termAtMs: Math.round(termAt),
      servedByA: byA,
      servedByB: byB,
      exitA: code,
      byOrigin: countBy(rs, (r) => r.origin ?? "none"),
      latency: summary(rs),
    });
    expect(termAt).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    expect(code).toBe(0);
    // every request is in exactly one process's log, and each process served a good share
    expect(byA + byB).toBe(rs.length);
    expect(byA).toBeGreaterThan(100);
    expect(byB).toBeGreaterThan(100);
    // A said it stopped; B keeps serving
    expect(a.events().some((e) => e.event === "stopped")).toBe(true);
    expect((await fetch(`${b!.url}/__edgelb/healthz`)).status).toBe(200);
  });

  it("without reusePort, a second process cannot bind the port, and says how to hand it over", async () => {
    const web01 = await startOrigin("web01");
    const port = await freePort();
    const config = { listen: { host: "127.0.0.1", port }, pools: { webfarm: poolOf([web01]) } };
    await startLbProcess(config);
    const dir = tempDir("g6b");
    const file = join(dir, "edgelb.json");
    writeFileSync(file, JSON.stringify(config));
    const second = start(EDGELB, ["serve", "--config", file]);
    expect(await second.exited).toBe(1);
    await waitUntil("stderr", () => second.stderr(), (s) => s.length > 0, 2000);
    expect(second.stderr()).toMatch(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE .*listen\.reusePort/);
  });
});
