import { hostname } from "node:os";
import type { Config } from "../core/config/schema.ts";
import type { HealthChange } from "../core/health/store.ts";
import { backoffMs, eventId, originEvent, retryable, signedHeaders } from "../core/notify/webhook.ts";
import type { Logger } from "./log.ts";

type NotifyConfig = Config["notify"];
type Hook = NotifyConfig["webhooks"][number];

/** One event on its way to one receiver. */
interface Delivery {
  hook: Hook;
  id: string;
  body: string;
  /** Tries made so far. */
  attempt: number;
  /** Not before this time (Date.now() ms); 0 = now. */
  due: number;
  pool: string;
  origin: string;
  kind: string;
}

/** Counters of the notifier, since start. */
export interface NotifyStats {
  /** Waiting now (first tries and retries). */
  queued: number;
  /** Delivered (a 2xx answer). */
  sent: number;
  /** Tries that failed and were scheduled again. */
  retried: number;
  /** Given up: attempts spent, a status that will not change (4xx), or no secret. */
  failed: number;
  /** Dropped because the queue was full (the oldest first). */
  dropped: number;
}

/** Tries in flight at once, all receivers together. */
const MAX_INFLIGHT = 4;

/**
 * Sends webhook notifications of origin state changes (core/notify/webhook.ts decides the body,
 * the signature and the schedule). Nothing here ever blocks or slows the proxy: `push` only
 * queues; the sending is asynchronous (Node's fetch, loaded on the first delivery, apart from the
 * origin pools), bounded in flight and in waiting deliveries (the oldest dropped first, counted
 * and logged at warn when full).
 */
export class Notifier {
  private cfg: NotifyConfig;
  private readonly secret: (name: string) => string | undefined;
  private readonly log: Logger;
  private readonly queue: Delivery[] = [];
  private readonly aborts = new Set<AbortController>();
  private active = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly counters = { sent: 0, retried: 0, failed: 0, dropped: 0 };
  private readonly source = hostname();
  private readonly rand: () => number;

  constructor(cfg: NotifyConfig, secret: (name: string) => string | undefined, log: Logger, rand: () => number = Math.random) {
    this.cfg = cfg;
    this.secret = secret;
    this.log = log;
    this.rand = rand;
    this.checkSecrets();
  }

  /** A new config (SIGHUP): deliveries waiting for a receiver that is no longer configured are dropped. */
  configure(cfg: NotifyConfig): void {
    this.cfg = cfg;
    const keep = (d: Delivery) => cfg.webhooks.some((h) => h.url === d.hook.url && h.secretEnv === d.hook.secretEnv);
    const left = this.queue.filter(keep);
    this.queue.splice(0, this.queue.length, ...left);
    this.checkSecrets();
    this.pump();
  }

  /** One origin state change: queued for every receiver that wants its kind. */
  push(pool: string, change: HealthChange): void {
    if (this.closed || this.cfg.webhooks.length === 0) return;
    const body = JSON.stringify(originEvent(pool, change, this.source));
    for (const hook of this.cfg.webhooks) {
      if (!hook.events.includes(change.kind)) continue;
      this.enqueue({ hook, id: eventId(), body, attempt: 0, due: 0, pool, origin: change.origin, kind: change.kind });
    }
    this.pump();
  }

  stats(): NotifyStats {
    return { queued: this.queue.length, ...this.counters };
  }

  /** Gives what is due (and in flight) up to `waitMs` to go out, then stops; what is left is said in the log. */
  async close(waitMs = 0): Promise<void> {
    const until = Date.now() + waitMs;
    while ((this.active > 0 || this.queue.some((d) => d.due <= Date.now())) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const unsent = this.queue.length + this.active;
    if (unsent > 0) this.log.warn({ event: "notify-unsent", deliveries: unsent, note: "stopping: these webhook deliveries are not sent" });
    this.queue.length = 0;
    for (const a of this.aborts) a.abort();
  }

  private checkSecrets(): void {
    for (const h of this.cfg.webhooks) {
      if (!this.secret(h.secretEnv)) this.log.error({ event: "notify-config", url: h.url, problem: `environment variable ${h.secretEnv} is not set: events for this webhook are not sent` });
    }
  }

  private enqueue(d: Delivery): void {
    if (this.queue.length >= this.cfg.queue) {
      const old = this.queue.shift()!;
      this.counters.dropped++;
      this.log.warn({ event: "notify-dropped", url: old.hook.url, id: old.id, pool: old.pool, origin: old.origin, kind: old.kind, dropped: this.counters.dropped, note: `queue full (${this.cfg.queue}): the oldest waiting delivery is dropped` });
    }
    this.queue.push(d);
  }

  /** Starts every due delivery that fits in flight; sets a timer for the next one due later. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    let next = Infinity;
    for (let i = 0; i < this.queue.length; ) {
      const d = this.queue[i];
      if (d.due <= now && this.active < MAX_INFLIGHT) {
        this.queue.splice(i, 1);
        void this.send(d);
        continue;
      }
      if (d.due > now) next = Math.min(next, d.due);
      i++;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.pump(), next - now);
      this.timer.unref();
    }
  }

  private async send(d: Delivery): Promise<void> {
    const secret = this.secret(d.hook.secretEnv);
    if (!secret) {
      this.counters.failed++;
      this.log.error({ event: "notify-failed", url: d.hook.url, id: d.id, pool: d.pool, origin: d.origin, kind: d.kind, problem: `environment variable ${d.hook.secretEnv} is not set` });
      return;
    }
    d.attempt++;
    this.active++;
    const ac = new AbortController();
    this.aborts.add(ac);
    const timeout = this.cfg.timeout;
    const timer = setTimeout(() => ac.abort(), timeout);
    let status = 0;
    let problem = "";
    try {
      const headers = await signedHeaders(secret, d.id, d.body, Date.now());
      const r = await fetch(d.hook.url, { method: "POST", headers, body: d.body, signal: ac.signal, redirect: "manual" });
      // the answer's body is not ours to read: let it go
      await r.body?.cancel().catch(() => {});
      status = r.status;
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      problem = ac.signal.aborted ? `no answer within ${timeout}ms` : (err.code ?? err.message ?? String(e));
    } finally {
      clearTimeout(timer);
      this.aborts.delete(ac);
      this.active--;
    }
    if (this.closed) return;
    const what = { url: d.hook.url, id: d.id, pool: d.pool, origin: d.origin, kind: d.kind, attempt: d.attempt };
    if (status >= 200 && status < 300) {
      this.counters.sent++;
      this.log.info({ event: "notify-sent", ...what, status });
    } else if (retryable(status) && d.attempt < this.cfg.attempts) {
      this.counters.retried++;
      d.due = Date.now() + backoffMs(d.attempt, this.cfg.backoff, this.cfg.maxBackoff, this.rand);
      this.log.info({ event: "notify-retry", ...what, status: status || undefined, problem: problem || undefined, retryInMs: d.due - Date.now() });
      this.enqueue(d);
    } else {
      this.counters.failed++;
      this.log.warn({ event: "notify-failed", ...what, status: status || undefined, problem: problem || undefined, note: retryable(status) ? "attempts spent" : "not retried: the receiver refused it" });
    }
    this.pump();
  }
}
