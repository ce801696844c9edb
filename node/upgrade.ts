import type { ClientRequest, IncomingMessage } from "node:http";
import { lazyHttp, net } from "./builtins.ts";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import type { Config } from "../core/config/schema.ts";
import { HeaderError, isTrusted, responseHeaders } from "../core/proxy/headers.ts";
import { FAILURES, Trip, type FailureKind } from "../core/proxy/retry.ts";
import { upstreamTarget } from "../core/proxy/target.ts";
import { acceptsTunnel, isWebSocketUpgrade, switchingHeaders, tunnelFailed, upgradeRequestHeaders } from "../core/proxy/upgrade.ts";
import { NONE } from "../core/select/index.ts";
import { failureOf } from "./errors.ts";
import type { PoolRuntime, Waiter } from "./pool.ts";
import { lazyTls, originTls } from "./tls.ts";

/** Whether a request asks for a WebSocket upgrade (the only one tunnelled); others are served as plain requests. */
export function wantsWebSocket(req: IncomingMessage): boolean {
  return isWebSocketUpgrade(req.headers.upgrade, req.headers.connection);
}

/**
 * Tunnels one WebSocket upgrade whose head passed core/proxy/validate.ts (the balancer checks it
 * first) to one origin of `pool`: picked like any request, connected (TLS for https origins), sent
 * the request head; on the origin's 101 the client gets it and the bytes flow both ways until
 * either side closes or nothing moves for the pool's `timeouts.tunnel`. Any other answer is passed
 * on and the connection closed. A try whose bytes never reached an origin (refused, connect
 * timeout) may go to another one; once sent, never. Never throws.
 */
export function tunnel(config: Config, pool: PoolRuntime, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  new Tunnel(config, pool, req, socket, head).start();
}

/** Tunnels open now (every pool), so a stopping balancer can close them. */
const open = new Set<Tunnel>();

/** How many tunnels are open now, every pool together. */
export function openTunnels(): number {
  return open.size;
}

/** Closes every open tunnel (a stopping balancer, once its grace time is over). */
export function closeTunnels(): void {
  for (const t of [...open]) t.close();
}

/** Stops a try on purpose: our own connect or header deadline. */
class Deadline extends Error {
  readonly kind: "connect-timeout" | "header-timeout";
  constructor(kind: "connect-timeout" | "header-timeout") {
    super(kind);
    this.kind = kind;
  }
}

const TEXT: Record<number, string> = { 400: "Bad Request", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };

/** A small HTTP/1.1 answer of our own on the raw client socket, then the close. */
function rawReply(socket: Duplex, status: number, text: string, extra: Record<string, string> = {}): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const body = `${text}\n`;
  let h = `HTTP/1.1 ${status} ${TEXT[status] ?? lazyHttp().STATUS_CODES[status] ?? "Error"}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n`;
  for (const [k, v] of Object.entries(extra)) h += `${k}: ${v}\r\n`;
  socket.end(`${h}\r\n${body}`);
  closeSoon(socket);
}

/** Ends the write side, and destroys the stream once what was written has gone out. */
function closeSoon(s: Duplex): void {
  if (s.destroyed) return;
  const soon = (s as Socket).destroySoon;
  if (typeof soon === "function") return void soon.call(s);
  s.end();
  if (s.writableFinished) s.destroy();
  else s.once("finish", () => s.destroy());
}

/** A status line and header lines from a flat [name, value, ...] list. */
function headText(status: number, message: string, raw: readonly string[], extra = ""): string {
  let h = `HTTP/1.1 ${status} ${message || lazyHttp().STATUS_CODES[status] || ""}\r\n`;
  for (let i = 0; i < raw.length; i += 2) h += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${h}${extra}\r\n`;
}

/** One upgrade request's trip: tries (like node/proxy.ts's Exchange), then the tunnel. */
class Tunnel {
  private readonly pool: PoolRuntime;
  private readonly config: Config;
  private readonly req: IncomingMessage;
  private readonly client: Duplex;
  private readonly head: Buffer;
  private trip!: Trip;
  private path = "/";
  private headers: string[] = [];
  private readonly key: number;
  /** The current try: origin index (-1 before the first), its number, its socket and request. */
  private origin = -1;
  private attempt = 0;
  private upstream: Socket | null = null;
  private creq: ClientRequest | null = null;
  /** The current try's request head may have reached the origin (the connection was up). */
  private sent = false;
  /** The current try holds a slot of its origin (acquire without release yet). */
  private active = false;
  private timer: NodeJS.Timeout | null = null;
  private lastFailure: FailureKind | null = null;
  /** The client has its answer (ours or the origin's) or left: no further try. */
  private finished = false;
  /** Its place in the pool's queue, while it waits for a slot. */
  private waiter: Waiter | null = null;
  /** A 101 went to the client: bytes flow both ways. */
  private tunnelling = false;
  private readonly startedAt = performance.now();

  constructor(config: Config, pool: PoolRuntime, req: IncomingMessage, client: Duplex, head: Buffer) {
    this.config = config;
    this.pool = pool;
    this.req = req;
    this.client = client;
    this.head = head;
    this.key = pool.keyOf(req.socket.remoteAddress);
  }

  start(): void {
    const { req, client, config } = this;
    client.on("error", () => {});
    // the server's keep-alive or request timeouts are not the tunnel's: ours is timeouts.tunnel
    (client as Socket).setTimeout?.(0);
    const host = req.headers.host ?? "";
    const target = upstreamTarget(req.url ?? "", host);
    if (!target.ok) return rawReply(client, 400, `Bad Request: ${target.reason}`);
    const peer = req.socket.remoteAddress ?? "";
    try {
      this.headers = upgradeRequestHeaders(
        req.rawHeaders,
        { peer, proto: (req.socket as TLSSocket).encrypted ? "https" : "http", host, trusted: isTrusted(peer, config.forwardFor.trustedProxies) },
        config.forwardFor,
      );
    } catch (e) {
      if (e instanceof HeaderError) return rawReply(client, 400, `Bad Request: ${e.message}`);
      throw e;
    }
    this.path = target.path;
    this.pool.counters.requests++;
    this.trip = new Trip(this.pool.cfg, req.method ?? "GET", true, this.pool.budget, Math.random);
    this.pool.budget.onRequest();
    client.once("close", () => this.onClientClose());
    this.next();
  }

  /** Picks the next origin and connects; or queues; or gives up. */
  private next(): void {
    if (this.finished) return;
    const w = this.pool.route(this.trip, this.key, this);
    if (w !== null) this.waiter = w;
  }

  /** The origin of the next try; fromQueue: after a wait in the pool's queue (PoolRuntime.route). */
  sendTo(i: number, fromQueue: boolean): void {
    this.waiter = null;
    if (this.finished) return;
    const counters = this.pool.counters;
    if (i === NONE) {
      if (this.lastFailure) return this.fail(FAILURES[this.lastFailure].status, `no origin left to try after ${this.lastFailure}`);
      if (fromQueue) {
        counters.queueTimeouts++;
        return this.fail(503, "Service Unavailable: every origin is busy", { "retry-after": "1" });
      }
      counters.noOrigin++;
      return this.fail(503, "Service Unavailable: no origin is available");
    }
    const c = counters.origins[i];
    if (this.trip.tried.length) {
      c.retries++;
      if (this.pool.cfg.redispatch && !this.trip.tried.includes(i)) c.redispatches++;
    }
    this.trip.start(i);
    this.origin = i;
    this.sent = false;
    c.tries++;
    this.active = true;
    this.pool.acquire(i);
    const n = ++this.attempt;
    const o = this.pool.cfg.origins[i];
    const url = new URL(o.url);
    const secure = url.protocol === "https:";
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port) || (secure ? 443 : 80);
    const sock: Socket = secure ? lazyTls().connect({ host: hostname, port, ALPNProtocols: ["http/1.1"], ...originTls(o) }) : net.connect({ host: hostname, port });
    this.upstream = sock;
    const { connect: connectMs, header: headerMs } = this.pool.cfg.timeouts;
    if (connectMs > 0) this.timer = setTimeout(() => sock.destroy(new Deadline("connect-timeout")), connectMs);
    sock.once(secure ? "secureConnect" : "connect", () => {
      if (n !== this.attempt || this.finished) return;
      // from here on the request head is on its way: this try is never repeated
      this.sent = true;
      sock.setNoDelay(true);
      this.clearTimer();
      if (headerMs > 0) this.timer = setTimeout(() => sock.destroy(new Deadline("header-timeout")), headerMs);
    });
    let creq: ClientRequest;
    try {
      creq = lazyHttp().request({ method: this.req.method ?? "GET", path: this.path, headers: this.headers, createConnection: () => sock });
    } catch (e) {
      // a head node:http will not write (it validates names, values and the path): nothing was sent
      sock.destroy();
      this.clearTimer();
      this.settle();
      return this.fail(400, `Bad Request: ${(e as Error).message}`);
    }
    this.creq = creq;
    creq.on("upgrade", (res: IncomingMessage, s: Socket, bodyHead: Buffer) => {
      if (n === this.attempt) this.onSwitch(res, s, bodyHead);
      else s.destroy();
    });
    creq.on("response", (res: IncomingMessage) => {
      if (n === this.attempt) this.onResponse(res);
      else res.destroy();
    });
    creq.on("error", (err: Error) => {
      if (n === this.attempt) this.onError(err);
    });
    creq.end();
  }

  /** The origin said 101: pass it on, then move bytes both ways. */
  private onSwitch(res: IncomingMessage, up: Socket, bodyHead: Buffer): void {
    this.clearTimer();
    const i = this.origin;
    if (this.finished) {
      up.destroy();
      return this.settle();
    }
    if (!acceptsTunnel(res.statusCode ?? 0, res.rawHeaders)) {
      up.destroy();
      return this.onError(Object.assign(new Error("101 without Upgrade: websocket"), { code: "HPE_INVALID_UPGRADE" }));
    }
    const h = this.pool.health;
    if (h.state.origins[i].consecutive5xx !== 0) h.apply({ type: "outcome", origin: i, kind: "success", at: Date.now() });
    const c = this.pool.counters.origins[i];
    c.status[1]++;
    c.tunnels++;
    c.tunnelsTotal++;
    this.count(101);
    this.finish();
    this.tunnelling = true;
    open.add(this);
    const client = this.client;
    up.on("error", () => {});
    client.write(headText(101, res.statusMessage ?? "", switchingHeaders(res.rawHeaders)));
    if (bodyHead.length) {
      c.bytesOut += bodyHead.length;
      client.write(bodyHead);
    }
    if (this.head.length) up.write(this.head);
    const ms = this.pool.cfg.timeouts.tunnel;
    // the origin socket sees every byte of both directions: its idle timer is the tunnel's silence
    if (ms > 0) {
      up.setTimeout(ms);
      up.once("timeout", () => this.close());
    }
    up.on("data", (d: Buffer) => (c.bytesOut += d.length));
    up.pipe(client);
    client.pipe(up);
    // one side gone: the other is closed once what it was sent has gone out
    up.once("close", () => this.closed());
    client.once("close", () => this.closed());
  }

  /** Either side of an open tunnel closed: close the other, count the tunnel as over (once). */
  private closed(): void {
    const up = this.upstream;
    if (up) closeSoon(up);
    closeSoon(this.client);
    if (!open.delete(this)) return;
    this.pool.counters.origins[this.origin].tunnels--;
    this.settle();
  }

  /** Closes the tunnel now, both sides (idle timeout, or the balancer stopping). */
  close(): void {
    this.upstream?.destroy();
    this.client.destroy();
    this.closed();
  }

  /** The origin refused the upgrade with a normal response: pass it on, then close. */
  private onResponse(res: IncomingMessage): void {
    this.clearTimer();
    const i = this.origin;
    const status = res.statusCode ?? 0;
    if (this.finished) {
      res.destroy();
      return this.settle();
    }
    if (status === 101) {
      res.destroy();
      return this.onError(Object.assign(new Error("101 without Upgrade: websocket"), { code: "HPE_INVALID_UPGRADE" }));
    }
    const h = this.pool.health;
    if (status >= 500) h.apply({ type: "outcome", origin: i, kind: "5xx", at: Date.now() });
    else if (h.state.origins[i].consecutive5xx !== 0) h.apply({ type: "outcome", origin: i, kind: "success", at: Date.now() });
    const c = this.pool.counters.origins[i];
    c.status[(status / 100) | 0]++;
    this.count(status);
    this.finish();
    const client = this.client;
    // the body goes close-delimited (or with the origin's Content-Length); then the connection closes
    client.write(headText(status, res.statusMessage ?? "", responseHeaders(res.rawHeaders), "connection: close\r\n"));
    const up = this.upstream;
    const idleMs = this.pool.cfg.timeouts.idle;
    if (up && idleMs > 0) {
      up.setTimeout(idleMs);
      up.once("timeout", () => up.destroy());
    }
    res.on("data", (d: Buffer) => {
      c.bytesOut += d.length;
      if (!client.write(d)) {
        res.pause();
        client.once("drain", () => res.resume());
      }
    });
    res.once("end", () => {
      this.settle();
      up?.destroy();
      closeSoon(client);
    });
    // cut short (reset, idle): the client sees a truncated response, never a complete one
    res.once("close", () => {
      if (!res.complete) {
        c.failures["body-error"]++;
        this.settle();
        client.destroy();
      }
    });
  }

  /** The try failed before any answer reached the client. */
  private onError(err: Error): void {
    this.clearTimer();
    this.upstream?.destroy();
    const i = this.origin;
    this.settle();
    if (this.finished) return;
    const kind: FailureKind = err instanceof Deadline ? err.kind : failureOf(err, this.sent);
    this.pool.counters.origins[i].failures[kind]++;
    this.pool.health.apply({ type: "outcome", origin: i, kind: FAILURES[kind].outcome, at: Date.now() });
    this.lastFailure = kind;
    const d = tunnelFailed(this.trip, kind);
    if (d.retry) {
      if (d.delayMs > 0) setTimeout(() => this.next(), d.delayMs);
      else this.next();
      return;
    }
    if (d.reason === "budget") this.pool.counters.budgetExhausted++;
    this.fail(d.status, `${TEXT[d.status] ?? "Bad Gateway"}: ${kind}`);
  }

  private onClientClose(): void {
    if (this.finished || this.tunnelling) return;
    // the client left before the origin answered: not the origin's fault
    if (this.active) this.pool.counters.origins[this.origin].clientAborts++;
    this.finish();
    this.clearTimer();
    this.creq?.destroy();
    this.upstream?.destroy();
    this.settle();
  }

  /** Our own error answer; a 503 says when to come back (one check interval). */
  private fail(status: number, text: string, extra: Record<string, string> = {}): void {
    this.count(status);
    this.finish();
    if (status === 503 && !extra["retry-after"]) extra = { ...extra, "retry-after": String(Math.max(1, Math.ceil(this.pool.cfg.check.interval / 1000))) };
    rawReply(this.client, status, text, extra);
  }

  private count(status: number): void {
    this.pool.counters.duration.observe((performance.now() - this.startedAt) / 1000);
    this.pool.counters.status[(status / 100) | 0]++;
  }

  /** The current try no longer holds its origin's slot (once). */
  private settle(): void {
    if (!this.active) return;
    this.active = false;
    this.pool.release(this.origin);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.pool.cancel(this.waiter);
    this.waiter = null;
    this.trip.end();
  }
}
