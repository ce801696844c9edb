// A small TCP fault proxy with toxiproxy's semantics, placed between the balancer and one origin
// (the balancer's config names the proxy's URL as the origin). Everything on 127.0.0.1, in the
// test's own process, so a test switches toxics at run time and reads the log synchronously.
//
// Toxics act on the response direction (origin -> balancer), like toxiproxy's "downstream",
// except `hang`, which swallows the request direction. They are read at every chunk, so a switch
// applies to connections already open (the balancer's keep-alive ones) as well as to new ones.
import net from "node:net";

export interface Toxics {
  /** Each response chunk is held `ms` +/- `jitterMs` (uniform) after it arrived from the origin. */
  latency?: { ms: number; jitterMs?: number };
  /** Response throughput cap, bytes per second. */
  bandwidth?: { bytesPerSec: number };
  /** Accept and hang: request bytes are read and dropped, so the origin never answers. */
  hang?: boolean;
  /** The response is passed on `bytes` (default 1) at a time, one slice every `everyMs`. */
  trickle?: { everyMs: number; bytes?: number };
  /**
   * The next response is cut with a TCP reset (both sides): inside its head after `afterBytes`
   * (default 10) bytes, or inside its body after `afterBytes` (default 100) body bytes.
   */
  reset?: { at: "headers" | "body"; afterBytes?: number };
  /** The origin's close (FIN) reaches the client `ms` later (toxiproxy slow_close). */
  slowClose?: { ms: number };
}

/** A request seen on its way to the origin. */
export interface ProxyReq {
  method: string;
  path: string;
  /** The x-request-id header, or null. */
  id: string | null;
  /** ms since the proxy started. */
  at: number;
  /** The connection it came on (1, 2, ... in accept order). */
  conn: number;
  /** Request bytes dropped by `hang` (never reached the origin). */
  hung: boolean;
  /** A response byte for it came back through the proxy. Forwarded and not answered = in flight on the origin. */
  answered: boolean;
}


export interface FaultProxy {
  readonly port: number;
  /** http://127.0.0.1:port: what the balancer's config names as the origin. */
  readonly url: string;
  /** Requests that came through, in order (only their heads are parsed). */
  readonly log: ProxyReq[];
  readonly counts: { accepted: number; resets: number; upstreamErrors: number };
  /** The toxics now in force. */
  readonly toxics: Readonly<Toxics>;
  /** Replaces the toxics (an empty object clears them). */
  set(t: Toxics): void;
  /** Refuse: stops listening (a connect gets ECONNREFUSED) and resets every open connection. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  readonly isUp: boolean;
  /** Down/up on a schedule, starting with `upMs` up; `stop()` ends it and leaves the proxy up. */
  flap(upMs: number, downMs: number): { stop(): Promise<void>; readonly changes: { at: number; up: boolean }[] };
  /** Open connections from the balancer. */
  connections(): number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const REQ_LINE = /(?:^|\r\n)([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/g;
const REQ_ID = /\r\nx-request-id:[ \t]*([^\r\n]*)/i;

/** Starts a fault proxy in front of `target` (an http://127.0.0.1:port URL). */
export async function startFaultProxy(target: string, port = 0): Promise<FaultProxy> {
  const to = new URL(target);
  const t0 = performance.now();
  const open = new Set<Link>();
  const log: ProxyReq[] = [];
  const counts = { accepted: 0, resets: 0, upstreamErrors: 0 };
  let toxics: Toxics = {};
  let conns = 0;
  let isUp = false;

  /** One client connection and its origin connection; the response flows through `pump`. */
  class Link {
    readonly n = ++conns;
    readonly queue: { buf: Buffer; at: number }[] = [];
    pumping = false;
    upstreamEnded = false;
    dead = false;
    /** Bytes of the current response passed on so far, and where its head ends (-1: not yet seen). */
    respBytes = 0;
    headEnd = -1;
    /** A request went up since the last response byte: the next response byte starts a response. */
    awaiting = false;
    /** The last request forwarded on this connection. */
    current: ProxyReq | null = null;
    readonly client: net.Socket;
    readonly origin: net.Socket;

    constructor(client: net.Socket) {
      this.client = client;
      this.origin = net.connect(Number(to.port), to.hostname);
      client.on("data", (d: Buffer) => this.up(d));
      client.on("end", () => this.origin.end());
      client.on("error", () => this.kill());
      client.on("close", () => this.kill());
      this.origin.on("data", (d: Buffer) => {
        this.queue.push({ buf: d, at: performance.now() });
        if (this.queue.length > 64) this.origin.pause();
        void this.pump();
      });
      this.origin.on("end", () => {
        this.upstreamEnded = true;
        void this.pump();
      });
      this.origin.on("error", () => {
        counts.upstreamErrors++;
        this.reset();
      });
    }

    /** Request direction: logged, then forwarded (or dropped while hanging). */
    up(d: Buffer): void {
      const text = d.toString("latin1");
      const hung = toxics.hang === true;
      for (const m of text.matchAll(REQ_LINE)) {
        const id = REQ_ID.exec(text.slice(m.index))?.[1]?.trim() ?? null;
        const req: ProxyReq = { method: m[1], path: m[2], id, at: performance.now() - t0, conn: this.n, hung, answered: false };
        log.push(req);
        if (!hung) this.current = req;
      }
      if (hung) return;
      this.awaiting = true;
      this.origin.write(d);
    }

    /** Response direction, one chunk at a time, in order, with the toxics in force at that moment. */
    async pump(): Promise<void> {
      if (this.pumping) return;
      this.pumping = true;
      while (this.queue.length && !this.dead) {
        const { buf, at } = this.queue.shift()!;
        if (this.awaiting) {
          this.awaiting = false;
          this.respBytes = 0;
          this.headEnd = -1;
          if (this.current) this.current.answered = true;
        }
        const lat = toxics.latency;
        if (lat) {
          const jitter = lat.jitterMs ? (Math.random() * 2 - 1) * lat.jitterMs : 0;
          const wait = at + Math.max(0, lat.ms + jitter) - performance.now();
          if (wait > 0) await sleep(wait);
        }
        await this.pass(buf);
        if (this.queue.length < 16 && this.origin.isPaused()) this.origin.resume();
      }
      this.pumping = false;
      if (this.upstreamEnded && !this.dead && this.queue.length === 0 && this.client.writable) {
        const slow = toxics.slowClose;
        if (slow) await sleep(slow.ms);
        this.client.end();
      }
    }

    /** Passes one chunk: cut by `reset`, sliced by `trickle` or `bandwidth`, or whole. */
    async pass(buf: Buffer): Promise<void> {
      if (this.headEnd === -1) {
        const end = buf.indexOf("\r\n\r\n");
        if (end !== -1) this.headEnd = this.respBytes + end + 4;
      }
      const reset = toxics.reset;
      if (reset) {
        const cutAt = reset.at === "headers" ? (reset.afterBytes ?? 10) : this.headEnd === -1 ? Infinity : this.headEnd + (reset.afterBytes ?? 100);
        if (cutAt < this.respBytes + buf.length) {
          const keep = Math.max(0, cutAt - this.respBytes);
          if (keep) await this.write(buf.subarray(0, keep));
          // let the kept bytes leave before the reset, as a reset mid-stream on the wire would
          await sleep(5);
          return this.reset();
        }
      }
      let at = 0;
      while (at < buf.length && !this.dead) {
        const trickle = toxics.trickle, bw = toxics.bandwidth;
        let n = buf.length - at, wait = 0;
        if (trickle) (n = Math.min(n, trickle.bytes ?? 1)), (wait = trickle.everyMs);
        else if (bw) (n = Math.min(n, Math.max(1, Math.floor(bw.bytesPerSec / 50)))), (wait = (n * 1000) / bw.bytesPerSec);
        await this.write(buf.subarray(at, at + n));
        at += n;
        // the cadence holds across chunks: a wait follows every slice, the last one too
        if (wait) await sleep(wait);
      }
    }

    write(b: Buffer): Promise<void> {
      this.respBytes += b.length;
      if (this.dead) return Promise.resolve();
      return new Promise((r) => (this.client.write(b) ? r() : this.client.once("drain", r).once("close", r)));
    }

    /** Both sides get a TCP reset. */
    reset(): void {
      if (this.dead) return;
      counts.resets++;
      this.dead = true;
      open.delete(this);
      this.client.resetAndDestroy();
      this.origin.resetAndDestroy();
    }

    kill(): void {
      if (this.dead) return;
      this.dead = true;
      open.delete(this);
      this.client.destroy();
      this.origin.destroy();
    }
  }

  const server = net.createServer((client) => {
    counts.accepted++;
    client.setNoDelay(true);
    const link = new Link(client);
    link.origin.setNoDelay(true);
    open.add(link);
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", reject);
        isUp = true;
        resolve();
      });
    });
  await listen(port);
  const bound = (server.address() as net.AddressInfo).port;

  const p: FaultProxy = {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    log,
    counts,
    get toxics() {
      return toxics;
    },
    get isUp() {
      return isUp;
    },
    set(t) {
      toxics = { ...t };
    },
    async down() {
      if (!isUp) return;
      isUp = false;
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const l of [...open]) l.reset();
      await closed;
    },
    async up() {
      if (isUp) return;
      await listen(bound);
    },
    flap(upMs, downMs) {
      const changes: { at: number; up: boolean }[] = [];
      let stopped = false;
      let timer: NodeJS.Timeout;
      let busy: Promise<void> = Promise.resolve();
      const step = (goUp: boolean) => {
        if (stopped) return;
        busy = (goUp ? p.up() : p.down()).then(() => void changes.push({ at: performance.now() - t0, up: goUp }));
        timer = setTimeout(() => step(!goUp), goUp ? upMs : downMs);
      };
      timer = setTimeout(() => step(false), upMs);
      return {
        changes,
        async stop() {
          stopped = true;
          clearTimeout(timer);
          await busy;
          await p.up();
        },
      };
    },
    connections: () => open.size,
    async close() {
      toxics = {};
      await p.down();
    },
  };
  return p;
}
