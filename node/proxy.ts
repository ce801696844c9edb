import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { PassThrough, type Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { HeaderError, isTrusted, requestHeaders, responseHeaders } from "../core/proxy/headers.ts";
import { FAILURES, Trip, type FailureKind } from "../core/proxy/retry.ts";
import { upstreamTarget } from "../core/proxy/target.ts";
import { NONE } from "../core/select/index.ts";
import type { Config } from "../core/config/schema.ts";
import { FAILURE_TERMINATION, TERMINATION } from "../core/log/httplog.ts";
import { failureOf } from "./errors.ts";
import { h2HasBody } from "./h2.ts";
import { H1Res } from "./h1server.ts";
import { deadlinesOf, type Deadlines, type Timed } from "./deadlines.ts";
import type { PoolRuntime, Waiter } from "./pool.ts";
import type { RequestTrace } from "./trace.ts";

/** Aborts a try on purpose (a retryable status, the total deadline, the client left). */
class Stop extends Error {
  readonly why: "retry" | "deadline" | "client" | "idle" | "header";
  constructor(why: "retry" | "deadline" | "client" | "idle" | "header") {
    super(why);
    this.why = why;
  }
}

/**
 * Connections we answered with a close: Node's parser goes on reading what the client pipelined
 * behind the refused request, and none of it may be answered or forwarded (the balancer checks).
 */
export const closingSockets = new WeakSet<object>();

/**
 * The exchange forwarding a response, on the ServerResponse: the balancer's one 'close' listener
 * per request tells it (`clientClosed`), rather than a second listener of its own.
 */
export const EXCHANGE = Symbol("edgelb.exchange");
export type WithExchange = { [EXCHANGE]?: { clientClosed(): void; clientEnded(): void } };

/** Sends a short error response of our own, optionally closing the connection. */
export function reply(res: ServerResponse, status: number, text: string, close = false, extra?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // HTTP/2: the stream ends with the answer; the connection (other streams) goes on
  if (res.req?.httpVersionMajor === 2) close = false;
  if (close && res.socket) closingSockets.add(res.socket);
  const body = `${text}\n`;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...(close ? { connection: "close" } : {}),
    ...extra,
  });
  res.end(body);
  if (close) res.once("finish", () => res.socket?.destroySoon());
}

/**
 * Forwards one request whose head passed core/proxy/validate.ts (the balancer checks it first):
 * target -> headers -> (buffer a small body) -> pick -> dispatch -> stream back; retries and
 * redispatches as core's Trip decides. Never throws. `trace` (request logs on) follows the exchange's steps.
 */
export function forward(config: Config, pool: PoolRuntime, req: IncomingMessage, res: ServerResponse, trace: RequestTrace | null, host: string, framedBody: boolean): void {
  const target = upstreamTarget(req.url ?? "", host);
  if (!target.ok) {
    if (trace) trace.term = TERMINATION.refused;
    return reply(res, 400, `Bad Request: ${target.reason}`, true);
  }
  const peer = req.socket.remoteAddress ?? "";
  let headers: string[];
  try {
    headers = requestHeaders(
      req.rawHeaders,
      { peer, proto: (req.socket as TLSSocket).encrypted ? "https" : "http", host, trusted: isTrusted(peer, config.forwardFor.trustedProxies) },
      config.forwardFor,
    );
  } catch (e) {
    if (e instanceof HeaderError) {
      if (trace) trace.term = TERMINATION.refused;
      return reply(res, 400, `Bad Request: ${e.message}`, true);
    }
    throw e;
  }
  pool.counters.requests++;
  const hasBody = h2HasBody(req) ?? framedBody;
  if (!hasBody) return new Exchange(pool, req, res, trace, peer, target.path, headers, null, true).next();
  // buffer up to replayBufferBytes so the body can be sent again; past that, stream it once
  const cap = pool.cfg.replayBufferBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (c: Buffer) => {
    size += c.length;
    chunks.push(c);
    if (size > cap) {
      req.off("data", onData).off("end", onEnd);
      req.pause();
      const body = new PassThrough();
      for (const b of chunks) body.write(b);
      req.pipe(body);
      new Exchange(pool, req, res, trace, peer, target.path, headers, body, false).next();
    }
  };
  const onEnd = () => new Exchange(pool, req, res, trace, peer, target.path, headers, Buffer.concat(chunks, size), true).next();
  req.on("data", onData).on("end", onEnd);
}

/** One client request's trip across tries; implements undici's dispatch handler. */
class Exchange implements Dispatcher.DispatchHandler, Timed {
  private readonly trip: Trip;
  private origin = -1;
  private controller: Dispatcher.DispatchController | null = null;
  private sent = false;
  private status = 0;
  private headWritten = false;
  private finished = false;
  /** Its place in the pool's queue, while it waits for a slot. */
  private waiter: Waiter | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private lastFailure: FailureKind | null = null;
  private active = false;
  /** The client sent its FIN (clientEnded). */
  private inputEnded = false;
  /**
   * The current try's deadline: for its response head ("header"), then between its body's chunks
   * ("idle"), in node/deadlines.ts's lists (restarted in place from one to the other when both
   * last as long, the defaults). The four fields below are that list's (Timed).
   */
  private timerWhy: "header" | "idle" = "header";
  dueAt = 0;
  prevDue: Timed | null = null;
  nextDue: Timed | null = null;
  dueIn: Deadlines | null = null;
  private retryDelay = 0;
  private readonly method: string;
  private readonly h2: boolean;
  /** Affinity key of the client (balance source), else 0. */
  private readonly key: number;
  private readonly pool: PoolRuntime;
  private readonly res: ServerResponse;
  /** The same response when it is our HTTP/1 one (its head written as parsed, its end without a tick); null for HTTP/2. */
  private readonly h1: H1Res | null;
  private readonly path: string;
  private readonly headers: string[];
  private readonly body: Buffer | Readable | null;
  private readonly trace: RequestTrace | null;
  /** For the request duration histogram: from ready to forward (a small body buffered) to the answer's end. */
  private readonly startedAt = performance.now();

  constructor(pool: PoolRuntime, req: IncomingMessage, res: ServerResponse, trace: RequestTrace | null, peer: string, path: string, headers: string[], body: Buffer | Readable | null, replayable: boolean) {
    this.pool = pool;
    this.res = res;
    const r: unknown = res;
    this.h1 = r instanceof H1Res ? r : null;
    this.trace = trace;
    this.path = path;
    this.headers = headers;
    this.body = body;
    this.method = req.method ?? "GET";
    this.h2 = req.httpVersionMajor === 2;
    this.key = pool.keyOf(peer);
    this.trip = new Trip(pool.cfg, this.method, replayable, pool.budget, Math.random);
    pool.budget.onRequest();
    (res as WithExchange)[EXCHANGE] = this;
    const total = pool.cfg.timeouts.total;
    if (total > 0) this.deadline = setTimeout(() => this.onDeadline(), total);
  }

  /** Picks the next origin and sends; or queues; or gives up. */
  next(): void {
    if (this.finished) return;
    // kept only when it waits: a try sent at once may have queued a retry of its own meanwhile
    const w = this.pool.route(this.trip, this.key, this);
    if (w === null) return;
    this.waiter = w;
    // (a retry queued after the client's FIN: see clientEnded)
    if (this.inputEnded) this.drop();
  }

  /** The request waits in the pool's queue from now (Routed). */
  queued(): void {
    this.trace?.queued(performance.now());
  }

  /** The origin of the next try; fromQueue: after a wait in the pool's queue (Routed). */
  sendTo(i: number, fromQueue: boolean): void {
    this.waiter = null;
    if (this.finished) return;
    const t = this.trace;
    if (t && fromQueue) t.dequeued(performance.now());
    if (i === NONE) {
      if (this.status >= 500 && !this.headWritten) return this.fail(this.status, `origins answered ${this.status}; none left to try`, TERMINATION.retried5xx);
      if (this.lastFailure) return this.fail(FAILURES[this.lastFailure].status, `no origin left to try after ${this.lastFailure}`, FAILURE_TERMINATION[this.lastFailure]);
      if (fromQueue) {
        this.pool.counters.queueTimeouts++;
        return this.fail(503, "Service Unavailable: every origin is busy", TERMINATION.queue, { "retry-after": "1" });
      }
      this.pool.counters.noOrigin++;
      return this.fail(503, "Service Unavailable: no origin is available", TERMINATION.noOrigin);
    }
    const c = this.pool.counters.origins[i];
    let redispatched = false;
    if (this.trip.tried.length) {
      c.retries++;
      if (this.pool.cfg.redispatch && !this.trip.tried.includes(i)) {
        c.redispatches++;
        redispatched = true;
      }
    }
    if (t) t.connecting(this.pool.cfg.origins[i].name, this.trip.tried.length, redispatched, performance.now());
    this.trip.start(i);
    this.origin = i;
    this.sent = false;
    this.controller = null;
    this.status = 0;
    c.tries++;
    this.active = true;
    this.pool.acquire(i);
    this.pool.dispatchers[i].dispatch(
      { path: this.path, method: this.method, headers: this.headers, body: this.body, idempotent: false, blocking: true },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.sent = true;
    if (this.finished) return controller.abort(new Stop("client"));
    this.trace?.sent(performance.now());
    // undici's headersTimeout ticks on a ~0.5 s timer wheel; the per-try header deadline is ours
    const ms = this.pool.cfg.timeouts.header;
    if (ms > 0) this.arm("header", ms);
  }

  /** (Re)starts the try's deadline; `why` names the Stop its expiry aborts the try with. */
  private arm(why: "header" | "idle", ms: number): void {
    this.timerWhy = why;
    const d = this.dueIn;
    if (d !== null && d.ms === ms) d.restart(this, performance.now());
    else deadlinesOf(ms).arm(this, performance.now());
  }

  private disarm(): void {
    this.dueIn?.disarm(this);
  }

  /** The try's deadline passed (node/deadlines.ts). */
  expired(): void {
    this.controller?.abort(new Stop(this.timerWhy));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _h: unknown, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx informational: not forwarded
    const d = this.trip.status(statusCode);
    if (!d.retry && d.reason === "budget") this.pool.counters.budgetExhausted++;
    if (d.retry) {
      this.status = statusCode;
      this.retryDelay = d.delayMs;
      this.pool.counters.origins[this.origin].status[5]++;
      this.disarm();
      controller.abort(new Stop("retry"));
      return;
    }
    this.status = statusCode;
    this.trace?.headers(performance.now());
    const headers = responseHeaders(rawToStrings(controller.rawHeaders));
    // HTTP/2 has no reason phrase. If the head cannot be written (the client sees nothing yet), the
    // throw ends this try as a bad response, and the client gets our answer
    const h1 = this.h1;
    if (h1 !== null) h1.writeHeadParsed(statusCode, statusMessage || undefined, headers);
    else this.res.writeHead(statusCode, this.h2 ? undefined : statusMessage || undefined, headers);
    this.headWritten = true;
    // undici's own bodyTimeout does not fire between slow chunks here, so the idle deadline is ours
    const idleMs = this.pool.cfg.timeouts.idle;
    if (idleMs > 0) this.arm("idle", idleMs);
    else this.disarm();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.dueIn?.restart(this, performance.now());
    this.pool.counters.origins[this.origin].bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.disarm();
    const i = this.origin;
    this.settle(i);
    const h = this.pool.health;
    if (this.status >= 500) h.apply({ type: "outcome", origin: i, kind: "5xx", at: Date.now() });
    else if (h.state.origins[i].consecutive5xx !== 0) h.apply({ type: "outcome", origin: i, kind: "success", at: Date.now() });
    this.count(this.status);
    this.finish();
    this.pool.counters.origins[i].status[(this.status / 100) | 0]++;
    if (this.h1 !== null) this.h1.endNow();
    else this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const i = this.origin;
    this.settle(i);
    this.disarm();
    if (err instanceof Stop && err.why !== "idle" && err.why !== "header") {
      if (err.why === "client") this.pool.counters.origins[i].clientAborts++;
      if (err.why !== "retry") return;
      // a retryable status (502/503/504 with retryOn): counts toward a 5xx run, then retry
      this.pool.health.apply({ type: "outcome", origin: i, kind: "5xx", at: Date.now() });
      return this.retryAfter(this.retryDelay);
    }
    if (this.finished) return;
    const kind: FailureKind = this.headWritten ? "body-error" : err instanceof Stop ? "header-timeout" : failureOf(err, this.sent);
    this.pool.counters.origins[i].failures[kind]++;
    this.pool.health.apply({ type: "outcome", origin: i, kind: FAILURES[kind].outcome, at: Date.now() });
    this.lastFailure = kind;
    const d = this.trip.failed(kind, this.headWritten);
    if (d.retry) return this.retryAfter(d.delayMs);
    if (d.reason === "budget") this.pool.counters.budgetExhausted++;
    if (this.headWritten) {
      // the client already has part of the response: cut the connection so it sees a truncated one
      if (this.trace) this.trace.term = err instanceof Stop ? `${TERMINATION.serverTimeout}D` : FAILURE_TERMINATION[kind];
      this.finish();
      this.res.destroy();
      return;
    }
    this.fail(d.status, `${d.status === 504 ? "Gateway Timeout" : d.status === 503 ? "Service Unavailable" : "Bad Gateway"}: ${kind}`, FAILURE_TERMINATION[kind]);
  }

  private retryAfter(ms: number): void {
    if (ms > 0) setTimeout(() => this.next(), ms);
    else this.next();
  }

  /** The try on origin i is over: free its slot (once). */
  private settle(i: number): void {
    if (!this.active) return;
    this.active = false;
    this.pool.release(i);
  }

  /**
   * The client half-closed (its FIN) before the answer. A request already sent on is answered; one
   * still waiting in the pool's queue for a slot is dropped as if the client had left (HAProxy's
   * `option abortonclose`): the connection closes, the slot goes to the next in line, the log says CQ.
   */
  clientEnded(): void {
    this.inputEnded = true;
    if (this.waiter !== null) this.drop();
  }

  /** Leaves the queue now (its slot goes to the next in line) and closes the client's connection. */
  private drop(): void {
    this.clientClosed();
    this.res.destroy();
  }

  /** The response's 'close' (node/balancer.ts): normal end or the client left. */
  clientClosed(): void {
    if (this.finished) return;
    // the client went away before the response ended: stop the upstream request; not the origin's fault
    this.finish();
    this.controller?.abort(new Stop("client"));
  }

  private onDeadline(): void {
    this.deadline = null;
    if (this.finished) return;
    this.controller?.abort(new Stop("deadline"));
    const term = `${TERMINATION.serverTimeout}${this.trace?.phase ?? "H"}`;
    if (this.headWritten) {
      if (this.trace) this.trace.term = term;
      this.finish();
      this.res.destroy();
    } else this.fail(504, "Gateway Timeout: total deadline reached", term);
  }

  /** Our own error answer; every 503 of ours says when to come back (one check interval), as the one for "no origin" does. */
  private fail(status: number, text: string, term: string, extra?: Record<string, string>): void {
    if (this.trace) this.trace.term = term;
    this.count(status);
    this.finish();
    if (status === 503 && !extra?.["retry-after"]) extra = { ...extra, "retry-after": String(Math.max(1, Math.ceil(this.pool.cfg.check.interval / 1000))) };
    reply(this.res, status, text, false, extra);
  }

  private count(status: number): void {
    this.pool.counters.duration.observe((performance.now() - this.startedAt) / 1000);
    this.pool.counters.status[(status / 100) | 0]++;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    // a request that leaves while queued gives its place up (the slot goes to the next in line)
    this.pool.cancel(this.waiter);
    this.waiter = null;
    this.trip.end();
    if (this.deadline) clearTimeout(this.deadline);
  }
}

/** The origin's raw headers as strings: node/h1.ts gives strings already, undici gives Buffers. */
function rawToStrings(raw: unknown): string[] {
  const a = raw as (Buffer | string)[];
  if (a.length === 0 || typeof a[0] === "string") return a as string[];
  const out = new Array<string>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = typeof a[i] === "string" ? (a[i] as string) : (a[i] as Buffer).toString("latin1");
  return out;
}
