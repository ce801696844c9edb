import bundled from "../edgelb.json" with { type: "json" };
import { formatIssue, parseConfig } from "../core/config/parse.ts";
import type { Config } from "../core/config/schema.ts";
import type { HealthObject } from "./health-object.ts";

/** Bindings of the edge build (wrangler.toml); secrets such as admin tokens come as extra string bindings. */
export interface EdgeEnv {
  HEALTH: DurableObjectNamespace<HealthObject>;
  /** A config as JSON text; overrides the bundled edgelb.json (tests, or a config kept in a var). */
  EDGELB_CONFIG?: string;
  [secret: string]: unknown;
}

/** Parsed configs by source (the Worker and the Durable Object share an isolate in tests and dev). */
const cache = new Map<unknown, Config>();

/**
 * The config of the edge build: the EDGELB_CONFIG binding when set, else the edgelb.json bundled at
 * deploy time (the same file the Node build reads). Parsed once per isolate; an invalid one throws
 * with every problem listed.
 */
export function loadEdgeConfig(env: EdgeEnv): Config {
  const source = env.EDGELB_CONFIG ?? bundled;
  const hit = cache.get(source);
  if (hit) return hit;
  let input: unknown = source;
  if (typeof source === "string") {
    try {
      input = JSON.parse(source);
    } catch (e) {
      throw new Error(`EDGELB_CONFIG is not valid JSON: ${(e as Error).message}`);
    }
  }
  const r = parseConfig(input);
  if (!r.ok) throw new Error(`invalid edgelb config:\n${r.issues.map(formatIssue).join("\n")}`);
  if (cache.size >= 8) cache.clear();
  cache.set(source, r.config);
  return r.config;
}
