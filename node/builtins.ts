/**
 * Node builtins with lazy getters, taken through process.getBuiltinModule rather than ES imports.
 * An ES import of a builtin builds its ES facade, which reads every export; the lazy getters then
 * load what edgelb never uses: node:http's WebSocket/EventSource load Node's bundled undici,
 * node:fs's ReadStream and promises the stream and promise layers, node:crypto's webcrypto and
 * argon2 theirs. That was about a quarter of `edgelb serve`'s cold start.
 */
export const http: typeof import("node:http") = process.getBuiltinModule("node:http");
export const fs: typeof import("node:fs") = process.getBuiltinModule("node:fs");
export const fsp: typeof import("node:fs/promises") = process.getBuiltinModule("node:fs/promises");
export const crypto: typeof import("node:crypto") = process.getBuiltinModule("node:crypto");
export const v8: typeof import("node:v8") = process.getBuiltinModule("node:v8");
