import type { Socket } from "node:net";
import { Readable } from "node:stream";
// the same C++ llhttp parser node:http's server runs, fed straight from the socket (`consume`)
import { HTTPParser, methods } from "node:_http_common";
import { allocParser, consumeSocket, readStart, readStop, releaseParser } from "./parsers.ts";
import { events, lazyHttp } from "./builtins.ts";
import { writeLatin1 } from "./sockwrite.ts";

/**
 * The HTTP/1.1 server side of the self-hosted build: the requests of a client connection parsed by
 * node:http's own llhttp (same limits, same strictness, same errors), answered in order, with the
 * keep-alive and header deadlines on one sweep. It replaces http.Server, whose per-request JS
 * (IncomingMessage, ServerResponse, header validation and bookkeeping, a timer per connection)
 * cost about a third of the proxy's CPU per request (bench/HISTORY.md). `H1Req` and `H1Res`
 * carry the part of IncomingMessage and ServerResponse that edgelb uses, under the same names, so
 * the request path (node/balancer.ts, node/proxy.ts, node/control-adapter.ts) serves both them
 * and node:http2's compatibility objects.
 */
export interface H1ServerOptions {
  /** ms from the first byte of a request head (or the connection's start) to its end: else 408. */
  headersTimeout: number;
  /** ms from a request's start to the end of its body (node:http's requestTimeout): else the connection is cut. */
  requestTimeout: number;
  /** ms an idle keep-alive connection stays open. */
  keepAliveTimeout: number;
  /** bytes of a request head (llhttp's limit): past it HPE_HEADER_OVERFLOW. */
  maxHeaderSize: number;
  /** ms between two sweeps of the deadlines. */
  checkInterval: number;
  /**
   * From this many open connections on, a connection with nothing half read gives its parser back
   * after each read, not two sweeps later (at 9,000 busy connections: about 10 MiB less RSS).
   */
  eagerParkAt: number;
  /** A client's FIN leaves what it asked answered (client.halfClose "answer"); else it closes the connection. */
  halfOpen: boolean;
}

export interface H1Handlers {
  request(req: H1Req, res: H1Res): void;
  /** A request the server will tunnel (true: `upgrade` is called with the socket); others are plain requests. */
  wantsUpgrade(req: H1Req): boolean;
  upgrade(req: H1Req, socket: Socket, head: Buffer): void;
  /** A head the parser refused, or a header deadline passed (code ERR_HTTP_REQUEST_TIMEOUT): answer on the socket. */
  clientError(err: Error & { code?: string; rawPacket?: Buffer; bytesParsed?: number }, socket: Socket): void;
  /** A new connection (h1 only), before anything is read. */
  connection(socket: Socket): void;
  /** That connection's socket closed (also one handed to `upgrade`, when its tunnel ends). */
  closed(socket: Socket): void;
  /** halfOpen: the client sent its FIN while `res` is in progress (its request may still wait for an origin). */
  inputEnded(res: H1Res): void;
}

const { kOnMessageBegin, kOnHeaders, kOnHeadersComplete, kOnBody, kOnMessageComplete, kOnExecute } = HTTPParser;
let STATUS: Record<number, string | undefined> | undefined;
/** The reason phrase of a status (node:http's table, loaded at the first answer of our own). */
const reasonOf = (status: number) => (STATUS ??= lazyHttp().STATUS_CODES)[status];

/** Header names whose duplicates IncomingMessage#headers drops (the first one counts). */
const SINGLE = new Set(["content-type", "content-length", "user-agent", "referer", "host", "authorization", "proxy-authorization", "if-modified-since", "if-unmodified-since", "from", "location", "max-forwards", "retry-after", "etag", "last-modified", "server", "age", "expires"]);

/** The Date header, made once a second (as node:http caches it). */
let dateCache = "";
let dateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000 || dateCache === "") {
    dateAt = now - (now % 1000);
    dateCache = new Date(now).toUTCString();
  }
  return dateCache;
}

const PARKS_PER_SWEEP = 1000;

export class H1Server {
  readonly opts: H1ServerOptions;
  private readonly on: H1Handlers;
  private readonly conns = new Set<Conn>();
  private sweep: NodeJS.Timeout | null = null;

  constructor(opts: H1ServerOptions, on: H1Handlers) {
    this.opts = opts;
    this.on = on;
  }

  /** Starts the deadline sweep (at listen). */
  start(): void {
    this.sweep ??= setInterval(() => this.check(), this.opts.checkInterval).unref();
  }

  /** Serves one client connection (plain TCP, or TLS negotiated to http/1.1). */
  accept(socket: Socket): void {
    const c = new Conn(this, socket, this.on);
    this.conns.add(c);
    this.on.connection(socket);
    c.begin();
  }

  forget(c: Conn): void {
    this.conns.delete(c);
  }

  private check(): void {
    const now = performance.now();
    const { headersTimeout, keepAliveTimeout, requestTimeout } = this.opts;
    // parsers given back per sweep at most: thousands at once would hold the loop for tens of ms
    let parks = PARKS_PER_SWEEP;
    for (const c of this.conns) {
      if (c.headStart !== 0 && headersTimeout > 0 && now - c.headStart > headersTimeout) c.headTimeout();
      // a body trickled in slower than the whole request may take (R-U-Dead-Yet)
      else if (c.bodyStart !== 0 && requestTimeout > 0 && now - c.bodyStart > requestTimeout) c.socket.destroy();
      else if (c.idleSince !== 0 && now - c.idleSince > keepAliveTimeout) c.socket.destroy();
      else if (c.recent) c.recent = false;
      else if (parks > 0 && c.park()) parks--;
    }
  }

  /** Connections open now. */
  get size(): number {
    return this.conns.size;
  }

  /** Connections holding a parser now (the others are parked). */
  get parsing(): number {
    let n = 0;
    for (const c of this.conns) if (c.hasParser()) n++;
    return n;
  }

  /** Connections without a request in progress are closed. */
  closeIdle(): void {
    for (const c of this.conns) if (c.isIdle()) c.socket.destroy();
  }

  closeAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  /** No more sweeps. */
  stop(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }
}

type HeadError = Error & { code?: string; rawPacket?: Buffer; bytesParsed?: number };

class Conn {
  readonly socket: Socket;
  private readonly server: H1Server;
  private readonly on: H1Handlers;
  /** Its llhttp parser while one is needed (about 6.6 KiB of native memory each: see `park`). */
  private parser: ParserOf | null = null;
  private consumed = false;
  /** Something was read since the last sweep. */
  recent = true;
  /** The response being written now; later requests wait in `queue` (answers go out in order). */
  private current: H1Res | null = null;
  private readonly queue: H1Res[] = [];
  /** The request whose body the parser is reading. */
  private reading: H1Req | null = null;
  private partial: string[] = [];
  private partialUrl = "";
  /** When the head being read began (0: none is being read). */
  headStart = 0;
  /** When the request whose body is being read began (0: no body is being read). */
  bodyStart = 0;
  /** Since when nothing is in progress (0: something is). */
  idleSince = 0;
  private upgradeReq: H1Req | null = null;
  /** The client sent its FIN (see ended). */
  private inputDone = false;
  /** A parse error behind a response in progress: told once that response is out. */
  private pendingError: HeadError | null = null;
  closed = false;

  constructor(server: H1Server, socket: Socket, on: H1Handlers) {
    this.server = server;
    this.socket = socket;
    this.on = on;
  }

  begin(): void {
    const s = this.socket as SocketOf;
    // a connection that sends nothing is held to the header deadline too (slowloris)
    this.headStart = performance.now();
    s[CONN] = this;
    // client.halfClose "answer": a client's FIN ends its input only, what it asked is still answered
    // (see ended); else Node ends the connection at the FIN and its 'close' aborts what is in progress
    if (this.server.opts.halfOpen) s.allowHalfOpen = true;
    s.on("error", onSocketError);
    s.on("close", onSocketClose);
    s.on("end", onSocketEnd);
    // bytes that reach JS (the parser was given back, or they were read before it took over) come here
    s.on("data", onSocketData);
    // net and tls sockets have a stream handle until they close: one that closed before this had nothing to serve
    if (!this.attach()) s.destroy();
  }

  hasParser(): boolean {
    return this.parser !== null;
  }

  /** Takes a parser and feeds it straight from the socket's handle; false when the socket has no handle left. */
  private attach(): boolean {
    const p = allocParser() as ParserOf;
    p.initialize(HTTPParser.REQUEST, {}, this.server.opts.maxHeaderSize, 0);
    // llhttp calls these with the parser as `this`: shared functions, no closures per connection
    p[CONN] = this;
    // no JS call at a request's start while nothing is in progress (one C++ -> JS crossing per
    // request): onExecute, called after every read anyway, starts the header deadline when a read
    // began a head it did not end. While a request is in progress (a pipelined head may follow it
    // in the same read) the parser tells each head's start (onHead sets it, finished clears it).
    p[kOnMessageBegin] = null;
    p[kOnHeaders] = onHeaders;
    p[kOnHeadersComplete] = onHeadersComplete;
    p[kOnBody] = onBody;
    p[kOnMessageComplete] = onMessageComplete;
    p[kOnExecute] = onExecute;
    this.parser = p;
    this.consumed = consumeSocket(p, this.socket);
    return this.consumed;
  }

  private releaseParser(): void {
    const p = this.parser;
    if (p === null) return;
    this.parser = null;
    releaseParser(p, this.consumed);
    this.consumed = false;
    p[CONN] = undefined;
  }

  /**
   * Nothing read for two sweeps and nothing half read: the parser goes back to the free list (or is
   * freed) and the socket's next bytes come through JS (`data`), which takes one again. A request
   * waiting its turn in a pool's queue, or an idle keep-alive connection, then costs no parser:
   * at 9,000 such connections that is about 60 MiB less RSS.
   */
  park(): boolean {
    if (this.parser === null || this.closed || this.headStart !== 0 || this.reading !== null || this.upgradeReq !== null || this.pendingError !== null) return false;
    this.releaseParser();
    return true;
  }

  /** Bytes that came through JS: parsed here, a parked connection taking a parser first. */
  data(chunk: Buffer): void {
    if (this.closed) return;
    if (this.parser === null && !this.attach()) return void this.socket.destroy();
    const ret = this.parser!.execute(chunk);
    this.onExecute(ret, chunk);
  }

  /** A pipelined head began (the parser tells it only while a request is in progress). */
  messageBegin(): void {
    this.headStart = performance.now();
    this.idleSince = 0;
  }

  /** The read being parsed completed a head or a message (onExecute clears it). */
  private progressed = false;

  /** Past 32 header lines (or a head split over reads) the parser hands them, and the URL, over early. */
  headerPart(h: string[], url: string): void {
    this.partial.push(...h);
    this.partialUrl += url;
  }

  body(b: Buffer): void {
    const r = this.reading;
    if (r !== null && !r.feed(b)) readStop(this.socket);
  }

  messageComplete(): void {
    this.progressed = true;
    const r = this.reading;
    this.reading = null;
    this.bodyStart = 0;
    r?.finish();
  }

  /**
   * The client finished sending (its FIN). With nothing in progress the connection ends. Otherwise,
   * unless halfOpen, Node ends it too and its 'close' aborts what is in progress. With halfOpen
   * (a client may half-close right after its requests: `nc -N`, scripts, some checkers) those are
   * answered in turn, then the connection ends (finished). A body the FIN cut short cannot complete:
   * that is a client gone. A request still waiting in a pool's queue for an origin slot is dropped
   * as if its client had left (handlers' `inputEnded`, HAProxy's `option abortonclose`): when a load test or a
   * crowd of browsers closes at once, their queued requests would otherwise go to the origins ahead
   * of live ones.
   */
  ended(): void {
    if (this.closed) return;
    if (this.current === null && this.queue.length === 0) return void this.socket.end();
    if (!this.server.opts.halfOpen) return;
    this.inputDone = true;
    if (this.reading !== null && !this.reading.complete) return void this.socket.destroy();
    if (this.current !== null) this.on.inputEnded(this.current);
  }

  isIdle(): boolean {
    return this.current === null && this.queue.length === 0 && this.reading === null;
  }

  onHead(maj: number, min: number, headers: string[] | undefined, method: number, url: string, upgrade: boolean, keepAlive: boolean): number {
    this.progressed = true;
    // the request's deadline (requestTimeout) runs from its head's start when a read left that
    // head unfinished (or the connection's start), else from now (the head came in one read)
    this.bodyStart = this.headStart !== 0 ? this.headStart : performance.now();
    this.headStart = 0;
    this.parser![kOnMessageBegin] = onMessageBegin;
    let raw = headers ?? [];
    if (this.partial.length !== 0) {
      raw = this.partial.concat(raw);
      this.partial = [];
    }
    if (!url) {
      url = this.partialUrl;
      this.partialUrl = "";
    }
    const req = new H1Req(this.socket, methods[method], url, maj, min, raw);
    if (upgrade && req.method !== "CONNECT" && this.on.wantsUpgrade(req)) {
      req.upgrade = true;
      this.upgradeReq = req;
      // llhttp stops after the head; the rest of the bytes belong to the tunnel
      return 2;
    }
    const res = new H1Res(this, req, keepAlive);
    this.reading = req;
    if (this.current === null) this.dispatch(res);
    else this.queue.push(res);
    return 0;
  }

  private dispatch(res: H1Res): void {
    this.current = res;
    this.idleSince = 0;
    this.start(res);
    // a pipelined request whose turn came after the client's FIN (see ended)
    if (this.inputDone && this.current === res) this.on.inputEnded(res);
  }

  private start(res: H1Res): void {
    const req = res.req;
    // Expect: node:http answers 100-continue itself (no checkContinue listener) and 417 to the rest
    const expect = req.expect();
    if (expect !== null) {
      if (expect.trim().toLowerCase() === "100-continue" && req.httpVersionMinor === 1) this.socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      else {
        res.shouldKeepAlive = false;
        res.writeHead(417, { "content-length": "0", connection: "close" });
        res.end();
        return;
      }
    }
    this.on.request(req, res);
  }

  /** `res` is finished: the next request's turn, or idle, or the close it asked for. */
  finished(res: H1Res): void {
    if (this.current !== res) return;
    this.current = null;
    const req = res.req;
    // a body nobody read is read and dropped, so the next request on the connection can be parsed
    if (!req.complete && res.shouldKeepAlive && !this.closed) req.resume();
    if (this.closed) return;
    if (!res.shouldKeepAlive) return void this.socket.destroySoon();
    if (this.pendingError !== null) return this.tellError(this.pendingError);
    const next = this.queue.shift();
    if (next !== undefined) return this.dispatch(next);
    // nothing in progress: a head that begins now is seen by onExecute (see attach)
    if (this.reading === null && this.parser !== null) this.parser[kOnMessageBegin] = null;
    if (this.socket.readableEnded) return void this.socket.end();
    if (this.reading === null && this.headStart === 0) this.idleSince = performance.now();
  }

  /** After the parser ran over one read: `chunk` is that read when it came through JS (else the parser has it). */
  onExecute(ret: unknown, chunk?: Buffer): void {
    // every read ends here, whichever way it came (consumed, or `data`)
    this.recent = true;
    const progressed = this.progressed;
    this.progressed = false;
    if (ret instanceof Error) {
      const err = ret as HeadError;
      err.rawPacket ??= chunk ?? (this.parser?.getCurrentBuffer() as Buffer);
      readStop(this.socket);
      this.headStart = 0;
      const cur = this.current;
      const r = this.reading;
      if (cur !== null && r !== null && r === cur.req) {
        // the body of the request being answered is malformed: that request ends here, and the
        // client gets the error (nothing of the response has gone out yet, else only the close)
        this.reading = null;
        r.destroy();
        // already answered (a refusal of its head): the error is told once that answer is out
        if (cur.writableEnded) return void (this.pendingError = err);
        this.current = null;
        cur.clientGone();
        if (cur.headersSent) return void this.socket.destroy();
        return this.tellError(err);
      }
      if (cur !== null) this.pendingError = err;
      else this.tellError(err);
      return;
    }
    // a read that completed no head and no message, with no body being read, began a head (the
    // first bytes after an idle spell, or a slow client's next ones): with nothing in progress the
    // parser does not tell a head's start (see attach), so the header deadline runs from here
    if (!progressed && this.reading === null && this.headStart === 0 && (ret as number) > 0) {
      this.headStart = performance.now();
      this.idleSince = 0;
    }
    const up = this.upgradeReq;
    if (up !== null) {
      this.upgradeReq = null;
      const d = chunk ?? (this.parser!.getCurrentBuffer() as Buffer);
      const head = d.subarray(ret as number);
      this.detach();
      this.on.upgrade(up, this.socket, head);
      return;
    }
    // with thousands of connections open, one with nothing half read gives its parser back at once
    if (this.server.size >= this.server.opts.eagerParkAt) this.park();
  }

  private tellError(err: HeadError): void {
    this.pendingError = null;
    this.on.clientError(err, this.socket);
  }

  /** The header deadline passed: 408 (node:http's ERR_HTTP_REQUEST_TIMEOUT, as its clientError). */
  headTimeout(): void {
    this.headStart = 0;
    const err: HeadError = Object.assign(new Error("Request timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" });
    readStop(this.socket);
    if (this.current !== null) this.pendingError = err;
    else this.tellError(err);
  }

  /** The socket is no longer this server's (a tunnel): its deadlines and parser go. */
  private detach(): void {
    this.closed = true;
    this.server.forget(this);
    this.releaseParser();
    // the tunnel reads the socket from here on: its bytes wait in the socket until it does
    this.socket.removeListener("data", onSocketData);
    this.socket.pause();
  }

  onClose(): void {
    this.on.closed(this.socket);
    if (this.closed) return;
    this.closed = true;
    this.server.forget(this);
    this.releaseParser();
    // the client left: whatever was in progress hears it ('close' before the end of the response)
    const r = this.reading;
    if (r !== null && !r.complete) r.destroy();
    this.current?.clientGone();
    for (const res of this.queue.splice(0)) res.clientGone();
  }

}

type ParserOf = HTTPParser & { [CONN]?: Conn };
type SocketOf = Socket & { [CONN]?: Conn };
const CONN = Symbol("edgelb.h1.conn");

function onMessageBegin(this: ParserOf): void {
  this[CONN]!.messageBegin();
}
function onHeaders(this: ParserOf, h: string[], url: string): void {
  this[CONN]!.headerPart(h, url);
}
function onHeadersComplete(this: ParserOf, maj: number, min: number, headers: string[] | undefined, method: number, url: string, _s: unknown, _m: unknown, upgrade: boolean, keepAlive: boolean): number {
  return this[CONN]!.onHead(maj, min, headers, method, url, upgrade, keepAlive);
}
function onBody(this: ParserOf, b: Buffer): void {
  this[CONN]!.body(b);
}
function onMessageComplete(this: ParserOf): void {
  this[CONN]!.messageComplete();
}
function onExecute(this: ParserOf, ret: unknown): void {
  this[CONN]!.onExecute(ret);
}
function onSocketError(this: Socket): void {
  this.destroy();
}
function onSocketClose(this: SocketOf): void {
  this[CONN]!.onClose();
}
function onSocketData(this: SocketOf, chunk: Buffer): void {
  this[CONN]!.data(chunk);
}
function onSocketEnd(this: SocketOf): void {
  this[CONN]!.ended();
}

/** A client request (the IncomingMessage subset edgelb reads); its body is the stream. */
export class H1Req extends Readable {
  readonly socket: Socket;
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  complete = false;
  upgrade = false;
  private h: Record<string, string | string[]> | null = null;
  /** `_read` asked for bytes and none came since. */
  private asked = false;

  constructor(socket: Socket, method: string, url: string, maj: number, min: number, raw: string[]) {
    super();
    this.socket = socket;
    this.method = method;
    this.url = url;
    this.httpVersionMajor = maj;
    this.httpVersionMinor = min;
    this.httpVersion = maj === 1 && min === 1 ? "1.1" : `${maj}.${min}`;
    this.rawHeaders = raw;
  }

  /** Lower-cased names, as IncomingMessage#headers (duplicates joined, or the first kept). */
  get headers(): Record<string, string | undefined> & { "set-cookie"?: string[] } {
    if (this.h === null) {
      const h: Record<string, string | string[]> = {};
      const raw = this.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i].toLowerCase();
        const v = raw[i + 1];
        const had = h[k];
        if (had === undefined) h[k] = k === "set-cookie" ? [v] : v;
        else if (k === "set-cookie") (had as string[]).push(v);
        else if (!SINGLE.has(k)) h[k] = `${had}${k === "cookie" ? "; " : ", "}${v}`;
      }
      this.h = h;
    }
    return this.h as Record<string, string | undefined> & { "set-cookie"?: string[] };
  }

  /** The Expect header, or null (read from the raw headers: most requests have none). */
  expect(): string | null {
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 6 && raw[i].toLowerCase() === "expect") return raw[i + 1];
    return null;
  }

  /** A body chunk from the parser; false: the reader is full (the socket stops being read). */
  feed(b: Buffer): boolean {
    this.asked = false;
    return this.push(b);
  }

  /**
   * The body ended: the stream hears it now if its reader waits for bytes, else when it next asks
   * (`_read`). A body nobody reads (most requests have none) then costs no end-of-stream work.
   */
  finish(): void {
    this.complete = true;
    if (this.asked) {
      this.asked = false;
      this.push(null);
    }
  }

  override _read(): void {
    if (this.complete) return void this.push(null);
    this.asked = true;
    readStart(this.socket);
  }
}

type HeaderValue = string | number | readonly string[];

/**
 * The answer to one request (the ServerResponse subset edgelb writes): the head is put together
 * once and goes out with the first body bytes in one write; framed by Content-Length when given,
 * else chunked (HTTP/1.1) or by the close (HTTP/1.0). Events: 'drain', 'finish', then 'close'
 * (also when the client leaves first).
 */
export class H1Res extends events.EventEmitter {
  readonly req: H1Req;
  readonly socket: Socket;
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  shouldKeepAlive: boolean;
  /** The head while it is put together, then until it goes out with the first body bytes. */
  private head = "";
  /** Seen while the head is put together: Content-Length, Date, Transfer-Encoding, a close asked for. */
  private length = false;
  private date = false;
  private te = false;
  private close = false;
  private chunked = false;
  private noBody = false;
  private extra: [string, string][] | null = null;
  private closed = false;
  private readonly conn: Conn;
  /** Called once with this response after its 'close' listeners: a listener that costs no closure per request. */
  closeHook: ((res: H1Res) => void) | null = null;

  constructor(conn: Conn, req: H1Req, keepAlive: boolean) {
    super();
    this.conn = conn;
    this.req = req;
    this.socket = conn.socket;
    this.shouldKeepAlive = keepAlive;
  }

  /** Before writeHead: a header added to the head (edgelb sets only `connection: close` this way). */
  setHeader(name: string, value: string): this {
    (this.extra ??= []).push([name, value]);
    return this;
  }

  writeHead(status: number, reason?: string | HeaderValue[] | Record<string, HeaderValue>, headers?: HeaderValue[] | Record<string, HeaderValue>): this {
    if (typeof reason !== "string") {
      headers = reason;
      reason = undefined;
    }
    this.startHead(status, reason);
    if (headers !== undefined) {
      if (Array.isArray(headers)) for (let i = 0; i < headers.length; i += 2) this.add(headers[i] as string, headers[i + 1] as HeaderValue);
      else for (const k in headers) this.add(k, (headers as Record<string, HeaderValue>)[k]);
    }
    return this.endHead(status);
  }

  /**
   * writeHead for headers as an HTTP parser (llhttp: node:http's, or undici's) gave them, flat
   * [name, value, ...]: a name is a token and a value holds no CR, LF or NUL already, so they are
   * not checked again (the proxy's path: an origin's response head).
   */
  writeHeadParsed(status: number, reason: string | undefined, flat: readonly string[]): this {
    this.startHead(status, reason);
    for (let i = 0; i < flat.length; i += 2) this.note(flat[i], flat[i + 1]);
    return this.endHead(status);
  }

  private startHead(status: number, reason: string | undefined): void {
    if (this.headersSent) throw Object.assign(new Error("Cannot write headers after they are sent to the client"), { code: "ERR_HTTP_HEADERS_SENT" });
    this.head = `HTTP/1.1 ${status} ${reason ?? reasonOf(status) ?? "unknown"}\r\n`;
    this.length = this.date = this.te = false;
    this.close = !this.shouldKeepAlive;
  }

  private add(name: string, value: HeaderValue): void {
    if (typeof value === "object") {
      for (const v of value) this.add(name, v);
      return;
    }
    const v = typeof value === "number" ? String(value) : value;
    if (INVALID.test(v) || INVALID.test(name)) throw Object.assign(new Error(`Invalid character in header "${name}"`), { code: "ERR_INVALID_CHAR" });
    this.note(name, v);
  }

  /** One header line into the head; the ones that decide the framing are noted (names compared by length first). */
  private note(name: string, v: string): void {
    const n = name.length;
    if (n === 14 && name.toLowerCase() === "content-length") this.length = true;
    else if (n === 10 && name.toLowerCase() === "connection") {
      if (/\bclose\b/i.test(v)) this.close = true;
      return;
    } else if (n === 4 && name.toLowerCase() === "date") this.date = true;
    else if (n === 17 && name.toLowerCase() === "transfer-encoding") this.te = true;
    this.head += `${name}: ${v}\r\n`;
  }

  private endHead(status: number): this {
    if (this.extra !== null) for (const [k, v] of this.extra) this.add(k, v);
    let head = this.head;
    if (!this.date) head += `date: ${httpDate()}\r\n`;
    this.noBody = this.req.method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
    let close = this.close;
    if (!this.noBody && !this.length && !this.te) {
      if (this.req.httpVersionMinor === 1 && this.req.httpVersionMajor === 1) {
        this.chunked = true;
        head += "transfer-encoding: chunked\r\n";
      } else close = true; // HTTP/1.0: the body ends with the connection
    }
    if (close) {
      this.shouldKeepAlive = false;
      head += "connection: close\r\n";
    } else if (this.req.httpVersionMinor === 0) head += "connection: keep-alive\r\n";
    this.head = `${head}\r\n`;
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }

  write(data: Uint8Array | string): boolean {
    if (this.writableEnded || this.closed) return false;
    // a Web stream's Uint8Array (control routes) seen as a Buffer, without a copy
    const chunk = typeof data === "string" || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (!this.headersSent) this.writeHead(this.statusCode);
    const s = this.socket;
    const head = this.head;
    this.head = "";
    const len = this.noBody ? 0 : typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (len === 0) return head === "" || writeLatin1(s, head);
    let ok: boolean;
    if (len <= SMALL && typeof chunk !== "string") {
      // head, framing and bytes as one latin1 string (bytes map 1:1): one write() of one buffer,
      // cheaper than a corked writev for the small responses most requests get
      const body = chunk.toString("latin1", 0, len);
      ok = writeLatin1(s, this.chunked ? `${head}${len.toString(16)}\r\n${body}\r\n` : head + body);
    } else {
      s.cork();
      if (head !== "") s.write(head, "latin1");
      if (this.chunked) {
        s.write(`${len.toString(16)}\r\n`, "latin1");
        s.write(chunk);
        ok = s.write("\r\n", "latin1");
      } else ok = s.write(chunk);
      s.uncork();
    }
    if (!ok) s.once("drain", () => this.emit("drain"));
    return ok;
  }

  /**
   * end() for a caller that is done with the response (the proxy, at the origin's last byte):
   * 'finish', 'close' and the connection's next request follow at once, not a tick later. A tick
   * per request made Node call into JS once more to run it: 2.4 % of the CPU per request at c64
   * (paired, 30 turns: 0.976x, quartiles 0.961-0.993).
   */
  endNow(): void {
    if (this.endWrite(undefined)) this.done();
  }

  end(chunk?: Uint8Array | string): this {
    if (this.endWrite(chunk)) process.nextTick(finish, this);
    return this;
  }

  /** The last bytes out; false when the response had already ended (or its connection closed). */
  private endWrite(chunk: Uint8Array | string | undefined): boolean {
    if (this.writableEnded || this.closed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (chunk !== undefined) this.write(chunk);
    this.writableEnded = true;
    const s = this.socket;
    if (this.head !== "") {
      writeLatin1(s, this.chunked ? `${this.head}0\r\n\r\n` : this.head);
      this.head = "";
    } else if (this.chunked) writeLatin1(s, "0\r\n\r\n");
    return true;
  }

  /** Cuts the connection (a response that cannot be completed). */
  destroy(): this {
    this.socket.destroy();
    return this;
  }

  /** The response is out: 'finish', 'close', and the connection goes on. */
  done(): void {
    if (this.closed) return;
    this.writableFinished = true;
    this.closed = true;
    this.emit("finish");
    this.emit("close");
    this.closeHook?.(this);
    this.conn.finished(this);
  }

  /** The connection closed before the response was out. */
  clientGone(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit("close");
    this.closeHook?.(this);
  }
}

const INVALID = /[\r\n\0]/;

/** Bodies up to this many bytes go out in one write with the head. */
const SMALL = 4096;

function finish(res: H1Res): void {
  res.done();
}
