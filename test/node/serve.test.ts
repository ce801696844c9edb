// `edgelb serve` as a process, as systemd runs it: --ready-file, log.to a file and SIGHUP (logrotate), SIGTERM.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EDGELB, start, stopAll, tempDir, waitFor } from "../agent/helpers.ts";
import { killOrigins, poolOf, send, startOrigin } from "../support/harness.ts";

afterEach(async () => {
  await stopAll();
  await killOrigins();
});

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

describe("edgelb serve under a supervisor", () => {
  it("writes its pid to --ready-file once listening, logs to log.to, reopens it on SIGHUP, removes the ready file on SIGTERM", async () => {
    const web01 = await startOrigin("web01");
    const dir = tempDir("serve");
    const logFile = join(dir, "log", "edgelb.log");
    const ready = join(dir, "ready");
    const cfg = join(dir, "edgelb.json");
    writeFileSync(cfg, JSON.stringify({ listen: { host: "127.0.0.1", port: 0 }, log: { to: logFile }, pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } }));
    const child = start(EDGELB, ["serve", "--config", cfg, "--ready-file", ready]);
    const pid = await waitFor("the ready file", () => (existsSync(ready) ? readFileSync(ready, "utf8") : ""), (s) => s.endsWith("\n"), 15_000);
    expect(pid).toBe(`${child.pid}\n`);
    // listening by the time the file exists (the line is written before the file; this process
    // may read it from the pipe a moment after it sees the file)
    const url = (await waitFor("the listening line", () => child.stdout().match(/listening on (http:\S+)/)?.[1] ?? "", (u) => u !== "", 2000));
    expect((await send(url, { path: "/before" })).status).toBe(200);
    await waitFor("a request line", () => lines(logFile), (ls) => ls.some((l) => l.path === "/before"), 5000);
    expect(lines(logFile).find((l) => l.event === "listening")).toMatchObject({ level: "info", pid: child.pid });
    // nothing on stderr: the lines go to the file
    expect(child.events()).toEqual([]);

    // logrotate: move the file away, SIGHUP, the next lines go to a new file
    renameSync(logFile, `${logFile}.1`);
    child.proc.kill("SIGHUP");
    await waitFor("the reload", () => lines(logFile), (ls) => ls.some((l) => l.event === "reload"), 5000);
    expect((await send(url, { path: "/after" })).status).toBe(200);
    await waitFor("a request line in the new file", () => lines(logFile), (ls) => ls.some((l) => l.path === "/after"), 5000);
    expect(lines(`${logFile}.1`).some((l) => l.path === "/after")).toBe(false);

    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(existsSync(ready)).toBe(false);
    // flushed before the exit
    expect(lines(logFile).at(-1)).toMatchObject({ event: "stopped", signal: "SIGTERM" });
  });
});
