import { createRequire } from "node:module";

/**
 * node:http and node:https loaded with require, not `import`: an ES import of node:http evaluates
 * every export, and its lazy `WebSocket`/`MessageEvent` getters load undici, ~13 MiB of memory
 * the agent never uses (Node 24). https (and with it tls) is loaded only for an https URL.
 */
const require = createRequire(import.meta.url);

export const http = require("node:http") as typeof import("node:http");

let httpsModule: typeof import("node:https") | undefined;
export function https(): typeof import("node:https") {
  return (httpsModule ??= require("node:https") as typeof import("node:https"));
}
