import type { IncomingMessage, ServerResponse } from "node:http";
import { H1Res, H1Server } from "./h1server.ts";
import type { Http2Server } from "node:http2";
import type { AddressInfo, Server, Socket } from "node:net";
import { net } from "./builtins.ts";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Config, ListenerConfig } from "../core/config/schema.ts";
import { poolStats, type BalancerStats, type ReloadStats } from "../core/stats/model.ts";
import { createRouter } from "../core/proxy/route.ts";
import { controlTarget, headOverflowStatus, validateRequest } from "../core/proxy/validate.ts";
import { controlApp } from "../app/control.ts";
import { AgentLedger } from "../core/agent/ingest.ts";
import type { HealthChange } from "../core/health/store.ts";
import { TERMINATION, type HttpLogLine } from "../core/log/httplog.ts";
import { Checker } from "./checks.ts";
import { nodeHandler, type NodeBindings } from "./control-adapter.ts";
import { createLogger, type Logger } from "./log.ts";
import { Notifier } from "./notify.ts";
import { PoolRuntime } from "./pool.ts";
import { closingSockets, EXCHANGE, forward, reply, type WithExchange } from "./proxy.ts";
import { RequestTrace } from "./trace.ts";
import { createTlsServer, type LoadedCert } from "./tls.ts";
import { addAcceptors, listenOn } from "./listen.ts";
import { createH2Server } from "./h2.ts";
import { closeTunnels, tunnel, wantsWebSocket } from "./upgrade.ts";
import { httpsRedirect } from "../core/proxy/sni.ts";

/** Statuses for what Node's parser refuses before a request exists (RFC 9112 errors). */
const PARSE_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large"],
  HPE_URI_TOO_LONG: [414, "URI Too Long"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout"],
};

/** Per connection (request logs): start of the next request's Tq, bytes written so far, requests seen. */
const TQ_START = Symbol("edgelb.tqStart");
const BYTES_LOGGED = Symbol("edgelb.bytesLogged");
const REQUESTS = Symbol("edgelb.requests");
/** The client address of a connection whose close may need a log line of its own (dontlognull off). */
const CLIENT = Symbol("edgelb.client");
/** Set on the connections of a listener with `redirectHttps`: the https port they are sent to. */
const REDIRECT = Symbol("edgelb.redirect");
type Tracked = Socket & { [TQ_START]?: number; [BYTES_LOGGED]?: number; [REQUESTS]?: number; [REDIRECT]?: number; [CLIENT]?: string };

/** One bound listener: its socket server, and for TLS the way to put new certificates in place. */
interface Listener {
  server: Server;
  swap?: (certs: LoadedCert[]) => void;
  /** The other listening sockets of the same address (`acceptors`): each hands its connections to `server`. */
  acceptors: Server[];
}

/** The self-hosted balancer: one HTTP/1.1 engine (node/h1server.ts), keep-alive connections to each origin (node/h1.ts; undici for https), checks on timers. */
export class Balancer {
  config: Config;
  readonly log: Logger;
  /**
   * The HTTP/1.1 engine. It does not listen itself: each listener (plain TCP or TLS) hands it its
   * connections, HTTP/2 ones going to `h2` instead; all requests end in `handle`.
   */
  readonly server: H1Server;
  private h2: Http2Server | null = null;
  private listeners: Listener[] = [];
  /** The extra listening sockets (`acceptors`) being bound after listen(): see acceptorsBound(). */
  private binding: Promise<void>[] = [];
  /** Per listener, the certificates served now (null for plain ones). */
  private certs: (LoadedCert[] | null)[];
  readonly startedAt = Date.now();
  /** Config reloads since start (SIGHUP), on the stats: a refused file says why. */
  private readonly reloads: ReloadStats = { applied: 0, refused: 0, last: null };
  private pools = new Map<string, PoolRuntime>();
  private checkers = new Map<string, Checker>();
  private router: (host: string | undefined) => string = () => "";
  private control: (req: IncomingMessage, res: ServerResponse) => void;
  private inflight = 0;
  /** Agent report ids seen and last seq per origin (replay protection), kept across reloads. */
  private readonly agentLedger = new AgentLedger();
  private closing: Promise<void> | null = null;
  /** Client connections open now (a stop waits for them to go idle, then closes them). */
  private connections = 0;
  /** Webhooks on origin state changes (config `notify`). */
  readonly notifier: Notifier;

  /** `log`: default, a logger writing JSON lines where `config.log.to` says. */
  /** `certs`: per listener, the certificates of a TLS one (node/tls.ts loadAllCertificates), checked by the caller. */
  constructor(config: Config, log: Logger = createLogger(config.log.to), certs: (LoadedCert[] | null)[] = []) {
    this.config = config;
    this.certs = certs;
    this.log = log;
    this.notifier = new Notifier(config.notify, (name) => process.env[name], log);
    this.server = new H1Server(
      {
        headersTimeout: config.client.headerTimeout,
        requestTimeout: Math.max(300_000, config.client.headerTimeout),
        keepAliveTimeout: config.client.keepAlive,
        maxHeaderSize: config.client.maxHeaderBytes,
        // check header deadlines 4 times a second (slowloris): each sweep closes fewer expired
        // connections at once, so the requests being served wait less behind it
        checkInterval: 250,
        eagerParkAt: 2048,
        halfOpen: config.client.halfClose === "answer",
      },
      {
        request: (req, res) => this.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse),
        // only WebSocket upgrades become tunnels; any other Upgrade (h2c...) is a plain request
        wantsUpgrade: (req) => wantsWebSocket(req as unknown as IncomingMessage),
        upgrade: (req, socket, head) => this.upgrade(req as unknown as IncomingMessage, socket, head),
        clientError: (err, socket) => this.clientError(err, socket),
        connection: (socket) => this.onConnection(socket),
        closed: (socket) => this.onClosed(socket),
        // client.halfClose "answer": node/proxy.ts drops the request if it still waits for a slot
        inputEnded: (res) => (res as unknown as WithExchange)[EXCHANGE]?.clientEnded(),
      },
    );
    this.control = this.buildControl();
    this.applyPools(config, true);
  }

  private onConnection(socket: Tracked): void {
    this.connections++;
    socket[TQ_START] = performance.now();
    // HAProxy's dontlognull off: a connection that sent nothing at all still gets its line (its
    // address taken now: a closed socket no longer has one)
    if (!this.config.log.dontlognull && this.config.log.requests) socket[CLIENT] = clientOf(socket);
  }

  private onClosed(socket: Tracked): void {
    this.connections--;
    const client = socket[CLIENT];
    if (client !== undefined && socket[REQUESTS] === undefined) this.logBare(socket, client, -1, `${TERMINATION.clientAbort}R`);
  }

  /** A head the parser refused (or a header deadline): answered on the socket, then the close. */
  private clientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number }, socket: Tracked): void {
    if (err.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
    // bytes pipelined behind a request we refused: our answer is on its way, then the close
    if (closingSockets.has(socket)) return;
    let [status, text] = PARSE_ERRORS[err.code ?? ""] ?? [400, "Bad Request"];
    // llhttp has one limit for the whole head: a request line that alone passes it is a 414
    if (err.code === "HPE_HEADER_OVERFLOW" && err.rawPacket && headOverflowStatus(err.rawPacket, err.bytesParsed ?? err.rawPacket.length) === 414) {
      [status, text] = PARSE_ERRORS.HPE_URI_TOO_LONG;
    }
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    // no request object exists for these: the line says what HAProxy's <BADREQ> line says
    if (this.config.log.requests) {
      socket[REQUESTS] = (socket[REQUESTS] ?? 0) + 1;
      this.logBare(socket, clientOf(socket), status, status === 408 ? TERMINATION.clientTimeout : TERMINATION.refused);
    }
  }

  /** Starts every listener of config.listen; resolves with the first one's bound address (all: `addresses`). */
  async listen(): Promise<AddressInfo> {
    const cfg = this.config.listen;
    for (let i = 0; i < cfg.length; i++) {
      const l = cfg[i];
      const certs = this.certs[i];
      if (l.tls && !certs) throw new Error(`listen[${i}]: certificates not loaded`);
      let entry: Listener;
      if (l.tls && certs) {
        const h2 = l.tls.http2 ? (this.h2 ??= createH2Server(this.config, (req, res) => this.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse))) : null;
        const t = createTlsServer(certs, l.tls.http2, (socket: TLSSocket) => {
          socket.on("error", () => {});
          if (socket.alpnProtocol === "h2" && h2) h2.emit("connection", socket);
          else this.server.accept(socket);
        });
        entry = { server: t.server, swap: t.swap, acceptors: [] };
      } else {
        const redirect = l.redirectHttps;
        entry = {
          server: net.createServer({ noDelay: true }, (socket: Tracked) => {
            if (redirect) socket[REDIRECT] = redirect;
            this.server.accept(socket);
          }),
          acceptors: [],
        };
      }
      // a TLS listener's handshakes count against the same limit as plain connections
      if (this.config.client.maxConnections > 0) entry.server.maxConnections = this.config.client.maxConnections;
      const shared = l.reusePort || l.acceptors > 1;
      if (l.acceptors > 1) {
        if (process.platform !== "linux") throw Object.assign(new Error(`listen[${i}].acceptors > 1 needs Linux (SO_REUSEPORT)`), { listener: l });
        // without reusePort the port must be free, as a plain bind would have found (a second instance fails)
        if (!l.reusePort && l.port !== 0) {
          const probe = await bind(net.createServer(), l, false);
          await new Promise((r) => probe.close(r));
        }
      }
      // reusePort (SO_REUSEPORT, Node >= 22.12 on Linux): a new process binds the port while this one drains
      await bind(entry.server, l, shared);
      const main = entry.server;
      main.on("error", (e) => this.log.error({ event: "listener-error", error: String(e) }));
      this.listeners.push(entry);
      if (l.acceptors > 1) {
        // the other sockets are bound after listen() resolves, a few per event-loop turn (acceptorsBound)
        // (client.maxConnections is refused with acceptors > 1: it would count per socket)
        const { port } = main.address() as AddressInfo;
        const more = addAcceptors(main, { host: l.host, port, backlog: BACKLOG, reusePort: true }, l.acceptors - 1, entry.acceptors, () => this.closing !== null);
        this.binding.push(
          more.catch((e: Error) => this.log.error({ event: "listener-error", error: String(e), address: `${l.host}:${port}`, acceptors: 1 + entry.acceptors.length, of: l.acceptors })),
        );
      }
    }
    // the HTTP/1.1 engine's deadline sweep
    this.server.start();
    for (const c of this.checkers.values()) c.start();
    for (const [i, a] of this.addresses().entries()) {
      const l = cfg[i];
      const scheme = l.tls ? "https" : "http";
      this.log.info({ event: "listening", address: `${scheme}://${a.address}:${a.port}`, pools: [...this.pools.keys()], reusePort: l.reusePort, ...(l.tls ? { http2: l.tls.http2, certificates: this.certs[i]?.map((c) => ({ names: c.names, notAfter: c.notAfter })) } : {}), ...(l.redirectHttps ? { redirectHttps: l.redirectHttps } : {}) });
    }
    return this.addresses()[0];
  }

  /** Resolves when every listener's `acceptors` are bound (or one failed to bind: logged as listener-error). */
  async acceptorsBound(): Promise<void> {
    await Promise.all(this.binding);
  }

  /** The bound address of each listener, in config order. */
  addresses(): AddressInfo[] {
    return this.listeners.map((l) => l.server.address() as AddressInfo);
  }

  /** The pool for a Host header (exact name, then "*.suffix" routes, then the default pool). */
  route(host: string | undefined): PoolRuntime {
    return this.pools.get(this.router(host))!;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // pipelined behind a refused request: never answered, never forwarded; the socket closes
    if (closingSockets.has(req.socket)) return;
    const h1 = req.httpVersionMajor !== 2;
    if (this.closing && h1) res.setHeader("connection", "close");
    let trace: RequestTrace | null = null;
    if (this.config.log.requests) {
      const socket = req.socket as Tracked;
      const now = performance.now();
      trace = new RequestTrace(clientOf(socket), socket[TQ_START] ?? now, now, socket);
      socket[REQUESTS] = (socket[REQUESTS] ?? 0) + 1;
    }
    // before anything else, the control routes included: framing, Host, header count
    const v = validateRequest(req);
    if (!v.ok) {
      if (trace) this.logOnClose(trace, TERMINATION.refused, req, res);
      return reply(res, v.status, `${v.status === 431 ? "Request Header Fields Too Large" : v.status === 414 ? "URI Too Long" : "Bad Request"}: ${v.reason}`, true);
    }
    const redirect = (req.socket as Tracked)[REDIRECT];
    if (redirect && h1) {
      if (trace) this.logOnClose(trace, TERMINATION.local, req, res);
      const to = httpsRedirect(req.headers.host, req.url ?? "/", redirect);
      return to ? reply(res, 308, `Permanent Redirect: ${to}`, false, { location: to }) : reply(res, 400, "Bad Request: no Host to redirect to", true);
    }
    const where = controlTarget(req.url ?? "", this.config.prefix);
    if (where !== "proxy") {
      if (trace) this.logOnClose(trace, TERMINATION.local, req, res);
      return where === "control" ? this.control(req, res) : reply(res, 404, "Not Found");
    }
    this.inflight++;
    // one close listener for the count, the exchange and the log line (a listener per request is
    // not free); an HTTP/1 response without a log line takes one shared hook instead (no closure)
    const t = trace;
    const h1res: unknown = res;
    if (t === null && h1res instanceof H1Res) h1res.closeHook = this.responseClosed;
    else {
      res.once("close", () => {
        this.responseClosed(res);
        if (t) this.logRequest(t, req, res);
      });
    }
    try {
      const pool = this.route(v.host);
      if (trace) trace.pool = pool.name;
      forward(this.config, pool, req, res, trace, v.host ?? "", v.framedBody);
    } catch (e) {
      this.log.error({ event: "bug", error: String((e as Error)?.stack ?? e) });
      if (trace) trace.term = TERMINATION.internal;
      reply(res, 500, "Internal Server Error", true);
    }
  }

  /** A proxied request's response closed (sent, or its client left). */
  private readonly responseClosed = (res: object): void => {
    (res as WithExchange)[EXCHANGE]?.clientClosed();
    this.inflight--;
  };

  /** A WebSocket upgrade (the only kind `shouldUpgradeCallback` lets through): validated like any request, then tunnelled. */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {});
    // a request was made on this connection (no "nothing sent" line for it; tunnels have no request line yet)
    const tracked = req.socket as Tracked;
    tracked[REQUESTS] = (tracked[REQUESTS] ?? 0) + 1;
    const refuse = (status: number, text: string) =>
      void socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${text.length + 1}\r\n\r\n${text}\n`);
    const v = validateRequest(req);
    if (!v.ok) return refuse(v.status, `Bad Request: ${v.reason}`);
    // Node < 24 has no shouldUpgradeCallback and sends every Upgrade here
    if (!wantsWebSocket(req)) return refuse(400, "Bad Request: only WebSocket upgrades are tunnelled");
    if (this.closing) return refuse(503, "Service Unavailable: stopping");
    const redirect = (req.socket as Tracked)[REDIRECT];
    if (redirect) {
      const to = httpsRedirect(req.headers.host, req.url ?? "/", redirect);
      return void socket.end(`HTTP/1.1 308 Permanent Redirect\r\nlocation: ${to}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    // the control routes are plain HTTP; a lookalike is refused as on the request path
    if (controlTarget(req.url ?? "", this.config.prefix) !== "proxy") return refuse(404, "Not Found");
    try {
      tunnel(this.config, this.route(req.headers.host), req, socket, head);
    } catch (e) {
      this.log.error({ event: "bug", error: String((e as Error)?.stack ?? e) });
      refuse(500, "Internal Server Error");
    }
  }

  private logOnClose(t: RequestTrace, term: string, req: IncomingMessage, res: ServerResponse): void {
    t.term = term;
    res.once("close", () => this.logRequest(t, req, res));
  }

  /** The request's log line (HAProxy httplog fields), once its response is over or the client left. */
  private logRequest(t: RequestTrace, req: IncomingMessage, res: ServerResponse): void {
    // the socket as it was at the start: by 'close' Node may have detached it from req (req.socket is null)
    const socket = t.socket as Tracked;
    const now = performance.now();
    const written = socket.bytesWritten ?? 0;
    const bytes = written - (socket[BYTES_LOGGED] ?? 0);
    socket[BYTES_LOGGED] = written;
    // the next request on this keep-alive connection counts its Tq from here
    socket[TQ_START] = now;
    const line: HttpLogLine = {
      event: "request",
      client: t.client,
      pool: t.pool,
      origin: t.origin,
      Tq: Math.max(0, Math.round(t.t1 - t.t0)),
      Tw: t.tw < 0 ? -1 : Math.round(t.tw),
      Tc: t.tc < 0 ? -1 : Math.round(t.tc),
      Tr: t.tr < 0 ? -1 : Math.round(t.tr),
      Tt: Math.round(now - t.t0),
      status: res.headersSent ? res.statusCode : -1,
      bytes,
      retries: t.retries,
      redispatched: t.redispatched,
      termination: t.term ?? (res.writableFinished ? TERMINATION.normal : `${TERMINATION.clientAbort}${t.phase}`),
      method: req.method ?? null,
      path: req.url ?? null,
    };
    this.log.request(line);
  }

  /** A line for a connection without a request object: a refused head (Node's parser), or nothing sent at all. */
  private logBare(socket: Tracked, client: string, status: number, termination: string): void {
    const now = performance.now();
    const start = socket[TQ_START] ?? now;
    this.log.request({
      event: "request",
      client,
      pool: null,
      origin: null,
      Tq: -1,
      Tw: -1,
      Tc: -1,
      Tr: -1,
      Tt: Math.round(now - start),
      status,
      bytes: socket.bytesWritten - (socket[BYTES_LOGGED] ?? 0),
      retries: 0,
      redispatched: false,
      termination,
      method: null,
      path: null,
    });
  }

  private buildControl() {
    const app = controlApp({
      config: () => this.config,
      secret: (name) => process.env[name],
      peer: (c) => (c.env as NodeBindings).incoming.socket.remoteAddress ?? "",
      stats: () => this.stats(),
      applyAgent: async (v) => {
        const pool = this.pools.get(v.pool);
        // v.origin is an index into the config the report was checked against; a reload while the
        // signature was being verified may have moved or removed the origin: find it by name again
        const origin = pool ? pool.cfg.origins.findIndex((o) => o.name === v.report.origin) : -1;
        if (!pool || origin === -1) return { status: 409, problem: "pool or origin gone after a reload" };
        const r = this.agentLedger.admit({ ...v, origin }, Date.now());
        if (!r.ok) return { status: r.status, problem: r.problem };
        pool.health.apply(r.event);
        return { status: 200 };
      },
      applyAdmin: async (poolName, origin, change) => {
        const pool = this.pools.get(poolName);
        const i = pool ? pool.cfg.origins.findIndex((o) => o.name === origin) : -1;
        if (!pool || i === -1) return false;
        pool.health.apply({ type: "admin", origin: i, at: Date.now(), ...change });
        return true;
      },
      log: (o) => this.log.warn(o),
    });
    return nodeHandler((req, env) => app.fetch(req, env));
  }

  /** Requests in flight on one origin of one pool right now. */
  inflightOn(pool: string, origin: number): number {
    return this.pools.get(pool)?.inflight[origin] ?? 0;
  }

  /** The stats model of every pool. */
  stats(): BalancerStats {
    const now = Date.now();
    return {
      build: `edgelb (node ${process.version})`,
      startedAt: this.startedAt,
      pools: [...this.pools].map(([name, p]) => poolStats(name, p.cfg, p.health.state, p.counters, now)),
      reload: this.reloads,
    };
  }

  /** A config file that could not be used on reload: the running config keeps serving; said in the log and on the stats. */
  reloadRefused(file: string, problems: string[]): void {
    this.log.error({ event: "reload-refused", file, problems, note: "the running config keeps serving" });
    this.reloads.refused++;
    this.reloads.last = { at: Date.now(), ok: false, file, problems };
  }

  /** Builds pools for `config`; a pool whose config did not change keeps its runtime and counters. */
  private applyPools(config: Config, first: boolean): void {
    const old = this.pools;
    const next = new Map<string, PoolRuntime>();
    for (const [name, cfg] of Object.entries(config.pools)) {
      const prev = old.get(name);
      if (prev && JSON.stringify(prev.cfg) === JSON.stringify(cfg)) {
        next.set(name, prev);
        continue;
      }
      const rt = new PoolRuntime(name, cfg, this.log, prev?.health.state, (c: HealthChange) => this.notifier.push(name, c));
      next.set(name, rt);
    }
    for (const [name, prev] of old) {
      if (next.get(name) === prev) continue;
      // requests in flight finish on the old pool's connections; then they close
      void this.checkers.get(name)?.stop();
      this.checkers.delete(name);
      void prev.close();
    }
    this.pools = next;
    this.router = createRouter(config);
    for (const [name, rt] of next) {
      if (this.checkers.has(name)) continue;
      const c = new Checker(rt);
      this.checkers.set(name, c);
      if (!first) c.start();
    }
  }

  /** Swaps in a new, already validated config (SIGHUP). Listen address changes need a restart. */
  reload(config: Config, file = "", certs?: (LoadedCert[] | null)[]): void {
    this.reloads.applied++;
    this.reloads.last = { at: Date.now(), ok: true, file, problems: [] };
    if (JSON.stringify(listenShape(config)) !== JSON.stringify(listenShape(this.config))) {
      this.log.warn({ event: "reload", note: "listen changes take effect on restart only (certificates are re-read now)" });
    }
    if (config.log.to !== this.config.log.to) this.log.warn({ event: "reload", note: "log.to changes take effect on restart only" });
    // the HTTP/1 and HTTP/2 engines took the client settings at start
    if (JSON.stringify(config.client) !== JSON.stringify(this.config.client)) this.log.warn({ event: "reload", note: "client changes take effect on restart only" });
    this.notifier.configure(config.notify);
    const prefixChanged = config.prefix !== this.config.prefix;
    this.config = { ...config, listen: this.config.listen, client: this.config.client, log: { ...config.log, to: this.config.log.to } };
    // new certificates (the same files rewritten, or other files) for the next handshakes
    if (certs) {
      this.listeners.forEach((l, i) => {
        const c = certs[i];
        if (l.swap && c) l.swap(c);
      });
      this.certs = this.certs.map((old, i) => (this.listeners[i]?.swap && certs[i] ? certs[i] : old));
      this.log.info({ event: "certificates", listeners: this.certs.map((c) => c?.map((x) => ({ names: x.names, notAfter: x.notAfter })) ?? null) });
    }
    this.applyPools(config, false);
    if (prefixChanged) this.control = this.buildControl();
    this.log.info({ event: "reload", pools: [...this.pools.keys()] });
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `graceMs`), then closes everything.
   * `lingerMs`: how long open keep-alive connections stay open after the listener closed. Each
   * request on them meanwhile is served with `connection: close`, so a busy client moves to the
   * next process (started with reusePort) without ever sending a request on a connection we are
   * closing; those still idle after it are closed (a client's request racing that close is the one
   * HTTP/1.1 keep-alive race left, the same as at any keep-alive timeout).
   */
  close(graceMs = 30_000, lingerMs = 0): Promise<void> {
    this.closing ??= (async () => {
      // the listening sockets only: keep-alive connections stay (closing the idle ones now would race their next request)
      for (const l of this.listeners) for (const srv of [l.server, ...l.acceptors]) srv.close();
      // an acceptor still being bound closes itself when its bind completes
      await this.acceptorsBound();
      // HTTP/2 clients are told to open no new streams; those in flight finish
      this.h2?.close();
      const start = Date.now();
      const until = start + graceMs;
      const lingerUntil = start + Math.min(lingerMs, graceMs);
      while (this.connections > 0 && Date.now() < lingerUntil) await sleep(20);
      // now the idle connections go
      this.server.closeIdle();
      while (this.inflight > 0 && Date.now() < until) await sleep(20);
      this.server.closeAll();
      this.server.stop();
      // upgraded connections (WebSocket tunnels) are no longer the HTTP server's: closed here
      closeTunnels();
      await Promise.all([...this.checkers.values()].map((c) => c.stop()));
      await Promise.all([...this.pools.values()].map((p) => p.close()));
      // events of the last moments (an origin that went down during the drain) get a short chance to go out
      await this.notifier.close(Math.max(0, Math.min(2_000, until - Date.now())));
    })();
    return this.closing;
  }
}

/** What of config.listen needs a restart to change (the certificate files do not). */
function listenShape(c: Config) {
  return c.listen.map((l) => ({ host: l.host, port: l.port, reusePort: l.reusePort, acceptors: l.acceptors, tls: !!l.tls, http2: l.tls?.http2, redirect: l.redirectHttps }));
}

/**
 * The listen backlog of every listening socket: Node's default 511 drops SYNs when thousands of
 * clients connect at once (the kernel caps it at net.core.somaxconn; HAProxy uses its maxconn).
 */
const BACKLOG = 8192;

/** Binds `server` to the listener's address; the error names the listener. */
function bind(server: Server, l: ListenerConfig, reusePort: boolean): Promise<Server> {
  return listenOn(server, { host: l.host, port: l.port, backlog: BACKLOG, reusePort }).catch((e: Error) => {
    throw Object.assign(e, { listener: l });
  });
}

/** The peer as HAProxy logs it: addr:port. */
function clientOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
