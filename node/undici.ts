/**
 * undici's Pool, with the request API on its prototype, without the rest of undici.
 * `import { Pool } from "undici"` evaluates every dispatcher, HTTP/2, mocks, caches, WebSocket and
 * EventSource and the Node modules they need: about 70 ms of a cold start that `edgelb serve` never
 * uses, and the bundle (dist-node/) keeps only what is imported here. undici's own index.js adds
 * `request()`, `stream()`... to Dispatcher.prototype; so does this (the checks use `request()`).
 * Types come from the package.
 */
import type { Pool as UndiciPool } from "undici";
import api from "undici/lib/api/index.js";
import Dispatcher from "undici/lib/dispatcher/dispatcher.js";
import PoolImpl from "undici/lib/dispatcher/pool.js";

Object.assign((Dispatcher as { prototype: object }).prototype, api);

export const Pool = PoolImpl as unknown as typeof UndiciPool;
export type Pool = UndiciPool;
