// The fault kit: the harness's scriptable origin (test/support), the fault proxy (./proxy.ts), and the
// few measurements the fault scenarios share. Scenarios import from here only.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BalancerStats, PoolStats } from "../../../core/stats/model.ts";
import { startEdgelb, tempDir, type Child } from "../../agent/helpers.ts";
import type { ReqLog, TestOrigin, Timed } from "../../support/harness.ts";
import { load, percentile } from "../../support/harness.ts";

export * from "../../support/harness.ts";
export { startFaultProxy, type FaultProxy, type ProxyReq, type Toxics } from "./proxy.ts";
export { stopAll, tempDir, writeAtomic, type Child } from "../../agent/helpers.ts";

/** `edgelb serve` as its own process (its own event loop and CPU time, apart from the load generator's). */
export interface LbProcess {
  url: string;
  pid: number;
  child: Child;
  /** The config file it reads (rewrite it, then SIGHUP). */
  file: string;
  /** GET /__edgelb/stats?format=json (loopback needs no auth). */
  stats(): Promise<BalancerStats>;
  /** One pool's stats (default: the first). */
  pool(name?: string): Promise<PoolStats>;
  /** Its log lines (JSON on stderr), each with its time as ms since the epoch. */
  events(): (Record<string, unknown> & { ms: number })[];
}

/** Starts `edgelb serve` on a free port of 127.0.0.1 with `config` (listen filled in); stopped by `stopAll`. */
export async function startLbProcess(config: Record<string, unknown>): Promise<LbProcess> {
  const dir = tempDir("faults");
  const { child, url } = await startEdgelb(dir, config, {});
  const stats = async () => (await (await fetch(`${url}/__edgelb/stats?format=json`)).json()) as BalancerStats;
  return {
    url,
    pid: child.pid,
    child,
    file: join(dir, "edgelb.json"),
    stats,
    pool: async (name) => {
      const s = await stats();
      return name ? s.pools.find((p) => p.name === name)! : s.pools[0];
    },
    events: () => child.events().map((e) => ({ ...e, ms: Date.parse(String(e.time)) })),
  };
}

/**
 * Warms a fresh balancer up (JIT, keep-alive connections on both sides) with `n` quick requests, so
 * the first second of a scenario's load does not measure the warm-up (p99 300-500 ms otherwise).
 * Every response must have one of the `expect`ed statuses (default 200).
 */
export async function warm(url: string, n = 400, expect: readonly number[] = [200]): Promise<void> {
  const rs = await load(url, n, 32, (i) => (i % 4 === 3 ? { method: "POST", path: "/warm", body: "w=1" } : { path: "/warm" }));
  const bad = rs.filter((r) => !expect.includes(r.status));
  if (bad.length) throw new Error(`warm-up: ${bad.length} of ${n} failed, first: ${JSON.stringify(bad[0])}`);
}

/** Resident set size of a process, in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/**
 * The soft limit on open files of a process. Node raises its own soft limit to the hard one at start,
 * so for a Node child only the hard limit matters (20,000 here); a C program like slowhttptest keeps
 * what it inherits.
 */
export function openFilesLimit(pid: number | "self" = "self"): number {
  const m = readFileSync(`/proc/${pid}/limits`, "utf8").match(/^Max open files\s+(\d+)/m);
  return m ? Number(m[1]) : 1024;
}

/** Request ids (of `method`, or any) that reached the origins more than once, with how often. */
export function seenTwice(origins: readonly TestOrigin[], method?: string): Record<string, number> {
  const n = new Map<string, number>();
  for (const o of origins) for (const r of o.requests as ReqLog[]) if (r.id && (!method || r.method === method)) n.set(r.id, (n.get(r.id) ?? 0) + 1);
  return Object.fromEntries([...n].filter(([, c]) => c > 1));
}

/** Latency summary of timed results, ms, rounded to 0.1. */
export function summary(rs: readonly Timed[]): { n: number; p50: number; p99: number; max: number } {
  const ms = rs.map((r) => r.ms);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return { n: rs.length, p50: r1(percentile(ms, 50)), p99: r1(percentile(ms, 99)), max: r1(Math.max(...ms)) };
}

/** Prints one scenario's figures as a JSON line (RELIABILITY.md quotes them); silent when EDGELB_FAULTS_QUIET is set. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  if (!process.env.EDGELB_FAULTS_QUIET) console.log(`[${scenario}] ${JSON.stringify(figures)}`);
}
