import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir as tmpFolder } from "../support/tmp.ts";

export const EDGELB = fileURLToPath(new URL("../../bin/edgelb.js", import.meta.url));
export const AGENT = fileURLToPath(new URL("../../bin/edgelb-agent.js", import.meta.url));

/** An example key for these tests only (32 bytes, Standard Webhooks `whsec_` form). */
export const TEST_KEY = "whsec_" + Buffer.from("example-agent-key-for-tests-only").toString("base64");

/** A fresh folder under the system's temp dir, removed after the test file's last test. */
export function tempDir(prefix: string): string {
  return tmpFolder(`edgelb-agent-${prefix}-`);
}

/** Writes a file atomically (a reader never sees half of it), creating folders. */
export function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export interface FakeProc {
  /** 1-minute load average (the whole machine, not per CPU). */
  load?: number;
  cpus?: number;
  memTotalKb?: number;
  memAvailableKb?: number | null;
  pswpin?: number;
  /** "some avg10" per resource; omitted: no /proc/pressure at all. */
  psi?: { cpu?: number; memory?: number; io?: number };
}

/** Writes a fake /proc tree: loadavg, stat, meminfo, vmstat and, when given, pressure/*. */
export function writeProc(root: string, p: FakeProc): void {
  const cpus = p.cpus ?? 4;
  writeAtomic(join(root, "loadavg"), `${(p.load ?? 0.2).toFixed(2)} 0.50 0.40 2/345 12345\n`);
  const lines = [`cpu  100 0 100 1000 0 0 0 0 0 0`];
  for (let i = 0; i < cpus; i++) lines.push(`cpu${i} 25 0 25 250 0 0 0 0 0 0`);
  writeAtomic(join(root, "stat"), `${lines.join("\n")}\nintr 0\nctxt 0\nbtime 0\n`);
  const avail = p.memAvailableKb === undefined ? 3_000_000 : p.memAvailableKb;
  writeAtomic(
    join(root, "meminfo"),
    `MemTotal:       ${p.memTotalKb ?? 4_000_000} kB\nMemFree:         1000000 kB\n${avail === null ? "" : `MemAvailable:   ${avail} kB\n`}Buffers:           10000 kB\n`,
  );
  writeAtomic(join(root, "vmstat"), `nr_free_pages 250000\npswpin ${p.pswpin ?? 0}\npswpout 0\n`);
  if (p.psi) {
    for (const res of ["cpu", "memory", "io"] as const) {
      const x = p.psi[res];
      if (x === undefined) rmSync(join(root, "pressure", res), { force: true });
      else writeAtomic(join(root, "pressure", res), `some avg10=${x.toFixed(2)} avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`);
    }
  } else rmSync(join(root, "pressure"), { recursive: true, force: true });
}

export async function waitFor<T>(what: string, get: () => T | Promise<T>, ok: (x: T) => boolean, timeoutMs: number, stepMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await get();
    if (ok(last)) return last;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process with its output collected; stopped by pid in `stopAll`. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Lines of stderr parsed as JSON (the agent's and edgelb's logs). */
  events(): Record<string, unknown>[];
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

export function start(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.add(proc);
  let out = "", err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => (children.delete(proc), r(code))));
  return {
    proc,
    pid: proc.pid!,
    stdout: () => out,
    stderr: () => err,
    events: () =>
      err
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
}

/** Kills every child still running (SIGKILL, by pid) and waits for them. */
export async function stopAll(): Promise<void> {
  const left = [...children];
  for (const c of left) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, "SIGKILL");
  await Promise.all(left.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : null)));
}

/** `edgelb serve` on a free port of 127.0.0.1; resolves once it listens. */
export async function startEdgelb(dir: string, config: Record<string, unknown>, env: Record<string, string>): Promise<{ child: Child; url: string }> {
  const f = join(dir, "edgelb.json");
  writeFileSync(f, JSON.stringify({ listen: { host: "127.0.0.1", port: 0 }, ...config }, null, 2));
  const child = start(EDGELB, ["serve", "--config", f], env);
  const line = await waitFor("edgelb serve to listen", () => child.stdout(), (s) => /listening on (http:\S+)/.test(s) || child.proc.exitCode !== null, 15_000);
  const m = line.match(/listening on (http:\S+)/);
  if (!m) throw new Error(`edgelb serve did not start: ${child.stderr()}`);
  return { child, url: m[1] };
}

export interface OriginRow {
  state: string;
  admin: string;
  weight: { configured: number; agentPct: number | null; effective: number };
  agent: { health: string; admin: string; weightPct: number; ageMs: number } | null;
}

/** One origin's row of /__edgelb/stats?format=json (stats answer loopback without auth). */
export async function originStats(url: string, pool: string, origin: string): Promise<OriginRow> {
  const res = await fetch(`${url}/__edgelb/stats?format=json`);
  if (res.status !== 200) throw new Error(`stats: ${res.status}`);
  const s = (await res.json()) as { pools: { name: string; origins: (OriginRow & { name: string })[] }[] };
  const row = s.pools.find((p) => p.name === pool)?.origins.find((o) => o.name === origin);
  if (!row) throw new Error(`no ${pool}/${origin} in stats`);
  return row;
}
