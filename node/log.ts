import pino from "pino";
import type { HttpLogLine } from "../core/log/httplog.ts";

/**
 * JSON lines, one object per event, with `level`, `time` (ISO 8601) and `pid`: events (listening,
 * reload, health changes at warn, ...) and one line per request (HAProxy httplog fields, at info).
 * A thin wrapper over pino writing through its asynchronous destination (sonic-boom). Lines are
 * gathered for at most BATCH_MS (or BATCH_BYTES) and written together: the destination is idle
 * between fast writes, so it would write each line alone, a thread-pool round trip per request.
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

/** Where log lines go: "stderr", "stdout", or a file path (appended to, created with its folder). */
export type LogTarget = string;

/**
 * A logger writing to `to` ("stderr" by default, "stdout", a file path), or through `write` (one
 * call per line; for tests and embedding).
 */
export function createLogger(to: LogTarget | ((line: string) => void) = "stderr"): Logger {
  const file = typeof to === "string" && to !== "stderr" && to !== "stdout" ? to : null;
  const boom = typeof to === "function" ? null : pino.destination({ dest: file ?? (to === "stdout" ? 1 : 2), sync: false, mkdir: file !== null, append: true });
  let pending = "";
  let timer: NodeJS.Timeout | null = null;
  const push = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!pending) return;
    const text = pending;
    pending = "";
    boom!.write(text);
  };
  const dest =
    typeof to === "function"
      ? { write: to }
      : {
          write(line: string) {
            pending += line;
            if (pending.length >= BATCH_BYTES) push();
            else if (!timer) {
              timer = setTimeout(push, BATCH_MS);
              // an idle process may exit: its stop path calls flush()
              timer.unref();
            }
          },
        };
  // pino's isoTime, made once per millisecond rather than once per line
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
  const p = pino({ base: { pid: process.pid }, timestamp: time, formatters: { level: (label) => ({ level: label }) } }, dest);
  // request lines skip pino's generic serializer (a fixed shape of numbers and short strings):
  // the same line pino would write, from one JSON.stringify
  const requestPrefix = `{"level":"info"`;
  const pidField = `,"pid":${process.pid},`;
  return {
    info: (o) => p.info(o),
    warn: (o) => p.warn(o),
    error: (o) => p.error(o),
    request: (o) => dest.write(`${requestPrefix}${time()}${pidField}${JSON.stringify(o).slice(1)}\n`),
    flush: () => {
      if (!boom) return;
      push();
      try {
        boom.flushSync();
      } catch {
        // not open yet, or already closed: nothing buffered that could still be written
      }
    },
    reopen: () => {
      if (!file || !boom) return;
      push();
      boom.reopen();
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
