import type { Socket } from "node:net";
import { util } from "./builtins.ts";

/**
 * A latin1 string written on a plain TCP socket straight through its libuv handle: the call
 * net.Socket's own write ends in (StreamBase writeLatin1String: the kernel takes the bytes at once,
 * or libuv queues the rest), without the Writable machinery above it (its state, a write request
 * object per write, a tick per write for the callback): about 6 % of the proxy's CPU per request
 * at c64 with 100 B bodies, in paired runs (bench/HISTORY.md). Both sides of the hot path write
 * this way: response heads with small bodies (node/h1server.ts) and request heads (node/h1.ts).
 *
 * Only when the socket's Writable holds nothing and writes nothing (else these bytes would
 * overtake its own); libuv keeps the order with any earlier write still queued in it, and the
 * socket's end() shuts down only after them. TLS sockets and anything unusual take socket.write.
 * The request object is reused while the kernel takes every write whole; a write libuv has to
 * queue keeps its own, and its completion emits 'drain' on the socket (or destroys it on error).
 */
type WriteReq = { handle: unknown; oncomplete: (this: WriteReq, status: number) => void; socket: Socket | null };
type Handle = { writeLatin1String(req: WriteReq, data: string): number };
type StreamWrap = { WriteWrap: new () => WriteReq; streamBaseState: Int32Array; kLastWriteWasAsync: number };

// node's own stream_wrap binding (as node:_http_common's parser, an internal of Node's): absent, every write is socket.write
const wrap = ((): StreamWrap | null => {
  try {
    const b = (process as unknown as { binding(name: string): StreamWrap }).binding("stream_wrap");
    return typeof b?.WriteWrap === "function" && b.streamBaseState instanceof Int32Array ? b : null;
  } catch {
    return null;
  }
})();

let spare: WriteReq | null = wrap ? newReq() : null;

function newReq(): WriteReq {
  const r = new wrap!.WriteWrap();
  r.oncomplete = onComplete;
  r.socket = null;
  return r;
}

/** Writes still queued in libuv per socket. */
const QUEUED = Symbol("edgelb.queued");
type Tracked = Socket & { [QUEUED]?: number; encrypted?: boolean; _handle?: Handle | null; _writableState?: { length: number; writing: boolean; corked: number; ending: boolean } };

/** Like socket.write(data, "latin1"): false when the bytes wait in a queue ('drain' on the socket follows). */
export function writeLatin1(socket: Socket, data: string): boolean {
  const s = socket as Tracked;
  const h = s._handle;
  const st = s._writableState;
  const req = spare;
  if (req === null || h == null || st === undefined || s.encrypted === true || st.length !== 0 || st.writing || st.corked !== 0 || st.ending || s.destroyed || s.connecting) {
    return s.write(data, "latin1");
  }
  req.handle = h;
  const err = h.writeLatin1String(req, data);
  if (err !== 0) {
    req.handle = null;
    s.destroy(writeError(err));
    return false;
  }
  if (wrap!.streamBaseState[wrap!.kLastWriteWasAsync] === 0) {
    req.handle = null;
    return true;
  }
  // libuv holds the rest of the bytes, and `req` until they are out
  req.socket = s;
  s[QUEUED] = (s[QUEUED] ?? 0) + 1;
  spare = newReq();
  return false;
}

function onComplete(this: WriteReq, status: number): void {
  const s = this.socket as Tracked | null;
  this.socket = null;
  this.handle = null;
  if (s === null) return;
  s[QUEUED]!--;
  if (s.destroyed) return;
  if (status < 0) s.destroy(writeError(status));
  else if (s[QUEUED] === 0) s.emit("drain");
}

/** A failed write as Node reports one (`write EPIPE`, code, errno, syscall). */
function writeError(errno: number): Error {
  const code = util.getSystemErrorName(errno);
  return Object.assign(new Error(`write ${code}`), { errno, code, syscall: "write" });
}
