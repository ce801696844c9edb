import type { Dispatcher } from "undici";
import { checkPassed, checkRequest } from "../core/health/check.ts";
import type { OriginConfig } from "../core/config/schema.ts";
import { H1Pool, type H1Request, type Upstream } from "./h1.ts";
import type { PoolRuntime } from "./pool.ts";
import { originTls } from "./tls.ts";
import { undiciPool } from "./undici.ts";

/** Jitter of the check schedule (HAProxy `spread-checks`-like), as a share of the interval. */
const SPREAD = 0.1;

/**
 * Active HTTP checks for one pool: one timer per origin, every `check.interval` (+/-10 %), each on
 * its own one-connection pool so a busy origin's traffic cannot queue its probe. Each result
 * goes to the pool's health store as a `check` event.
 */
export class Checker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly probes: Upstream[];
  private stopped = false;
  private readonly pool: PoolRuntime;

  constructor(pool: PoolRuntime) {
    this.pool = pool;
    this.probes = pool.cfg.origins.map((o) => probeConnection(o, pool.cfg.check.timeout));
  }

  start(): void {
    if (!this.pool.cfg.check.enabled) return;
    this.pool.cfg.origins.forEach((_, i) => this.schedule(i, Math.random() * Math.min(this.pool.cfg.check.interval, 250)));
  }

  private schedule(i: number, ms: number): void {
    if (this.stopped) return;
    this.timers[i] = setTimeout(() => void this.run(i), ms);
    this.timers[i].unref();
  }

  private async run(i: number): Promise<void> {
    const { check } = this.pool.cfg;
    const startedAt = Date.now();
    let ok = false;
    let detail: string;
    const req = checkRequest(check, this.pool.cfg.origins[i].url);
    try {
      const status = await probe(this.probes[i], { path: check.path, method: req.method, headers: Object.entries(req.headers).flat(), body: null }, check.timeout);
      ok = checkPassed(status, check.expect);
      detail = `HTTP ${status}`;
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      detail = err.name === "TimeoutError" ? `timeout after ${check.timeout}ms` : (err.code ?? err.message ?? "error");
    }
    if (this.stopped) return;
    const at = Date.now();
    this.pool.health.apply({ type: "check", origin: i, ok, at, startedAt, ms: at - startedAt, detail });
    const inter = check.interval * (1 - SPREAD / 2 + Math.random() * SPREAD);
    this.schedule(i, Math.max(0, inter - (at - startedAt)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(this.probes.map((p) => p.destroy()));
  }
}

/** A check's own connection to an origin (at most one: an origin's checks run one after another). */
function probeConnection(o: OriginConfig, timeout: number): Upstream {
  const h1 = H1Pool.forUrl(o.url, timeout);
  if (h1) return h1;
  const Pool = undiciPool();
  return new Pool(o.url, { connections: 1, pipelining: 1, connect: { timeout, ...originTls(o) } });
}

/** One check request: its status, once the answer's body is read (up to 64 KiB; the rest is not waited for). */
function probe(up: Upstream, req: H1Request, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let settled = false, status = 0, bytes = 0;
    let ctl: Dispatcher.DispatchController | null = null;
    const settle = (e: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(status);
    };
    const timer = setTimeout(() => {
      const e = Object.assign(new Error(`timeout after ${timeoutMs}ms`), { name: "TimeoutError" });
      settle(e);
      ctl?.abort(e);
    }, timeoutMs);
    up.dispatch(req, {
      onRequestStart: (c) => void (ctl = c),
      onResponseStart: (_c, s) => void (status = s),
      onResponseData: (c, chunk) => {
        bytes += chunk.length;
        if (bytes > 65_536) {
          settle(null);
          c.abort(new Error("check body past 64 KiB: not read further"));
        }
      },
      onResponseEnd: () => settle(null),
      onResponseError: (_c, e) => settle(e),
    });
  });
}
