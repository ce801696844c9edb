import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { countBy, freePort, killOrigins, load, send, startOrigin, waitFor } from "../support/harness.ts";
import { tempDir } from "../support/tmp.ts";

const BIN = fileURLToPath(new URL("../../bin/edgelb.js", import.meta.url));
const dir = tempDir("edgelb-cli-");
const write = (name: string, v: unknown) => {
  const f = join(dir, name);
  writeFileSync(f, typeof v === "string" ? v : JSON.stringify(v, null, 2));
  return f;
};
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 20_000 });


afterEach(killOrigins);

describe("edgelb check", () => {
  it("accepts the minimal config", () => {
    const f = write("ok.json", {
      listen: { host: "127.0.0.1", port: 8080 },
      pools: { webfarm: { origins: [{ name: "web01", url: "http://127.0.0.1:9101" }, { name: "web02", url: "http://127.0.0.1:9102" }] } },
    });
    const r = run("check", "--config", f);
    expect(r.stderr.trim().split("\n").every((l) => l.startsWith("warning (edge build only): pools.webfarm.origins["))).toBe(true);
    expect(r.stdout).toBe(`${f}: ok (1 pool(s), 2 origin(s))\n`);
    expect(r.status).toBe(0);
  });

  it("exits 1 with one line per problem, each naming the path and the value", () => {
    const f = write("bad.json", {
      listen: { host: "127.0.0.1", port: 8080 },
      pools: {
        webfarm: {
          balance: "fastest",
          check: { interval: "2 seconds" },
          origins: [
            { name: "web01", url: "http://127.0.0.1:9101" },
            { name: "web02", url: "http://127.0.0.1:9102", weight: 1000, colour: "red" },
          ],
        },
      },
    });
    const r = run("check", "--config", f);
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split("\n").sort()).toEqual(
      [
        'pools.webfarm.balance: must be one of roundrobin, leastconn, random, source, got "fastest"',
        'pools.webfarm.check.interval: must be a duration with a unit (ms, s, m, h), such as "2s", got "2 seconds"',
        "pools.webfarm.origins[1].weight: must be 0-256, got 1000",
        "pools.webfarm.origins[1].colour: is not a known key (unknown keys are errors)",
      ].sort(),
    );
  });

  it("names the file when it is not JSON or missing", () => {
    const r = run("check", "--config", write("broken.json", "{ nope"));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^\(file\): is not valid JSON/);
    const m = run("check", "--config", join(dir, "missing.json"));
    expect(m.status).toBe(1);
    expect(m.stdout).toMatch(/cannot read .*missing\.json/);
  });
});

describe("edgelb serve (a real process)", () => {
  it("a log file it cannot open: exit 1, naming the config, log.to and the path", () => {
    const f = write("badlog.json", { listen: { host: "127.0.0.1", port: 0 }, log: { to: "/sys/kernel/edgelb-test/edgelb.log" }, pools: { p: { origins: [{ name: "a", url: "http://127.0.0.1:9" }] } } });
    const r = run("serve", "--config", f);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`${f}: log.to: cannot open "/sys/kernel/edgelb-test/edgelb.log" for appending: EPERM`);
    expect(r.stdout).toBe("");
  });

  it("serves, reloads on SIGHUP (a broken file is refused and the old config keeps serving), stops on SIGTERM", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const port = await freePort();
    const cfg = (w1: number, w2: number) => ({
      listen: { host: "127.0.0.1", port },
      pools: { webfarm: { origins: [{ name: "web01", url: web01.url, weight: w1 }, { name: "web02", url: web02.url, weight: w2 }] } },
    });
    const f = write("serve.json", cfg(1, 1));
    const child = spawn(process.execPath, [BIN, "serve", "--config", f], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", (d) => (String(d).includes("listening") ? resolve() : reject(new Error(String(d)))));
        child.once("exit", () => reject(new Error(`exited: ${stderr}`)));
      });
      const url = `http://127.0.0.1:${port}`;
      expect(countBy(await load(url, 20, 2), (r) => r.origin ?? "err")).toEqual({ web01: 10, web02: 10 });

      write("serve.json", cfg(1, 0));
      child.kill("SIGHUP");
      await waitFor(() => stderr.includes('"event":"reload"'), 3000);
      expect(countBy(await load(url, 20, 2), (r) => r.origin ?? "err")).toEqual({ web01: 20 });

      write("serve.json", { ...cfg(1, 1), pools: { webfarm: { origins: [{ name: "web01", url: "ftp://x" }] } } });
      child.kill("SIGHUP");
      await waitFor(() => stderr.includes("reload-refused"), 3000);
      expect(stderr).toContain("pools.webfarm.origins[0].url");
      expect(countBy(await load(url, 10, 2), (r) => r.origin ?? "err")).toEqual({ web01: 10 });

      // SIGTERM while a slow request is in flight: it finishes, then the process exits 0
      await web01.setMode({ mode: "ok", delayMs: 400 });
      const slow = send(url, { path: "/slow" });
      await new Promise((r) => setTimeout(r, 100));
      child.kill("SIGTERM");
      const r = await slow;
      expect(r.status).toBe(200);
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
