import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { Pool, request, type Dispatcher } from "undici";
import { parseConfig, formatIssue } from "../../core/config/parse.ts";
import { Balancer } from "../../node/balancer.ts";
import { memoryLogger } from "../../node/log.ts";

const ORIGIN_CHILD = fileURLToPath(new URL("./origin-child.ts", import.meta.url));

export interface ReqLog {
  method: string;
  url: string;
  id: string | null;
  headers: string[];
}

export type OriginMode =
  /** `statuses`: a fixed sequence of statuses, cycled (e.g. [502, 503, 504]); otherwise `status` (200). */
  | { mode: "ok"; delayMs?: number; status?: number; bodyBytes?: number; statuses?: number[] }
  | { mode: "hang" }
  | { mode: "close" }
  | { mode: "reset-mid-body"; bytes?: number }
  | { mode: "trickle"; everyMs: number };

/** A test origin in its own process on 127.0.0.1: it logs every request it receives. */
export interface TestOrigin {
  name: string;
  port: number;
  url: string;
  readonly pid: number;
  readonly requests: ReqLog[];
  setMode(m: OriginMode): Promise<void>;
  /** Resolves once every request log the origin sent so far has arrived. */
  sync(): Promise<void>;
  /** Kills the process (default SIGKILL) and waits for its exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();

function spawnOrigin(name: string, port: number, log: ReqLog[], pongs: (() => void)[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [ORIGIN_CHILD, name, String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`origin ${name} did not start`)), 10_000);
    child.on("message", (m: { type: string; port?: number } & ReqLog) => {
      if (m.type === "ready") {
        clearTimeout(t);
        resolve({ child, port: m.port! });
      } else if (m.type === "pong") pongs.shift()?.();
      else if (m.type === "req") log.push({ method: m.method, url: m.url, id: m.id, headers: m.headers });
    });
    child.once("exit", (code) => reject(new Error(`origin ${name} exited with ${code}`)));
  });
}

export async function startOrigin(name: string, port = 0): Promise<TestOrigin> {
  const requests: ReqLog[] = [];
  const pongs: (() => void)[] = [];
  let { child, port: bound } = await spawnOrigin(name, port, requests, pongs);
  const o: TestOrigin = {
    name,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    get pid() {
      return child.pid!;
    },
    requests,
    async setMode(m) {
      await new Promise<void>((r) => child.send({ type: "mode", ...m }, () => r()));
      // a round trip so the mode is in place before the next request
      await new Promise((r) => setTimeout(r, 20));
    },
    sync() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((r) => {
        pongs.push(r);
        child.send({ type: "ping" });
      });
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await exited;
    },
    async restart() {
      await o.kill();
      ({ child } = await spawnOrigin(name, bound, requests, pongs));
    },
  };
  return o;
}

/** Waits until the request logs of `origins` are complete up to now. */
export async function synced(...origins: TestOrigin[]): Promise<void> {
  await Promise.all(origins.map((o) => o.sync()));
}

/** Kills every origin process still running (call in afterAll/afterEach). */
export async function killOrigins(): Promise<void> {
  await Promise.all(
    [...live].map((c) => {
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      return exited;
    }),
  );
}

export interface TestBalancer {
  lb: Balancer;
  url: string;
  log: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
  stats(): ReturnType<Balancer["stats"]>["pools"][number];
}

/** Starts an in-process balancer on 127.0.0.1:0 with `cfg` (listen filled in). */
export async function startBalancer(cfg: Record<string, unknown>): Promise<TestBalancer> {
  const r = parseConfig({ listen: { host: "127.0.0.1", port: 0 }, ...cfg });
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
  const log = memoryLogger();
  const lb = new Balancer(r.config, log);
  const a = await lb.listen();
  return {
    lb,
    log,
    url: `http://127.0.0.1:${a.port}`,
    close: () => lb.close(1000),
    stats: () => lb.stats().pools[0],
  };
}

/** A pool config for origins with short timeouts suited to tests. */
export function poolOf(origins: TestOrigin[], extra: Record<string, unknown> = {}, weights?: number[]) {
  return {
    origins: origins.map((o, i) => ({ name: o.name, url: o.url, ...(weights ? { weight: weights[i] } : {}) })),
    ...extra,
  };
}

export interface Result {
  status: number;
  origin: string | null;
  body: string;
  error: string | null;
  headers: Record<string, string | string[] | undefined>;
}

export type RequestSpec = { method?: string; path?: string; headers?: Record<string, string>; body?: string };

/** A response read to its end as a Result; a network error comes back as `error`, not thrown. */
async function settle(pending: Promise<Dispatcher.ResponseData>): Promise<Result> {
  try {
    const r = await pending;
    const body = await r.body.text();
    return { status: r.statusCode, origin: (r.headers["x-origin"] as string) ?? null, body, error: null, headers: r.headers };
  } catch (e) {
    return { status: 0, origin: null, body: "", error: String((e as { code?: string }).code ?? e), headers: {} };
  }
}

/** One request through undici's request(); network errors come back as `error`, not thrown. */
export function send(url: string, opts: RequestSpec = {}): Promise<Result> {
  return settle(request(url + (opts.path ?? "/"), { method: (opts.method ?? "GET") as "GET", headers: opts.headers, body: opts.body }));
}

/** One request on a keep-alive pool. */
function one(pool: Pool, o: RequestSpec): Promise<Result> {
  return settle(pool.request({ path: o.path ?? "/", method: (o.method ?? "GET") as "GET", headers: o.headers, body: o.body }));
}

/** Sends `total` requests with `concurrency` in flight over keep-alive connections; returns every result. */
export async function load(
  url: string,
  total: number,
  concurrency: number,
  make: (i: number) => RequestSpec = () => ({}),
  onProgress?: (done: number) => void,
): Promise<Result[]> {
  const pool = new Pool(url, { connections: concurrency });
  const results: Result[] = new Array(total);
  let next = 0, done = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await one(pool, make(i));
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  return results;
}

/** A result of `paced`: when the request was due (ms after the start), how long it took, what it was. */
export interface Timed extends Result {
  i: number;
  method: string;
  id: string;
  at: number;
  ms: number;
}

/**
 * Open-loop load: `rate` requests per second for `durationMs`, each due at a fixed time whatever
 * the previous ones did (a slow balancer shows in the latency, not as a lower rate). Every request
 * carries `x-request-id: <prefix><i>`. `onTick(elapsedMs)` runs every 10 ms (to inject faults).
 */
export async function paced(
  url: string,
  opts: { rate: number; durationMs: number; connections?: number; prefix?: string; make?: (i: number) => RequestSpec; onTick?: (elapsedMs: number) => void },
): Promise<Timed[]> {
  const pool = new Pool(url, { connections: opts.connections ?? 64 });
  const total = Math.round((opts.rate * opts.durationMs) / 1000);
  const pending: Promise<Timed>[] = [];
  const t0 = performance.now();
  const fire = (i: number) => {
    const id = `${opts.prefix ?? "r"}${i}`;
    const spec = opts.make?.(i) ?? {};
    const method = spec.method ?? "GET";
    const at = (i * 1000) / opts.rate;
    const start = performance.now();
    pending.push(one(pool, { ...spec, headers: { ...spec.headers, "x-request-id": id } }).then((r) => ({ ...r, i, method, id, at, ms: performance.now() - start })));
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now() - t0;
      opts.onTick?.(now);
      while (pending.length < total && (pending.length * 1000) / opts.rate <= now) fire(pending.length);
      if (pending.length >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  const results = await Promise.all(pending);
  await pool.close();
  return results;
}

/** The p-th percentile (0-100) of `xs` (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : NaN;
}

/** Polls `pred` every `stepMs` until it is true; returns the elapsed ms, or throws after `timeoutMs`. */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await pred()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/** A port on 127.0.0.1 that was free a moment ago (for a process that must bind a known port). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
