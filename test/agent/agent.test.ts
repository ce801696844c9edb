import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AGENT, originStats, sleep, start, startEdgelb, stopAll, tempDir, TEST_KEY, waitFor, writeProc, type Child } from "./helpers.ts";

/**
 * The agent as a real process reporting to a real `edgelb serve`, driven by a fake /proc tree:
 * load goes from low to high and back, operators send signals, the agent stops and restarts.
 */

afterEach(stopAll);

const INTERVAL = 250;
const HOLD = 1500;

async function setup(agentExtra: Record<string, unknown> = {}) {
  const dir = tempDir("e2e");
  const proc = join(dir, "proc");
  writeProc(proc, { load: 0.8, cpus: 4 }); // 0.2 per CPU
  const lb = await startEdgelb(
    dir,
    {
      pools: {
        webfarm: {
          // the origins need not answer: checks and passive ejection are off, only the agent moves them
          origins: [
            { name: "web01", url: "http://127.0.0.1:9", weight: 100, agentKeys: ["EDGELB_TEST_AGENT_KEY_E2E"] },
            { name: "web02", url: "http://127.0.0.1:9", weight: 100 },
          ],
          check: { enabled: false },
          passive: { enabled: false },
        },
      },
    },
    { EDGELB_TEST_AGENT_KEY_E2E: TEST_KEY },
  );
  const keyFile = join(dir, "agent.key");
  writeFileSync(keyFile, `${TEST_KEY}\n`, { mode: 0o600 });
  const cfgFile = join(dir, "agent.json");
  writeFileSync(
    cfgFile,
    JSON.stringify({
      pool: "webfarm",
      origin: "web01",
      targets: [lb.url],
      keyFile,
      interval: `${INTERVAL}ms`,
      timeout: "500ms",
      holdTime: `${HOLD}ms`,
      raiseAfter: "500ms",
      procRoot: proc,
      thresholds: { loadPerCpu: { soft: 1, hard: 2 } },
      ...agentExtra,
    }),
  );
  const row = () => originStats(lb.url, "webfarm", "web01");
  const startAgent = () => start(AGENT, ["--config", cfgFile]);
  return { dir, proc, lb, row, startAgent, cfgFile };
}

const failures = (a: Child) => a.events().filter((e) => e.event === "target-failed" || e.event === "bug");

describe("edgelb-agent reporting to edgelb serve (real processes)", () => {
  it("load low -> high: the weight falls, the origin is drained past hard, and ready again only after the hold time", async () => {
    const { proc, row, startAgent } = await setup();
    const agent = startAgent();

    let r = await waitFor("a first report", row, (x) => x.agent !== null, 10_000);
    expect(r).toMatchObject({ state: "UP", weight: { configured: 100, agentPct: 100, effective: 100 }, agent: { health: "up", admin: "ready" } });

    // 1.5 per CPU: halfway between soft (1) and hard (2)
    writeProc(proc, { load: 6, cpus: 4 });
    r = await waitFor("weight 50", row, (x) => x.weight.effective === 50, 5000);
    expect(r.state).toBe("UP");

    // 1.8 per CPU: 20 %
    writeProc(proc, { load: 7.2, cpus: 4 });
    r = await waitFor("weight 20", row, (x) => x.weight.effective === 20, 5000);
    expect(r.weight.agentPct).toBe(20);

    // 2.5 per CPU: past hard -> drained
    writeProc(proc, { load: 10, cpus: 4 });
    r = await waitFor("drain", row, (x) => x.state === "DRAIN", 5000);
    expect(r).toMatchObject({ admin: "ready", weight: { effective: 0 }, agent: { admin: "drain" } });

    // calm again: still drained for the hold time, then ready at full weight
    writeProc(proc, { load: 0.4, cpus: 4 });
    const calmAt = Date.now();
    await sleep(HOLD - 600);
    expect((await row()).state).toBe("DRAIN");
    r = await waitFor("ready after the hold", row, (x) => x.state === "UP", 5000);
    expect(Date.now() - calmAt).toBeGreaterThanOrEqual(HOLD);
    r = await waitFor("full weight", row, (x) => x.weight.effective === 100, 5000);
    expect(r.agent).toMatchObject({ health: "up", admin: "ready", weightPct: 100 });

    expect(failures(agent)).toEqual([]);
    const states = agent.events().filter((e) => e.event === "state").map((e) => `${e.admin} ${e.weightPct}`);
    expect(states).toEqual(["ready 100", "ready 50", "ready 20", "drain 0", "drain 100", "ready 100"]);
  });

  it("SIGUSR1 forces drain until SIGUSR2; SIGTERM sends a last drain and exits 0; a restart carries on (seq grows)", async () => {
    const { row, startAgent } = await setup();
    let agent = startAgent();
    await waitFor("a first report", row, (x) => x.agent?.admin === "ready" && x.state === "UP", 10_000);

    process.kill(agent.pid, "SIGUSR1");
    await waitFor("forced drain", row, (x) => x.state === "DRAIN", 3000);
    // the load is low, yet it stays drained: a forced drain has no hold time to run out
    await sleep(HOLD + 500);
    expect((await row()).state).toBe("DRAIN");
    process.kill(agent.pid, "SIGUSR2");
    await waitFor("ready again", row, (x) => x.state === "UP" && x.agent?.admin === "ready", 3000);

    process.kill(agent.pid, "SIGTERM");
    expect(await agent.exited).toBe(0);
    const last = await row();
    expect(last.state).toBe("DRAIN");
    expect(last.agent?.admin).toBe("drain");
    expect(agent.events().at(-1)).toMatchObject({ event: "stopped", lastReport: "drain" });
    // a silent agent never keeps an origin out: the last report expires after 3 intervals
    await waitFor("the last report to expire", row, (x) => x.agent === null && x.state === "UP", 5000);

    // a new process, no state file: its seq comes from the clock, above the last one, so the
    // balancer (which remembers the last seq of web01) accepts it
    agent = startAgent();
    await waitFor("reports after a restart", row, (x) => x.agent !== null && x.agent.admin === "ready" && x.agent.ageMs < INTERVAL * 2, 10_000);
    await sleep(INTERVAL * 3);
    expect(failures(agent)).toEqual([]);
    expect((await row()).agent).not.toBeNull();
  });

  it("keeps an operator's drain across a restart when it has a state file", async () => {
    const dir = tempDir("state");
    const { row, startAgent } = await setup({ stateFile: join(dir, "agent.state") });
    let agent = startAgent();
    await waitFor("a first report", row, (x) => x.agent?.admin === "ready", 10_000);
    process.kill(agent.pid, "SIGUSR1");
    await waitFor("forced drain", row, (x) => x.state === "DRAIN", 3000);
    process.kill(agent.pid, "SIGTERM");
    expect(await agent.exited).toBe(0);

    agent = startAgent();
    await waitFor("the restarted agent's first report", () => agent.events(), (ev) => ev.some((e) => e.event === "state"), 10_000);
    expect(agent.events().find((e) => e.event === "started")).toMatchObject({ forced: "drain" });
    await sleep(INTERVAL * 2);
    expect((await row()).state).toBe("DRAIN");
    process.kill(agent.pid, "SIGUSR2");
    await waitFor("ready", row, (x) => x.state === "UP" && x.agent?.admin === "ready", 3000);
    expect(failures(agent)).toEqual([]);
  });
});
