import type { Socket } from "node:net";
import { HTTPParser } from "node:_http_common";

/**
 * llhttp parsers for node/h1.ts and node/h1server.ts, reused as node:http reuses its own (a free
 * list of 1000). A parser's C++ side is deleted only by `close()`, not by the garbage collector:
 * one left behind per closed connection grew a process that served `Connection: close` clients
 * to 490 MiB in 8 s.
 */
const spare: HTTPParser[] = [];
const CALLBACKS = [HTTPParser.kOnMessageBegin, HTTPParser.kOnHeaders, HTTPParser.kOnHeadersComplete, HTTPParser.kOnBody, HTTPParser.kOnMessageComplete, HTTPParser.kOnExecute];

/** Parsers out now (one per open connection, either side): the stats of a leak, for tests. */
export const parsers = { inUse: 0 };

export function allocParser(): HTTPParser {
  parsers.inUse++;
  return spare.pop() ?? new HTTPParser();
}

/** The connection is over (its socket closed, or handed to a tunnel): the parser goes back, its callbacks dropped. */
export function releaseParser(p: HTTPParser, consumed: boolean): void {
  parsers.inUse--;
  if (consumed) p.unconsume();
  p.remove();
  for (const k of CALLBACKS) p[k] = noop;
  if (spare.length < 1000) {
    spare.push(p);
    // what node:http does for a parser it keeps: the async hooks' destroy
    p.free();
  } else setImmediate(() => p.close());
}

function noop(): void {}

/** A socket's libuv stream handle (absent once the socket closed). */
type StreamHandle = { isStreamBase?: boolean; readStop(): void; readStart(): void };
const handleOf = (s: Socket) => (s as unknown as { _handle?: StreamHandle | null })._handle;

/** Feeds `p` straight from the socket's handle in C++ (no JS 'data' hop); false when the socket has no handle left. */
export function consumeSocket(p: HTTPParser, s: Socket): boolean {
  const h = handleOf(s);
  if (!h?.isStreamBase) return false;
  p.consume(h);
  return true;
}

/**
 * Pausing and resuming a consumed socket: its parser reads in C++, so socket.pause() would not
 * stop it; the handle's own readStop/readStart do (as node:http's server does for backpressure).
 */
export function readStop(s: Socket): void {
  handleOf(s)?.readStop();
}

export function readStart(s: Socket): void {
  handleOf(s)?.readStart();
}
