import type { Server } from "node:net";
import { net, util } from "./builtins.ts";

/**
 * Binds a listening socket to host:port and hands it to `server`, without server.listen's name
 * lookup when the host is an IP address. server.listen({host}) always goes through dns.lookup and
 * then net.isIPv6 (the "skip link-local addresses" filter), whose regular expression takes about
 * 7 ms to compile on its first use: a twentieth of a cold start, and 30 µs per further socket
 * (64 acceptors cost a cold start 12 ms that way, 2 ms this way). Here the TCP handle is made and
 * bound as net.js's createServerHandle makes it (Node's tcp_wrap binding, an internal as
 * node:_http_common's parser is), then given to server.listen(handle, backlog). A host name, or a
 * Node without that binding, takes server.listen({host}) as before.
 *
 * Errors are Node's: `listen EADDRINUSE: address already in use 127.0.0.1:8080`, with code, errno,
 * syscall, address and port, emitted as server.listen would (rejected here).
 */
type TCPHandle = { bind(addr: string, port: number, flags: number): number; bind6(addr: string, port: number, flags: number): number; close(): void };
type TcpWrap = { TCP: new (type: number) => TCPHandle; constants: { SERVER: number; UV_TCP_IPV6ONLY?: number; UV_TCP_REUSEPORT?: number } };

const tcp = ((): TcpWrap | null => {
  try {
    const b = (process as unknown as { binding(name: string): TcpWrap }).binding("tcp_wrap");
    return typeof b?.TCP === "function" && typeof b.constants?.SERVER === "number" && typeof b.constants.UV_TCP_REUSEPORT === "number" ? b : null;
  } catch {
    return null;
  }
})();

export type BindOptions = { host: string; port: number; backlog: number; reusePort: boolean };

/** Resolves with `server` listening; rejects with Node's listen error. */
export function listenOn(server: Server, o: BindOptions): Promise<Server> {
  return new Promise((resolve, reject) => {
    // (a node:cluster worker asks its primary for the socket: server.listen does that)
    const handle = tcp !== null && !("NODE_UNIQUE_ID" in process.env) ? boundHandle(tcp, o) : null;
    const done = (e?: Error & { errno?: number; address?: string | null }) => {
      server.off("error", done);
      server.off("listening", done);
      // libuv reports EADDRINUSE at listen(), and Node names no address for a handle it did not bind
      if (e && handle && e.address == null && typeof e.errno === "number") e = listenError(e.errno, o);
      if (e) reject(e);
      else resolve(server);
    };
    server.once("error", done);
    server.once("listening", done);
    if (handle instanceof Error) {
      done(handle);
      return;
    }
    if (handle) server.listen(handle, o.backlog);
    else server.listen({ port: o.port, host: o.host, backlog: o.backlog, ...(o.reusePort ? { reusePort: true } : {}) });
  });
}

/**
 * Binds `count` more listening sockets to the address `main` listens on (SO_REUSEPORT), each handing
 * its connections to `main`, and puts them in `into` (where close() finds them). A few at a time,
 * each few in its own event-loop turn, after `main` already listens: 256 sockets take ~20 ms to bind
 * on a small VM, which a cold start no longer waits for, and connections meanwhile are accepted by
 * those bound so far. Stops when `stopped()` says so (the server is closing): what it bound since
 * is closed. An error of these sockets is emitted on `main`; a bind that fails rejects.
 */
export async function addAcceptors(main: Server, o: BindOptions & { reusePort: true }, count: number, into: Server[], stopped: () => boolean): Promise<void> {
  for (let k = 0; k < count; k++) {
    if (k % ACCEPTORS_PER_TURN === 0) await new Promise((r) => setImmediate(r));
    if (stopped()) return;
    const extra = net.createServer({ noDelay: true }, (socket) => main.emit("connection", socket));
    await listenOn(extra, o);
    if (stopped()) return void extra.close();
    extra.on("error", (e) => main.emit("error", e));
    into.push(extra);
  }
}

const ACCEPTORS_PER_TURN = 8;

/** A bound TCP handle, Node's error for a failed bind, or null when the host is not an IP literal. */
function boundHandle(b: TcpWrap, o: BindOptions): TCPHandle | Error | null {
  const v6 = o.host.includes(":");
  if (!v6 && !net.isIPv4(o.host)) return null;
  const handle = new b.TCP(b.constants.SERVER);
  const flags = o.reusePort ? b.constants.UV_TCP_REUSEPORT! : 0;
  const err = v6 ? handle.bind6(o.host, o.port, flags) : handle.bind(o.host, o.port, flags);
  if (err === 0) return handle;
  handle.close();
  // not an IPv6 address after all (uv_ip6_addr refused it): let server.listen say what it is
  if (v6 && err === UV_EINVAL) return null;
  return listenError(err, o);
}

const UV_EINVAL = -22;

function listenError(err: number, o: BindOptions): Error {
  const code = util.getSystemErrorName(err);
  const message = util.getSystemErrorMessage?.(err) ?? code;
  return Object.assign(new Error(`listen ${code}: ${message} ${o.host}:${o.port}`), { code, errno: err, syscall: "listen", address: o.host, port: o.port });
}
