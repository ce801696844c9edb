/**
 * undici's Pool, loaded on first use: only https origins (and their checks) need it; plain http
 * origins go through node/h1.ts. Loading undici (its HTTP/2 client loads node:http2) was the
 * largest part of a cold start left. Only the Pool with the request API on its prototype is
 * loaded, not undici's index (every dispatcher, mocks, caches, WebSocket, EventSource).
 * It is required from node_modules at run time (undici is a dependency), so the bundle
 * (dist-node/) does not carry it. Types come from the package.
 */
import type { Pool as UndiciPool } from "undici";

export type Pool = UndiciPool;
let loaded: typeof UndiciPool | null = null;

export function undiciPool(): typeof UndiciPool {
  if (loaded) return loaded;
  const require = process.getBuiltinModule("node:module").createRequire(import.meta.url);
  const Dispatcher = require("undici/lib/dispatcher/dispatcher.js") as { prototype: object };
  Object.assign(Dispatcher.prototype, require("undici/lib/api/index.js"));
  return (loaded = require("undici/lib/dispatcher/pool.js") as typeof UndiciPool);
}
