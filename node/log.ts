import { fs } from "./builtins.ts";
import type { HttpLogLine } from "../core/log/httplog.ts";

/**
 * JSON lines, one object per event, with `level`, `time` (ISO 8601) and `pid`: events (listening,
 * reload, health changes at warn, ...) and one line per request (HAProxy httplog fields, at info).
 * Lines are gathered for at most BATCH_MS (or BATCH_BYTES) and handed to a Sink, which writes them
 * asynchronously, one write at a time (the thread pool's fs.write: a slow disk or a full journald
 * pipe never blocks the event loop). This was pino over sonic-boom; pino, its worker_threads and
 * sonic-boom's node:assert were 15 ms of a 150 ms cold start here, for lines JSON.stringify writes.
 */
export interface Logger {
  info(o: Record<string, unknown>): void;
  warn(o: Record<string, unknown>): void;
  error(o: Record<string, unknown>): void;
  /** One request's line (core/log/httplog.ts), at info. */
  request(o: HttpLogLine): void;
  /** Writes out what is still buffered (before the process exits). */
  flush(): void;
  /** Reopens the log file (logrotate moved it away); SIGHUP does it. Nothing to do on stdout/stderr. */
  reopen(): void;
}

/** Longest a line waits before it is written, ms. */
const BATCH_MS = 20;
/** Lines gathered past this many characters are written at once. */
const BATCH_BYTES = 65_536;
/** A full non-blocking pipe (EAGAIN): the same bytes again after this many ms. */
const EAGAIN_RETRY_MS = 20;
/** What flushSync waits on (1 ms at a time) while a full pipe drains at exit. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Where log lines go: "stderr", "stdout", or a file path (appended to, created with its folder). */
export type LogTarget = string;

/** The log file (or its folder) cannot be opened: `edgelb serve` says so and exits 1. */
export class LogOpenError extends Error {}

/**
 * An append-only sink on a file descriptor with at most one write in flight; partial writes go on
 * from where they stopped, EAGAIN retries the same bytes, and a failed write is reported once on
 * stderr (the lines it held are lost, as the disk refused them). A file is opened (with its folder)
 * at once, so a path that cannot be written is an error at start, not a silent loss.
 */
class Sink {
  private fd: number;
  private queue = "";
  private inflight = false;
  private reopenWanted = false;
  private failing = false;

  readonly file: string | null;

  constructor(file: string | null, fd = 2) {
    this.file = file;
    this.fd = file === null ? fd : Sink.open(file);
  }

  private static open(file: string): number {
    try {
      const slash = file.lastIndexOf("/");
      if (slash > 0) fs.mkdirSync(file.slice(0, slash), { recursive: true });
      return fs.openSync(file, "a");
    } catch (e) {
      throw new LogOpenError(`log.to: cannot open "${file}" for appending: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }

  write(text: string): void {
    this.queue += text;
    if (!this.inflight) this.next();
  }

  private next(): void {
    if (this.reopenWanted) this.reopenNow();
    if (!this.queue) return;
    const buf = Buffer.from(this.queue, "utf8");
    this.queue = "";
    this.send(buf);
  }

  private send(buf: Buffer): void {
    this.inflight = true;
    fs.write(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err && err.code === "EAGAIN") return void setTimeout(() => this.send(buf), EAGAIN_RETRY_MS);
      if (err) this.failed(`writing the log to ${this.where()} failed (${err.code ?? err.message}): ${buf.length} bytes of log lines lost`);
      else if (n < buf.length) return this.send(buf.subarray(n));
      else this.failing = false;
      this.inflight = false;
      this.next();
    });
  }

  private where(): string {
    return this.file ?? `fd ${this.fd}`;
  }

  /** Says `what` went wrong on stderr, once until a write succeeds again (nothing to say it on when the log is stderr). */
  private failed(what: string): void {
    if (this.failing) return;
    this.failing = true;
    if (this.fd !== 2) {
      try {
        fs.writeSync(2, `edgelb: ${what}; later lines are tried again\n`);
      } catch {
        // stderr is gone too: nowhere left to say it
      }
    }
  }

  /**
   * Writes what is queued, synchronously (the process is about to exit). A write in flight is the
   * thread pool's to finish; a full pipe is waited on for at most a second. `last`: lines not handed over yet.
   */
  flushSync(last = ""): void {
    let buf = Buffer.from(this.queue + last, "utf8");
    this.queue = "";
    const until = Date.now() + 1000;
    while (buf.length > 0) {
      try {
        buf = buf.subarray(fs.writeSync(this.fd, buf));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EAGAIN" || Date.now() > until) return this.failed(`writing the log to ${this.where()} failed (${code ?? String(e)}): ${buf.length} bytes of log lines lost`);
        Atomics.wait(PAUSE, 0, 0, 1);
      }
    }
  }

  /** Opens the file again under its name (after logrotate renamed it); lines already handed over go to the old one. */
  reopen(): void {
    if (this.file === null) return;
    this.reopenWanted = true;
    if (!this.inflight) this.next();
  }

  private reopenNow(): void {
    this.reopenWanted = false;
    let fd: number;
    try {
      fd = Sink.open(this.file!);
    } catch (e) {
      // keep writing to the old file rather than nowhere
      this.failed(`${(e as Error).message}; the log stays in the file opened before`);
      return;
    }
    const old = this.fd;
    this.fd = fd;
    fs.close(old, () => {});
  }
}

/**
 * A logger writing to `to` ("stderr" by default, "stdout", a file path), or through `write` (one
 * call per line; for tests and embedding).
 */
export function createLogger(to: LogTarget | ((line: string) => void) = "stderr"): Logger {
  const file = typeof to === "string" && to !== "stderr" && to !== "stdout" ? to : null;
  const sink = typeof to === "function" ? null : new Sink(file, to === "stdout" ? 1 : 2);
  let pending = "";
  let timer: NodeJS.Timeout | null = null;
  const push = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!pending) return;
    const text = pending;
    pending = "";
    sink!.write(text);
  };
  const write =
    typeof to === "function"
      ? to
      : (line: string) => {
          pending += line;
          if (pending.length >= BATCH_BYTES) push();
          else if (!timer) {
            timer = setTimeout(push, BATCH_MS);
            // an idle process may exit: its stop path calls flush()
            timer.unref();
          }
        };
  // the ISO time, made once per millisecond rather than once per line
  let lastMs = -1;
  let lastTime = "";
  const time = () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastTime = `,"time":"${new Date(now).toISOString()}"`;
    }
    return lastTime;
  };
  const pid = `,"pid":${process.pid}`;
  /** `{"level":..,"time":..,"pid":.., ...o}`; an object JSON cannot write (a cycle, a BigInt) still gets a line saying so. */
  const line = (level: string, o: object) => {
    let body: string;
    try {
      body = JSON.stringify(o);
    } catch (e) {
      body = JSON.stringify({ event: String((o as { event?: unknown }).event ?? "log"), unserializable: String(e) });
    }
    write(`{"level":"${level}"${time()}${pid}${body.length > 2 ? `,${body.slice(1)}` : "}"}\n`);
  };
  return {
    info: (o) => line("info", o),
    warn: (o) => line("warn", o),
    error: (o) => line("error", o),
    request: (o) => line("info", o),
    flush: () => {
      if (!sink) return;
      if (timer) clearTimeout(timer);
      timer = null;
      sink.flushSync(pending);
      pending = "";
    },
    reopen: () => {
      if (!sink) return;
      push();
      sink.reopen();
    },
  };
}

/** A logger that keeps lines in memory (tests assert on them): events in `lines`, request lines in `requests`. */
export function memoryLogger(): Logger & { lines: Record<string, unknown>[]; requests: HttpLogLine[] } {
  const lines: Record<string, unknown>[] = [];
  const requests: HttpLogLine[] = [];
  const push = (level: string) => (o: Record<string, unknown>) => void lines.push({ level, ...o });
  return {
    lines,
    requests,
    info: push("info"),
    warn: push("warn"),
    error: push("error"),
    request: (o) => void requests.push(o),
    flush: () => {},
    reopen: () => {},
  };
}
