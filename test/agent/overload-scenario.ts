// The overload scenario shared by test/agent/overload.test.ts (small, asserted) and
// `npm run bench -- overload` (bigger, printed): a farm of two origins where web02 is drowning
// (every answer 200 ms late, and its /proc shows load 3 per CPU), served by a real `edgelb serve`,
// with and without a real `edgelb-agent` on web02. Everything on 127.0.0.1; every process stopped by pid.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Pool } from "undici";
import { killOrigins, startOrigin } from "../support/harness.ts";
import { AGENT, originStats, start, startEdgelb, stopAll, tempDir, TEST_KEY, waitFor, writeProc } from "./helpers.ts";

export interface OverloadResult {
  withAgent: boolean;
  requests: number;
  failed: number;
  p50: number;
  p99: number;
  /** Share of requests the slow origin served. */
  slowShare: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `requests` GETs at `concurrency` through edgelb; with the agent, waits for its first report first. */
export async function runOverload(withAgent: boolean, requests: number, concurrency: number): Promise<OverloadResult> {
  const dir = tempDir("overload");
  const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  try {
    await web02.setMode({ mode: "ok", delayMs: 200 });
    const lb = await startEdgelb(
      dir,
      {
        pools: {
          webfarm: {
            origins: [
              { name: "web01", url: web01.url },
              { name: "web02", url: web02.url, agentKeys: ["EDGELB_EXAMPLE_AGENT_KEY"] },
            ],
            check: { interval: "500ms" },
          },
        },
      },
      { EDGELB_EXAMPLE_AGENT_KEY: TEST_KEY },
    );
    if (withAgent) {
      const proc = join(dir, "proc");
      writeProc(proc, { load: 12, cpus: 4 }); // 3 per CPU: past the hard threshold
      const keyFile = join(dir, "agent.key");
      writeFileSync(keyFile, `${TEST_KEY}\n`, { mode: 0o600 });
      const cfg = join(dir, "agent.json");
      writeFileSync(cfg, JSON.stringify({ pool: "webfarm", origin: "web02", targets: [lb.url], keyFile, interval: "250ms", procRoot: proc, thresholds: { loadPerCpu: { soft: 1, hard: 2 } } }));
      start(AGENT, ["--config", cfg]);
      await waitFor("the agent's first report", () => originStats(lb.url, "webfarm", "web02"), (r) => r.agent !== null, 10_000);
    }
    const pool = new Pool(lb.url, { connections: concurrency });
    const times: number[] = [];
    let next = 0, failed = 0, slow = 0;
    const worker = async () => {
      while (next < requests) {
        next++;
        const t0 = performance.now();
        try {
          const r = await pool.request({ path: "/", method: "GET" });
          await r.body.text();
          if (r.statusCode !== 200) failed++;
          if (r.headers["x-origin"] === "web02") slow++;
        } catch {
          failed++;
        }
        times.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await pool.close();
    times.sort((a, b) => a - b);
    return { withAgent, requests, failed, p50: pct(times, 50), p99: pct(times, 99), slowShare: slow / requests };
  } finally {
    await stopAll();
    await killOrigins();
  }
}
