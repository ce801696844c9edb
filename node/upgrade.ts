import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Config } from "../core/config/schema.ts";
import type { PoolRuntime } from "./pool.ts";

/** WebSocket tunnels (being written: issue 9). Until then an upgrade is refused. */
export function tunnel(_config: Config, _pool: PoolRuntime, _req: IncomingMessage, socket: Duplex, _head: Buffer): void {
  socket.end("HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
}

/** Whether a request asks for a WebSocket upgrade (the only one tunnelled); others are served as plain requests. */
export function wantsWebSocket(req: IncomingMessage): boolean {
  return /(^|,)\s*websocket\s*(,|$)/i.test(req.headers.upgrade ?? "") && /(^|,)\s*upgrade\s*(,|$)/i.test(req.headers.connection ?? "");
}
