/**
 * Byte-level tools for the smuggling corpus: an origin stub that records exactly the bytes it
 * received and where its own (strict) parser puts the message boundaries, a raw client that
 * parses what comes back, and an HAProxy started as a child process in front of a stub.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One request as the stub parsed it from its connection. */
export interface StubRequest {
  conn: number;
  method: string;
  target: string;
  version: string;
  /** [name, value] pairs in order, as received (names not lower-cased). */
  headers: [string, string][];
  body: Buffer;
}

/** Where the stub's parser gave up on a connection (what it received was not clean HTTP/1.1). */
export interface StubError {
  conn: number;
  reason: string;
}

type Parsed = { need: true } | { error: string } | { req: Omit<StubRequest, "conn">; used: number };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A strict HTTP/1.1 request parser (CRLF only, one CL or chunked, never both): the careful origin. */
function parseRequest(buf: Buffer): Parsed {
  const end = buf.indexOf("\r\n\r\n");
  if (end === -1) return buf.length > 1 << 20 ? { error: "head over 1 MiB" } : { need: true };
  const head = buf.subarray(0, end).toString("latin1");
  const lines = head.split("\r\n");
  if (lines.some((l) => l.includes("\n") || l.includes("\r") || l.includes("\0"))) return { error: "bare CR/LF or NUL in head" };
  const rl = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0]);
  if (!rl) return { error: `bad request line ${JSON.stringify(lines[0])}` };
  const headers: [string, string][] = [];
  for (const l of lines.slice(1)) {
    const c = l.indexOf(":");
    if (c <= 0 || !TOKEN.test(l.slice(0, c))) return { error: `bad header line ${JSON.stringify(l)}` };
    headers.push([l.slice(0, c), l.slice(c + 1).replace(/^[ \t]+|[ \t]+$/g, "")]);
  }
  const all = (n: string) => headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  const cl = all("content-length"), te = all("transfer-encoding");
  let at = end + 4;
  let body: Buffer;
  if (te.length && cl.length) return { error: "both Transfer-Encoding and Content-Length" };
  if (te.length) {
    if (te.join(",").toLowerCase().replace(/\s/g, "") !== "chunked") return { error: `transfer-encoding ${JSON.stringify(te)}` };
    const parts: Buffer[] = [];
    for (;;) {
      const le = buf.indexOf("\r\n", at);
      if (le === -1) return { need: true };
      const m = /^([0-9A-Fa-f]{1,8})(;[^\r\n]*)?$/.exec(buf.subarray(at, le).toString("latin1"));
      if (!m) return { error: "bad chunk size line" };
      const n = parseInt(m[1], 16);
      at = le + 2;
      if (n === 0) {
        // trailers, then the blank line
        for (;;) {
          const te2 = buf.indexOf("\r\n", at);
          if (te2 === -1) return { need: true };
          const line = te2 === at;
          at = te2 + 2;
          if (line) break;
        }
        break;
      }
      if (buf.length < at + n + 2) return { need: true };
      parts.push(buf.subarray(at, at + n));
      if (buf[at + n] !== 13 || buf[at + n + 1] !== 10) return { error: "chunk data not followed by CRLF" };
      at += n + 2;
    }
    body = Buffer.concat(parts);
  } else if (cl.length) {
    if (cl.length > 1 || !/^\d{1,15}$/.test(cl[0])) return { error: `content-length ${JSON.stringify(cl)}` };
    const n = Number(cl[0]);
    if (buf.length < at + n) return { need: true };
    body = buf.subarray(at, at + n);
    at += n;
  } else body = Buffer.alloc(0);
  return { req: { method: rl[1], target: rl[2], version: rl[3], headers, body: Buffer.from(body) }, used: at };
}

/**
 * A raw node:net origin. It records every byte, parses requests strictly and answers each with
 * `HTTP/1.1 200 OK` and body "ok" (keep-alive), or, when `respondWith` is set, with those raw bytes
 * and a close.
 */
export class StubOrigin {
  readonly requests: StubRequest[] = [];
  readonly errors: StubError[] = [];
  /** Every byte received, over all connections, in arrival order. */
  bytesIn = 0;
  respondWith: string | null = null;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pending = new Map<net.Socket, Buffer>();
  private conns = 0;
  port = 0;

  constructor() {
    this.server = net.createServer((s) => this.accept(s));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Bytes received that do not (yet) form a complete message, over all open connections. */
  partialBytes(): number {
    let n = 0;
    for (const b of this.pending.values()) n += b.length;
    return n;
  }

  /** A position to read what arrived after it (`since`). */
  mark(): { requests: number; errors: number; bytes: number } {
    return { requests: this.requests.length, errors: this.errors.length, bytes: this.bytesIn };
  }

  since(m: ReturnType<StubOrigin["mark"]>): { requests: StubRequest[]; errors: StubError[]; bytes: number } {
    return { requests: this.requests.slice(m.requests), errors: this.errors.slice(m.errors), bytes: this.bytesIn - m.bytes };
  }

  private accept(s: net.Socket): void {
    const conn = ++this.conns;
    this.sockets.add(s);
    this.pending.set(s, Buffer.alloc(0));
    s.on("error", () => {});
    s.on("close", () => {
      this.sockets.delete(s);
      const left = this.pending.get(s);
      this.pending.delete(s);
      if (left && left.length) this.errors.push({ conn, reason: `connection closed with ${left.length} bytes of an incomplete message` });
    });
    s.on("data", (d: Buffer) => {
      this.bytesIn += d.length;
      let buf = Buffer.concat([this.pending.get(s) ?? Buffer.alloc(0), d]);
      for (;;) {
        if (buf.length === 0) break;
        const p = parseRequest(buf);
        if ("need" in p) break;
        if ("error" in p) {
          this.errors.push({ conn, reason: p.error });
          this.pending.set(s, Buffer.alloc(0));
          s.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
          return;
        }
        this.requests.push({ conn, ...p.req });
        buf = buf.subarray(p.used);
        if (this.respondWith !== null) {
          this.pending.set(s, Buffer.alloc(0));
          s.end(Buffer.from(this.respondWith, "latin1"));
          return;
        }
        // the target echoed back: the client can tell which response answers which request
        s.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nx-stub-target: ${p.req.target}\r\n\r\nok`);
      }
      this.pending.set(s, buf);
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** One response as the raw client parsed it. */
export interface ClientResponse {
  status: number;
  headers: [string, string][];
  body: Buffer;
  /** The body reached its declared end (Content-Length met, or the last chunk and its CRLF). */
  complete: boolean;
}

/** What a raw client saw for one exchange. */
export interface Seen {
  responses: ClientResponse[];
  /** The server closed (FIN or reset) before we gave up waiting. */
  closed: boolean;
  reset: boolean;
  raw: Buffer;
  /** Bytes after the last complete response that do not parse as one. */
  junk: number;
}

/** Parses as many responses as `buf` holds; a last incomplete one is returned with complete=false. */
export function parseResponses(buf: Buffer, closed: boolean): { responses: ClientResponse[]; junk: number } {
  const out: ClientResponse[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf("\r\n\r\n", at);
    if (end === -1) return { responses: out, junk: buf.length - at };
    const lines = buf.subarray(at, end).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) return { responses: out, junk: buf.length - at };
    const status = Number(m[1]);
    const headers = lines.slice(1).map((l): [string, string] => {
      const c = l.indexOf(":");
      return [l.slice(0, c), l.slice(c + 1).trim()];
    });
    const h = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let p = end + 4;
    if (status < 200) {
      at = p;
      continue;
    }
    const te = h("transfer-encoding"), cl = h("content-length");
    if (te && /chunked/i.test(te)) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const le = buf.indexOf("\r\n", p);
        if (le === -1) break;
        const n = parseInt(buf.subarray(p, le).toString("latin1"), 16);
        if (Number.isNaN(n)) break;
        if (n === 0) {
          const fin = buf.indexOf("\r\n\r\n", le);
          if (fin === le) {
            p = le + 4;
            complete = true;
          } else if (fin !== -1) {
            p = fin + 4;
            complete = true;
          }
          break;
        }
        if (buf.length < le + 2 + n + 2) {
          parts.push(buf.subarray(le + 2, Math.min(buf.length, le + 2 + n)));
          p = buf.length;
          break;
        }
        parts.push(buf.subarray(le + 2, le + 2 + n));
        p = le + 2 + n + 2;
      }
      out.push({ status, headers, body: Buffer.concat(parts), complete });
      if (!complete) return { responses: out, junk: 0 };
      at = p;
    } else if (cl !== undefined) {
      const n = Number(cl);
      const have = Math.min(n, buf.length - p);
      out.push({ status, headers, body: buf.subarray(p, p + have), complete: have === n });
      at = p + have;
      if (have < n) return { responses: out, junk: 0 };
    } else if (status === 204 || status === 304) {
      out.push({ status, headers, body: Buffer.alloc(0), complete: true });
      at = p;
    } else {
      // close-delimited: complete only once the connection closed
      out.push({ status, headers, body: buf.subarray(p), complete: closed });
      return { responses: out, junk: 0 };
    }
  }
  return { responses: out, junk: 0 };
}

/**
 * Connects to port, writes `bytes` (pieces 20 ms apart), and reads until the server closes, or
 * `settle` ms pass with `want` complete responses and no new byte, or `timeoutMs`.
 */
export function exchange(port: number, bytes: string | string[], want: number, timeoutMs = 1500, settle = 60): Promise<Seen> {
  const pieces = Array.isArray(bytes) ? bytes : [bytes];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false, reset = false, done = false;
    let settleTimer: NodeJS.Timeout | null = null;
    const s = net.connect(port, "127.0.0.1");
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (settleTimer) clearTimeout(settleTimer);
      s.destroy();
      const raw = Buffer.concat(chunks);
      const { responses, junk } = parseResponses(raw, closed);
      resolve({ responses, closed, reset, raw, junk });
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on("connect", async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        if (s.destroyed || !s.writable) return;
        s.write(Buffer.from(pieces[i], "latin1"));
      }
    });
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      const { responses } = parseResponses(Buffer.concat(chunks), false);
      if (settleTimer) clearTimeout(settleTimer);
      if (responses.filter((r) => r.complete).length >= want) settleTimer = setTimeout(finish, settle);
    });
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET" || e.code === "EPIPE") reset = true;
    });
    s.on("close", () => {
      closed = true;
      finish();
    });
  });
}

/** The haproxy binary, or null when none is installed. */
export function findHaproxy(): string | null {
  for (const bin of ["/usr/sbin/haproxy", "haproxy", "/usr/local/sbin/haproxy"]) {
    const r = spawnSync(bin, ["-v"], { encoding: "utf8" });
    if (r.status === 0 && /HA-?Proxy version/i.test(r.stdout)) return bin;
  }
  return null;
}

/** HAProxy's version line ("2.6.12-1+deb12u4"), or "" */
export function haproxyVersion(bin: string): string {
  const r = spawnSync(bin, ["-v"], { encoding: "utf8" });
  return /version (\S+)/i.exec(r.stdout)?.[1] ?? "";
}

export interface RunningHaproxy {
  port: number;
  pid: number;
  stderr(): string;
  stop(): Promise<void>;
}

/** The HAProxy config of the comparison: mode http, one server, option forwardfor, http-reuse. */
export function haproxyConfig(listenPort: number, originPort: number): string {
  return [
    "global",
    "  nbthread 1",
    "  maxconn 1000",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 5s",
    "  timeout server 5s",
    "  timeout http-request 5s",
    "  option http-keep-alive",
    "  option forwardfor",
    "  http-reuse always",
    "frontend fe",
    `  bind 127.0.0.1:${listenPort}`,
    "  default_backend origins",
    "backend origins",
    `  server stub 127.0.0.1:${originPort}`,
    "",
  ].join("\n");
}

/** Starts `haproxy -db -f <cfg>` in front of originPort on a free port; resolves once it accepts. */
export async function startHaproxy(bin: string, listenPort: number, originPort: number): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), "edgelb-smuggling-"));
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(cfg, haproxyConfig(listenPort, originPort));
  const child: ChildProcess = spawn(bin, ["-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(listenPort, "127.0.0.1", () => {
        s.destroy();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() - t0 > 5000) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`haproxy did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port: listenPort,
    pid: child.pid!,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, "SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
