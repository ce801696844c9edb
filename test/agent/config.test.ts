import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue, loadKey, parseAgentConfig } from "../../origin-agent/config.ts";
import { AGENT, tempDir, TEST_KEY } from "./helpers.ts";

const MIN = { pool: "webfarm", origin: "web01", targets: ["http://10.0.0.5:8080"], keyEnv: "EDGELB_AGENT_KEY" };
const problems = (x: unknown) => {
  const r = parseAgentConfig(x);
  return r.ok ? [] : r.issues.map(formatIssue);
};

describe("agent.json", () => {
  it("the minimal config, with every default", () => {
    const r = parseAgentConfig(MIN);
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    expect(r.config).toMatchObject({
      pool: "webfarm",
      origin: "web01",
      interval: 1000,
      timeout: 1000,
      jitter: 100,
      backoffMax: 30_000,
      holdTime: 30_000,
      weightStep: 10,
      raiseAfter: 5000,
      procRoot: "/proc",
      appHealth: null,
      thresholds: {
        loadPerCpu: { soft: 1, hard: 2 },
        memAvailablePct: { soft: 15, hard: 5 },
        swapInPerSec: { soft: 100, hard: 1000 },
        psi: { cpu: { soft: 50, hard: 90 }, memory: { soft: 10, hard: 40 }, io: { soft: 30, hard: 80 } },
      },
    });
    expect(r.config.targets.map((t) => t.url.href)).toEqual(["http://10.0.0.5:8080/__edgelb/agent"]);
  });

  it("targets: a path is the prefix; without one, `prefix` (default /__edgelb)", () => {
    const r = parseAgentConfig({ ...MIN, prefix: "/lb", targets: ["http://127.0.0.1:8080", "https://shop.example.no/", "https://edge.example.no/ops/__edgelb/"] });
    expect(r.ok && r.config.targets.map((t) => t.url.href)).toEqual([
      "http://127.0.0.1:8080/lb/agent",
      "https://shop.example.no/lb/agent",
      "https://edge.example.no/ops/__edgelb/agent",
    ]);
  });

  it("app health: timeout defaults to 1s (at most the interval), expect to 200-399", () => {
    const r = parseAgentConfig({ ...MIN, interval: "500ms", appHealth: { url: "http://127.0.0.1/health" } });
    expect(r.ok && r.config.appHealth).toEqual({ url: "http://127.0.0.1/health", timeout: 500, expect: [[200, 399]] });
  });

  it("a threshold set to null turns that signal off", () => {
    const r = parseAgentConfig({ ...MIN, thresholds: { swapInPerSec: null, psi: { io: null } } });
    expect(r.ok && r.config.thresholds.swapInPerSec).toBeNull();
    expect(r.ok && r.config.thresholds.psi).toMatchObject({ io: null, cpu: { soft: 50, hard: 90 } });
  });

  it("every problem, one line each with its path and the value, in file order", () => {
    expect(
      problems({
        pool: "web farm",
        origin: "web01",
        targets: ["ftp://x", "http://a:1", "http://a:1/__edgelb"],
        keyEnv: "K",
        keyFile: "/k",
        interval: "1 s",
        jitter: "5s",
        thresholds: { loadPerCpu: { soft: 2, hard: 1 }, memAvailablePct: { soft: 5, hard: 15 }, psi: { cpu: { soft: 50, hard: 150 } }, disk: {} },
        appHealth: { url: "http://127.0.0.1/h", expect: "2xx,999" },
        haproxyAgent: { port: 70000 },
        colour: "red",
      }),
    ).toEqual([
      'pool: must be 1-64 letters, digits, \'_\', \'.\' or \'-\', starting with a letter or digit, got "web farm"',
      'targets[0]: must be http(s)://host[:port][/prefix] with no query, fragment or credentials, got "ftp://x"',
      'targets[2]: duplicates targets[1], got "http://a:1/__edgelb"',
      'keyFile: must not be set together with keyEnv (one key source), got "/k"',
      'interval: must be a duration with a unit (ms, s, m, h), such as "1s", got "1 s"',
      'jitter: must not exceed interval (1s), got "5s"',
      "thresholds.loadPerCpu.hard: must be above soft (2), got 1",
      "thresholds.memAvailablePct.hard: must be below soft (5): low is bad for this signal, got 15",
      "thresholds.psi.cpu.hard: must be 0-100, got 150",
      "thresholds.disk: is not a known key (unknown keys are errors)",
      'appHealth.expect: must be a status spec such as "200", "2xx", "200-399" or a comma list of them, got "2xx,999"',
      "haproxyAgent.port: must be 0-65535, got 70000",
      "colour: is not a known key (unknown keys are errors)",
    ]);
  });

  it("names what is missing", () => {
    expect(problems({})).toEqual([
      "pool: is required",
      "origin: is required",
      "targets: is required",
      "keyEnv: is required (or keyFile): the origin's agent key, never on the command line",
    ]);
    expect(problems([])).toEqual(["(root): must be a JSON object"]);
  });

  it("the key comes from the environment or a file, and an absent one is a clear error", () => {
    expect(loadKey({ keyEnv: "K" }, { K: "s3cret" }, () => "")).toBe("s3cret");
    expect(() => loadKey({ keyEnv: "K" }, {}, () => "")).toThrow("keyEnv: the environment variable K is not set or empty");
    expect(loadKey({ keyFile: "/run/credentials/x/agent-key" }, {}, () => "whsec_abc=\n")).toBe("whsec_abc=");
    expect(() => loadKey({ keyFile: "/nope" }, {}, () => {
      throw new Error("ENOENT");
    })).toThrow("keyFile: cannot read /nope: ENOENT");
  });
});

describe("edgelb-agent --check (a real process)", () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [AGENT, ...args], { encoding: "utf8", timeout: 20_000, env: { ...process.env, ...env } });

  it("exit 0 for a good config and key, 1 with a line per problem, 2 without --config", () => {
    const dir = tempDir("check");
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(MIN));
    const ok = run(["--config", good, "--check"], { EDGELB_AGENT_KEY: TEST_KEY });
    expect(ok.stdout).toBe(`${good}: ok (webfarm/web01 -> http://10.0.0.5:8080/__edgelb/agent)\n`);
    expect(ok.status).toBe(0);

    const noKey = run(["--config", good, "--check"], { EDGELB_AGENT_KEY: "" });
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toContain("keyEnv: the environment variable EDGELB_AGENT_KEY is not set or empty");
    const badKey = run(["--config", good, "--check"], { EDGELB_AGENT_KEY: "whsec_" });
    expect(badKey.status).toBe(1);

    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...MIN, interval: "fast", extra: 1 }));
    const b = run(["--config", bad, "--check"]);
    expect(b.status).toBe(1);
    expect(b.stderr.trim().split("\n")).toEqual([
      `${bad}: interval: must be a duration with a unit (ms, s, m, h), such as "1s", got "fast"`,
      `${bad}: extra: is not a known key (unknown keys are errors)`,
    ]);
    expect(run([]).status).toBe(2);
    // the key is never taken from the command line
    expect(run(["--config", good, "--key", "x"]).status).toBe(2);
  });

  it("--once prints the report it would send, from the fake /proc", () => {
    const dir = tempDir("once");
    const f = join(dir, "a.json");
    writeFileSync(join(dir, "loadavg"), "6.00 1 1 1/1 1\n");
    writeFileSync(join(dir, "stat"), "cpu 1\ncpu0 1\ncpu1 1\ncpu2 1\ncpu3 1\n");
    writeFileSync(f, JSON.stringify({ ...MIN, procRoot: dir }));
    const r = run(["--config", f, "--once"], { EDGELB_AGENT_KEY: TEST_KEY });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      health: "up",
      admin: "ready",
      weightPct: 50,
      reason: "loadPerCpu 1.5 past soft 1",
      readings: { loadPerCpu: 1.5, cpus: 4, memAvailablePct: null, swapInPerSec: null, psi: null, app: null },
    });
  });
});
