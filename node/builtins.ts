/**
 * Node builtins with lazy getters, taken through process.getBuiltinModule rather than ES imports.
 * An ES import of a builtin builds its ES facade, which reads every export; the lazy getters then
 * load what edgelb never uses: node:http's WebSocket/EventSource load Node's bundled undici,
 * node:fs's ReadStream and promises the stream and promise layers, node:crypto's webcrypto and
 * argon2 theirs, node:util's TextDecoder the encoding layer (8 ms here), node:events's
 * EventEmitterAsyncResource async hooks. That was about a quarter of `edgelb serve`'s cold start.
 * (The facades of node:stream, path, url, os, _http_common cost well under a millisecond each.)
 */
export const net: typeof import("node:net") = process.getBuiltinModule("node:net");
export const events: typeof import("node:events") = process.getBuiltinModule("node:events");
export const util: typeof import("node:util") = process.getBuiltinModule("node:util");

export const fs: typeof import("node:fs") = process.getBuiltinModule("node:fs");
/** Loaded when first used: node:crypto (~19 ms of a cold start here) only for TLS listeners, fs/promises for `import-haproxy`. */
export const lazyCrypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto");
export const lazyFsp = (): typeof import("node:fs/promises") => process.getBuiltinModule("node:fs/promises");
/**
 * node:http (its agent, client, server and outgoing layers, ~6 ms of a cold start here), loaded
 * when first used: for the reason phrase of a status edgelb answers itself (a proxied response
 * carries its origin's) and for WebSocket upgrades.
 */
export const lazyHttp = (): typeof import("node:http") => process.getBuiltinModule("node:http");
/** node:v8 (with perf_hooks and heap utilities behind it, ~4 ms): `edgelb serve` sets a flag a second after it listens. */
export const lazyV8 = (): typeof import("node:v8") => process.getBuiltinModule("node:v8");
