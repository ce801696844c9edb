import type { Socket } from "node:net";
import { net } from "./builtins.ts";
import type { Readable } from "node:stream";
// the C++ llhttp that node:http runs, fed straight from the socket (`consume`): no JS 'data' hop
import { HTTPParser } from "node:_http_common";
import { allocParser, consumeSocket, readStart, readStop, releaseParser } from "./parsers.ts";
import { writeLatin1 } from "./sockwrite.ts";
import type { Dispatcher } from "undici";

/**
 * A keep-alive HTTP/1.1 client for one plain-http origin, for the proxy's hot path: one request
 * per connection at a time, a new connection when none is idle (the pool's maxconn already caps
 * the tries in flight), idle ones closed after `keepAlive` ms (or the origin's own Keep-Alive
 * timeout hint, less a second). It drives the same handler as undici's `dispatch`
 * (onRequestStart, onResponseStart/Data/End/Error; `controller.abort/pause/resume/rawHeaders`),
 * so node/proxy.ts does not know which one it talks to; https origins keep undici (node/pool.ts).
 * Measured against undici's Pool on this path: about 15 µs less CPU per request (bench/HISTORY.md).
 * Errors carry the codes node/errors.ts maps: ECONNREFUSED..., UND_ERR_CONNECT_TIMEOUT, HPE_*.
 */
export interface H1Request {
  path: string;
  method: string;
  /** Flat [name, value, ...], already checked (core/proxy/headers.ts); Host included. */
  headers: string[];
  /** A buffered body (may be sent again), a stream (sent once), or none. */
  body: Buffer | Readable | null;
  /** For undici (https origins): never retried by the client itself; nothing pipelined behind it. */
  idempotent?: false;
  blocking?: true;
}

type Handler = Dispatcher.DispatchHandler;

/** What the proxy and the checks send through: this pool, or undici's for https origins. */
export interface Upstream {
  dispatch(req: H1Request, handler: Handler): boolean;
  /** No new requests; resolves once those in flight are over. */
  close(): Promise<unknown>;
  /** Every connection closed now; requests in flight fail. */
  destroy(): Promise<unknown>;
}
const { kOnMessageBegin, kOnHeaders, kOnHeadersComplete, kOnBody, kOnMessageComplete, kOnExecute } = HTTPParser;
const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH"]);

export class H1Pool {
  private readonly idle: Conn[] = [];
  /** Every open connection (for `destroy`), and how many have an exchange in progress. */
  readonly conns = new Set<Conn>();
  private active = 0;
  private closed = false;
  private onIdle: (() => void) | null = null;
  private readonly sweep: NodeJS.Timeout;

  readonly host: string;
  readonly port: number;
  readonly connectTimeout: number;
  readonly keepAlive: number;
  /** host[:port] as a Host header names this origin. */
  readonly authority: string;

  constructor(host: string, port: number, connectTimeout: number, keepAlive = 4_000) {
    this.host = host;
    this.port = port;
    this.connectTimeout = connectTimeout;
    this.keepAlive = keepAlive;
    this.authority = `${host.includes(":") ? `[${host}]` : host}${port === 80 ? "" : `:${port}`}`;
    // one timer for every idle connection of the pool, not one per connection or per request
    this.sweep = setInterval(() => this.closeIdle(performance.now()), 1_000).unref();
  }

  /** A pool for an http:// origin URL; null for any other scheme (https goes to undici). */
  static forUrl(origin: string, connectTimeout: number, keepAlive?: number): H1Pool | null {
    const url = new URL(origin);
    if (url.protocol !== "http:") return null;
    return new H1Pool(url.hostname.replace(/^\[|\]$/g, ""), Number(url.port || 80), connectTimeout, keepAlive);
  }

  dispatch(req: H1Request, handler: Handler): boolean {
    if (this.closed) {
      process.nextTick(() => handler.onResponseError?.(new Control(null), Object.assign(new Error("pool closed"), { code: "UND_ERR_CLOSED" })));
      return false;
    }
    let c = this.idle.pop();
    if (c === undefined) this.conns.add((c = new Conn(this)));
    this.active++;
    c.start(req, handler);
    return true;
  }

  /** A connection finished its exchange: back to the idle list, or gone. */
  done(c: Conn, reusable: boolean): void {
    this.active--;
    if (reusable && !this.closed) this.idle.push(c);
    else c.destroy();
    if (this.active === 0 && this.onIdle) this.onIdle();
  }

  /** An idle connection closed by the origin (or timed out). */
  forget(c: Conn): void {
    const at = this.idle.indexOf(c);
    if (at !== -1) this.idle.splice(at, 1);
  }

  private closeIdle(now: number): void {
    for (const c of this.idle.slice()) if (now - c.idleSince > c.idleLimit) c.destroy();
  }

  /** Every connection closed now: requests in flight fail (their handlers hear it). */
  async destroy(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    for (const c of this.idle.splice(0)) c.destroy();
    for (const c of [...this.conns]) c.abortNow(Object.assign(new Error("pool destroyed"), { code: "UND_ERR_DESTROYED" }));
  }

  /** No new requests; resolves once the ones in flight are over and every connection is closed. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    if (this.active > 0) await new Promise<void>((r) => (this.onIdle = r));
    for (const c of this.idle.splice(0)) c.destroy();
  }
}

/** What the handler holds for one try: abort it, pause and resume the response body, read its raw headers. */
class Control {
  rawHeaders: string[] = [];
  paused = false;
  aborted = false;
  reason: Error | null = null;
  private readonly conn: Conn | null;
  constructor(conn: Conn | null) {
    this.conn = conn;
  }
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.conn?.fail(reason, this);
  }
  pause(): void {
    this.paused = true;
    this.conn?.readStop();
  }
  resume(): void {
    this.paused = false;
    this.conn?.readStart();
  }
}

class Conn {
  private readonly socket: Socket;
  private readonly parser = allocParser();
  private consumed = false;
  private connected = false;
  private handler: Handler | null = null;
  private ctl: Control | null = null;
  private req: H1Request | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  /** Response head received for the current exchange (not a 1xx). */
  private head = false;
  /** The origin keeps the connection open after this response. */
  private keepAlive = false;
  /** The request body is all written (a stream's end came). */
  private bodySent = false;
  /** Header pairs the parser handed over before the head was complete (more than 32, or split reads). */
  private partial: string[] = [];
  idleSince = 0;
  /** How long this connection may sit idle: the pool's keepAlive, or less when the origin says so. */
  idleLimit: number;

  private readonly pool: H1Pool;

  constructor(pool: H1Pool) {
    this.pool = pool;
    this.idleLimit = pool.keepAlive;
    const s = (this.socket = net.connect({ host: pool.host, port: pool.port, noDelay: true }));
    const p = this.parser;
    p.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    // no JS call at each response's start: null, not a no-op (a call into JS per response) nor
    // absent (C++ then looks the index up the prototype chain per response: 1-2 % of the CPU)
    p[kOnMessageBegin] = null;
    p[kOnHeaders] = (h: string[]) => void this.partial.push(...h);
    p[kOnHeadersComplete] = (_maj: number, _min: number, headers: string[] | undefined, _m: unknown, _u: unknown, status: number, message: string, upgrade: boolean, keepAlive: boolean) =>
      this.onHead(headers ?? this.takePartial(), status, message, upgrade, keepAlive);
    p[kOnBody] = (b: Buffer) => this.onBody(b);
    p[kOnMessageComplete] = () => this.onEnd();
    p[kOnExecute] = (ret: unknown) => {
      if (ret instanceof Error) this.fail(ret, this.ctl);
    };
    if (pool.connectTimeout > 0) {
      this.connectTimer = setTimeout(() => this.fail(Object.assign(new Error("connect timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" }), this.ctl), pool.connectTimeout);
    }
    s.once("connect", () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connected = true;
      this.consumed = consumeSocket(p, s);
      if (this.req) this.write();
    });
    s.on("error", (e) => this.fail(e, this.ctl));
    // the origin closed: the end of a body read to EOF, or an error for an exchange in progress
    s.on("end", () => this.eof());
    s.on("close", () => {
      this.eof();
      this.pool.conns.delete(this);
      releaseParser(p, this.consumed);
    });
  }

  start(req: H1Request, handler: Handler): void {
    this.req = req;
    this.handler = handler;
    this.ctl = new Control(this);
    this.head = false;
    this.bodySent = req.body === null || Buffer.isBuffer(req.body);
    if (this.connected) this.write();
  }

  private write(): void {
    const req = this.req!;
    const h = req.headers;
    const body = req.body;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let length = false, host = false;
    for (let i = 0; i < h.length; i += 2) {
      const n = h[i];
      head += `${n}: ${h[i + 1]}\r\n`;
      if (n.length === 14 && !length) length = n.toLowerCase() === "content-length";
      else if (n.length === 4 && !host) host = n.toLowerCase() === "host";
    }
    // an HTTP/1.0 client may send no Host; HTTP/1.1 requires one (RFC 9112 §3.2): the origin's own
    if (!host) head += `host: ${this.pool.authority}\r\n`;
    const chunked = body !== null && !Buffer.isBuffer(body) && !length;
    if (!length) {
      if (Buffer.isBuffer(body)) head += `content-length: ${body.length}\r\n`;
      else if (chunked) head += "transfer-encoding: chunked\r\n";
      else if (METHODS_WITH_BODY.has(req.method)) head += "content-length: 0\r\n";
    }
    head += "\r\n";
    const ctl = this.ctl!;
    this.handler!.onRequestStart?.(ctl as unknown as Dispatcher.DispatchController, {});
    // the handler may abort at once (its client left while we connected)
    if (ctl.aborted || this.socket.destroyed) return;
    const s = this.socket;
    if (body === null) writeLatin1(s, head);
    else if (Buffer.isBuffer(body)) {
      s.cork();
      s.write(head, "latin1");
      if (body.length) s.write(body);
      s.uncork();
    } else {
      s.write(head, "latin1");
      this.stream(body, chunked);
    }
  }

  /** A body that was not buffered: written as it comes, with backpressure; chunked unless its length is known. */
  private stream(body: Readable, chunked: boolean): void {
    const s = this.socket;
    const ctl = this.ctl;
    const live = () => this.ctl === ctl && !ctl!.aborted;
    body.on("data", (c: Buffer) => {
      if (!live()) return void body.destroy();
      const ok = chunked ? (s.write(`${c.length.toString(16)}\r\n`), s.write(c), s.write("\r\n")) : s.write(c);
      if (!ok) {
        body.pause();
        s.once("drain", () => body.resume());
      }
    });
    body.once("end", () => {
      if (!live()) return;
      this.bodySent = true;
      if (chunked) s.write("0\r\n\r\n");
    });
    body.once("error", (e) => live() && this.fail(Object.assign(e, { code: "UND_ERR_REQ_BODY" }), ctl));
  }

  private takePartial(): string[] {
    const h = this.partial;
    this.partial = [];
    return h;
  }

  private onHead(headers: string[], status: number, message: string, upgrade: boolean, keepAlive: boolean): number {
    const ctl = this.ctl;
    if (!ctl || ctl.aborted) return 1;
    if (status < 200) return 0; // 100/103: informational, the real head follows
    if (upgrade || status === 101) {
      this.fail(Object.assign(new Error("unexpected upgrade from the origin"), { code: "UND_ERR_INFO" }), ctl);
      return 1;
    }
    this.head = true;
    this.keepAlive = keepAlive;
    ctl.rawHeaders = headers;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i].length === 10 && headers[i].toLowerCase() === "keep-alive") {
        // the origin's own idle timeout, less a second: we never reuse a connection it is closing
        const m = /timeout=(\d+)/i.exec(headers[i + 1]);
        if (m) this.idleLimit = Math.min(this.pool.keepAlive, Number(m[1]) * 1000 - 1000);
      }
    }
    // a handler that throws fails this try (as undici does): an exception must not reach the parser
    try {
      this.handler!.onResponseStart?.(ctl as unknown as Dispatcher.DispatchController, status, {}, message);
    } catch (e) {
      this.fail(Object.assign(e as Error, { code: "UND_ERR_INFO" }), ctl);
      return 1;
    }
    // a HEAD response has no body whatever its Content-Length says
    return this.req?.method === "HEAD" ? 1 : 0;
  }

  private onBody(b: Buffer): void {
    const ctl = this.ctl;
    if (!ctl || ctl.aborted) return;
    try {
      this.handler!.onResponseData?.(ctl as unknown as Dispatcher.DispatchController, b);
    } catch (e) {
      this.fail(e as Error, ctl);
    }
  }

  private onEnd(): void {
    const ctl = this.ctl;
    if (!ctl || ctl.aborted || !this.head) return;
    const handler = this.handler!;
    const reusable = this.keepAlive && this.bodySent && this.idleLimit > 0 && !this.socket.destroyed;
    this.release();
    if (ctl.paused) this.readStart();
    this.idleSince = performance.now();
    this.pool.done(this, reusable);
    handler.onResponseEnd?.(ctl as unknown as Dispatcher.DispatchController, {});
  }

  private release(): void {
    this.req = null;
    this.handler = null;
    this.ctl = null;
  }

  /** The socket ended or closed: a body read to its end (no length), a failure mid-exchange, or an idle connection gone. */
  private eof(): void {
    if (!this.ctl) return void this.pool.forget(this);
    if (this.head && this.connected) {
      // a body delimited by the close ends here; a body cut short (length or chunks missing) fails
      const r = this.parser.finish();
      if (r instanceof Error) return this.fail(r, this.ctl);
      if (!this.ctl) return;
    }
    this.fail(Object.assign(new Error("the origin closed the connection"), { code: this.connected ? "UND_ERR_SOCKET" : "ECONNRESET" }), this.ctl);
  }

  /** Ends the current exchange with `err` (the handler hears it once) and drops the connection. */
  fail(err: Error, ctl: Control | null): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (!ctl || ctl !== this.ctl) return void this.destroy();
    const handler = this.handler!;
    this.release();
    this.destroy();
    this.pool.done(this, false);
    process.nextTick(() => handler.onResponseError?.(ctl as unknown as Dispatcher.DispatchController, ctl.reason ?? err));
  }

  abortNow(err: Error): void {
    this.fail(err, this.ctl);
  }

  readStop(): void {
    readStop(this.socket);
  }

  readStart(): void {
    readStart(this.socket);
  }

  destroy(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.pool.forget(this);
    // (out of pool.conns at the socket's 'close')
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
