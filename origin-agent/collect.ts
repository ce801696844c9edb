import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { Readings } from "../core/agent/derive.ts";
import { https } from "./builtins.ts";

/**
 * Collectors: each reads one thing from /proc (or `procRoot`, a fake tree in tests) or the app's
 * health URL. A reading that cannot be taken is null, never 0: a missing file, a field the kernel
 * does not have, a counter that went backwards, or the first sample of a rate.
 */

/** The text of `procRoot/rel`, or null when it cannot be read. /proc files are small and never block. */
function read(procRoot: string, rel: string): string | null {
  try {
    return readFileSync(join(procRoot, rel), "utf8");
  } catch {
    return null;
  }
}

const finite = (x: number) => (Number.isFinite(x) ? x : null);
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Online CPUs: the `cpuN` lines of /proc/stat, else the `processor` lines of /proc/cpuinfo. */
export function cpuCount(procRoot: string): number | null {
  const stat = read(procRoot, "stat");
  let n = stat ? (stat.match(/^cpu\d+\s/gm)?.length ?? 0) : 0;
  if (n === 0) {
    const info = read(procRoot, "cpuinfo");
    n = info ? (info.match(/^processor\s*:/gm)?.length ?? 0) : 0;
  }
  return n > 0 ? Math.min(n, 4096) : null;
}

/** The 1-minute load average (first field of /proc/loadavg). */
export function loadAvg1(procRoot: string): number | null {
  const t = read(procRoot, "loadavg");
  if (!t) return null;
  const x = Number(t.trim().split(/\s+/)[0]);
  return t.trim() && x >= 0 ? finite(x) : null;
}

/** MemAvailable as a share of MemTotal, percent (null on kernels before 3.14, which lack MemAvailable). */
export function memAvailablePct(procRoot: string): number | null {
  const t = read(procRoot, "meminfo");
  if (!t) return null;
  const total = t.match(/^MemTotal:\s+(\d+)/m), avail = t.match(/^MemAvailable:\s+(\d+)/m);
  if (!total || !avail || Number(total[1]) <= 0) return null;
  return round(Math.min(100, (100 * Number(avail[1])) / Number(total[1])), 2);
}

/** The `pswpin` counter of /proc/vmstat (pages swapped in since boot). */
export function pswpin(procRoot: string): number | null {
  const t = read(procRoot, "vmstat");
  const m = t?.match(/^pswpin\s+(\d+)/m);
  return m ? Number(m[1]) : null;
}

/** "some avg10" of /proc/pressure/<resource>, percent (null where the kernel has no PSI). */
export function psiSome10(procRoot: string, resource: "cpu" | "memory" | "io"): number | null {
  const t = read(procRoot, `pressure/${resource}`);
  const m = t?.match(/^some\s.*\bavg10=(\d+(?:\.\d+)?)/m);
  return m ? Math.min(100, Number(m[1])) : null;
}

/** A rate from successive counter values; null for the first sample and when the counter went back. */
export class Rate {
  private last: { value: number; at: number } | null = null;

  /** Feeds the counter's value at `at` (ms); returns the rate per second since the previous value. */
  next(value: number | null, at: number): number | null {
    const prev = this.last;
    this.last = value === null ? null : { value, at };
    if (value === null || !prev || at <= prev.at || value < prev.value) return null;
    return round(((value - prev.value) * 1000) / (at - prev.at), 2);
  }
}

/** The app health URL: status (0 = no answer within the timeout) and latency in ms. */
export async function probeApp(url: string, timeoutMs: number): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const u = new URL(url);
  const status = await (u.protocol === "http:" ? statusLine(u, timeoutMs) : httpsStatus(url, timeoutMs));
  return { status, ms: round(performance.now() - started, 1) };
}

/** Largest response head read while looking for the status line, bytes. */
const MAX_HEAD = 256;

/**
 * GET over a fresh TCP connection (a backlog that is full shows as no answer; a kept-alive one
 * would hold an Apache worker), and the status line is the answer, as in HAProxy's httpchk. Plain
 * sockets, not node:http: at one probe a second, the HTTP client's machinery was a third of the
 * agent's CPU. The rest of the response is read and dropped until the server closes.
 */
function statusLine(u: URL, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve) => {
    let done = false;
    let head = "";
    const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    const socket = net.connect({ host, port: Number(u.port) || 80 });
    const finish = (status: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // an answer: let the server finish and close (within the timeout); no answer: drop it now
      if (status === 0) socket.destroy();
      else socket.setTimeout(timeoutMs, () => socket.destroy());
      resolve(status);
    };
    const timer = setTimeout(() => finish(0), timeoutMs);
    socket.setEncoding("latin1");
    socket.on("connect", () => socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: edgelb-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n`));
    socket.on("data", (d: string) => {
      if (done) return;
      head += d;
      const m = /^HTTP\/1\.[01] ([1-5]\d\d)[ \r\n]/.exec(head);
      if (m) finish(Number(m[1]));
      else if (head.length >= MAX_HEAD || head.includes("\n")) finish(0); // not HTTP
    });
    socket.on("error", () => finish(0));
    socket.on("close", () => finish(0));
  });
}

/** The same over TLS, with node:https (loaded only for an https URL). */
function httpsStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (s: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(s);
    };
    const req = https().get(url, { agent: false, headers: { "user-agent": "edgelb-agent", connection: "close" } }, (res) => {
      res.resume();
      finish(res.statusCode ?? 0);
    });
    req.on("error", () => finish(0));
    const timer = setTimeout(() => finish(0), timeoutMs);
  });
}

/** How long a CPU count is kept, ms: /proc/stat is among the costlier files to generate, and vCPUs rarely change. */
export const CPU_COUNT_TTL = 60_000;

/** Takes every reading. Keeps the previous pswpin value for the swap-in rate. */
export class Collector {
  private readonly procRoot: string;
  private readonly app: { url: string; timeout: number } | null;
  private readonly swap = new Rate();
  private cpus: { n: number | null; at: number } | null = null;

  constructor(procRoot: string, app: { url: string; timeout: number } | null) {
    this.procRoot = procRoot;
    this.app = app;
  }

  async sample(now: number): Promise<Readings> {
    const p = this.procRoot;
    const app = this.app ? probeApp(this.app.url, this.app.timeout) : null;
    if (!this.cpus || this.cpus.n === null || now - this.cpus.at >= CPU_COUNT_TTL || now < this.cpus.at) this.cpus = { n: cpuCount(p), at: now };
    const cpus = this.cpus.n;
    const load = loadAvg1(p);
    const psi = { cpu: psiSome10(p, "cpu"), memory: psiSome10(p, "memory"), io: psiSome10(p, "io") };
    return {
      loadPerCpu: load !== null && cpus !== null ? round(load / cpus, 3) : null,
      cpus,
      memAvailablePct: memAvailablePct(p),
      swapInPerSec: this.swap.next(pswpin(p), now),
      psi: psi.cpu === null && psi.memory === null && psi.io === null ? null : psi,
      app: app ? await app : null,
    };
  }
}
