import * as v from "valibot";
import { ConfigSchema, type Config } from "./schema.ts";

/** One problem in a config: where (`pools.webfarm.origins[1].weight`), what, and the value found. */
export interface ConfigIssue {
  path: string;
  message: string;
  value: unknown;
}

export type ParseResult =
  | { ok: true; config: Config; warnings: ConfigIssue[] }
  | { ok: false; issues: ConfigIssue[] };

/** Validates a config object (already JSON-decoded); every problem comes back with its path and value. */
export function parseConfig(input: unknown): ParseResult {
  const r = v.safeParse(ConfigSchema, input, { abortEarly: false });
  if (!r.success) return { ok: false, issues: r.issues.map(toIssue) };
  const cfg = r.output as Config;
  const issues: ConfigIssue[] = [];
  const poolNames = Object.keys(cfg.pools);
  for (const [pname, pool] of Object.entries(cfg.pools)) {
    const seen = new Map<string, number>();
    pool.origins.forEach((o, i) => {
      const first = seen.get(o.name);
      if (first !== undefined) issue(issues, `pools.${pname}.origins[${i}].name`, `duplicates origins[${first}].name`, o.name);
      else seen.set(o.name, i);
    });
    if (pool.check.timeout > pool.check.interval)
      issue(issues, `pools.${pname}.check.timeout`, "must not exceed check.interval", input ? get(input, ["pools", pname, "check", "timeout"]) : undefined);
  }
  cfg.routes.forEach((rt, i) => {
    if (!cfg.pools[rt.pool]) issue(issues, `routes[${i}].pool`, `names no pool (pools are ${poolNames.join(", ")})`, rt.pool);
  });
  if (cfg.defaultPool !== undefined && !cfg.pools[cfg.defaultPool])
    issue(issues, "defaultPool", `names no pool (pools are ${poolNames.join(", ")})`, cfg.defaultPool);
  if (issues.length) return { ok: false, issues };
  cfg.defaultPool ??= poolNames[0];
  return { ok: true, config: cfg, warnings: [] };
}

/** Parses JSON text, then validates; a JSON syntax error is one issue at path "(file)". */
export function parseConfigText(text: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, issues: [{ path: "(file)", message: `is not valid JSON: ${(e as Error).message}`, value: undefined }] };
  }
  return parseConfig(json);
}

/** One line per problem: `pools.webfarm.origins[1].weight: must be 0-256, got 1000`. */
export function formatIssue(i: ConfigIssue): string {
  return i.value === undefined
    ? `${i.path}: ${i.message}`
    : `${i.path}: ${i.message}, got ${showValue(i.value)}`;
}

function issue(list: ConfigIssue[], path: string, message: string, value: unknown) {
  list.push({ path, message, value });
}

function get(obj: unknown, keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function toIssue(i: v.BaseIssue<unknown>): ConfigIssue {
  let path = "";
  for (const item of i.path ?? []) {
    const key = (item as { key: unknown }).key;
    path += typeof key === "number" ? `[${key}]` : path ? `.${String(key)}` : String(key);
  }
  if (i.kind === "schema" && i.expected === "never" && i.path?.length) {
    return { path, message: "is not a known key (unknown keys are errors)", value: undefined };
  }
  if (i.input === undefined && i.kind === "schema") {
    return { path: path || "(root)", message: "is required", value: undefined };
  }
  // valibot's default messages start with "Invalid"; ours are written as "must ..."
  const message = i.message.startsWith("Invalid") ? `must be ${i.expected ?? "valid"}` : i.message;
  return { path: path || "(root)", message, value: i.input };
}

function showValue(v: unknown): string {
  if (v === undefined) return "nothing";
  let s: string;
  try {
    s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
