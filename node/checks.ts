import { Pool } from "./undici.ts";
import { checkPassed, checkRequest } from "../core/health/check.ts";
import type { PoolRuntime } from "./pool.ts";
import { originTls } from "./tls.ts";

/** Jitter of the check schedule (HAProxy `spread-checks`-like), as a share of the interval. */
const SPREAD = 0.1;

/**
 * Active HTTP checks for one pool: one timer per origin, every `check.interval` (+/-10 %), each on
 * its own one-connection pool so a busy origin's traffic cannot queue its probe. Each result
 * goes to the pool's health store as a `check` event.
 */
export class Checker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly probes: Pool[];
  private stopped = false;
  private readonly pool: PoolRuntime;

  constructor(pool: PoolRuntime) {
    this.pool = pool;
    this.probes = pool.cfg.origins.map((o) => new Pool(o.url, { connections: 1, pipelining: 1, connect: { timeout: pool.cfg.check.timeout, ...originTls(o) } }));
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
    const probe = checkRequest(check, this.pool.cfg.origins[i].url);
    try {
      const r = await this.probes[i].request({
        path: check.path,
        method: probe.method,
        headers: probe.headers,
        headersTimeout: check.timeout,
        bodyTimeout: check.timeout,
        signal: AbortSignal.timeout(check.timeout),
      });
      await r.body.dump({ limit: 65_536 });
      ok = checkPassed(r.statusCode, check.expect);
      detail = `HTTP ${r.statusCode}`;
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
