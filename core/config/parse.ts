import * as v from "valibot";
import { formatDuration } from "./duration.ts";
import { CheckSchema, ConfigSchema, type Config } from "./schema.ts";

/** One problem in a config: where (`pools.webfarm.origins[1].weight`), what, and the value found. */
export interface ConfigIssue {
  path: string;
  message: string;
  value: unknown;
}

export type ParseResult =
  | { ok: true; config: Config; warnings: ConfigIssue[] }
  | { ok: false; issues: ConfigIssue[] };

type Key = string | number;
/** An issue while it is being collected: its path as keys, to sort and de-duplicate by. */
interface Found {
  keys: Key[];
  message: string;
  value: unknown;
}

/**
 * Validates a config object (already JSON-decoded). Every problem comes back with its path and
 * value, in the order of the file: schema problems, every unknown key (not only the first of each
 * object), and the cross-field rules (duplicate names, unknown pools, check timeout), which are
 * checked even when other parts of the file are invalid.
 */
export function parseConfig(input: unknown): ParseResult {
  const structural: Found[] = [];
  const blocked: Key[][] = [];
  walk(ConfigSchema as unknown as SchemaNode, input, [], structural, blocked);
  // one issue per path and pipe (not "must be an integer 0-256" and "must be 0-256" for 1000.5)
  const r = v.safeParse(ConfigSchema, input, { abortEarly: false, abortPipeEarly: true });
  const found: Found[] = structural.slice();
  if (!r.success) {
    for (const i of expandUnions(r.issues)) {
      // unknown keys come from `walk` (valibot names only the first one of each object)
      if (i.kind === "schema" && i.expected === "never" && i.path?.length) continue;
      const f = toFound(i);
      // under a value that is an array where an object belongs, the "is required" noise says nothing more
      if (blocked.some((b) => startsWith(f.keys, b))) continue;
      found.push(f);
    }
  }
  for (const f of crossChecks(input)) if (!found.some((g) => samePath(g.keys, f.keys))) found.push(f);
  // never "invalid" with nothing to show for it
  if (!found.length && !r.success) found.push(...r.issues.map(toFound));
  if (found.length || !r.success) return { ok: false, issues: inFileOrder(input, found).map(toIssue) };

  const cfg = r.output as Config;
  for (const [pname, pool] of Object.entries(cfg.pools)) {
    // HAProxy checks with `inter` alone: an unset timeout follows a shorter interval
    if (get(input, ["pools", pname, "check", "timeout"]) === undefined) pool.check.timeout = Math.min(pool.check.timeout, pool.check.interval);
  }
  cfg.defaultPool ??= Object.keys(cfg.pools)[0];
  return { ok: true, config: cfg, warnings: configWarnings(cfg) };
}

/** Parses JSON text, then validates; a JSON syntax error is one issue at path "(file)". */
export function parseConfigText(text: string): ParseResult {
  return parseJsonText(text, parseConfig);
}

/** JSON text -> `parse`, with a syntax error as the one issue at "(file)" (edgelb.json and agent.json alike). */
export function parseJsonText<R>(text: string, parse: (json: unknown) => R): R | { ok: false; issues: ConfigIssue[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, issues: [{ path: "(file)", message: `is not valid JSON: ${(e as Error).message}`, value: undefined }] };
  }
  return parse(json);
}

/** One line per problem: `pools.webfarm.origins[1].weight: must be 0-256, got 1000`. */
export function formatIssue(i: ConfigIssue): string {
  return i.value === undefined
    ? `${i.path}: ${i.message}`
    : `${i.path}: ${i.message}, got ${showValue(i.value)}`;
}

/** `pools.webfarm.origins[1].weight`; a key that is not a plain word is quoted: `pools["web farm"]`. */
export function formatPath(keys: readonly Key[]): string {
  let path = "";
  for (const key of keys) {
    if (typeof key === "number") path += `[${key}]`;
    else if (!/^[A-Za-z0-9_$-]+$/.test(key)) path += `[${JSON.stringify(key)}]`;
    else path += path ? `.${key}` : key;
  }
  return path || "(root)";
}

/** Rules across fields, read from the raw input so they are reported next to any schema problem. */
function crossChecks(input: unknown): Found[] {
  const out: Found[] = [];
  if (!isObject(input)) return out;
  const pools = isObject(input.pools) ? input.pools : {};
  const poolNames = Object.keys(pools);
  const known = poolNames.length ? `pools are ${poolNames.join(", ")}` : "no pool is defined";
  for (const [pname, pool] of Object.entries(pools)) {
    if (!isObject(pool)) continue;
    if (Array.isArray(pool.origins)) {
      const seen = new Map<string, number>();
      pool.origins.forEach((o: unknown, i: number) => {
        if (!isObject(o) || typeof o.name !== "string") return;
        const first = seen.get(o.name);
        if (first !== undefined) out.push({ keys: ["pools", pname, "origins", i, "name"], message: `duplicates origins[${first}].name`, value: o.name });
        else seen.set(o.name, i);
      });
    }
    const check = pool.check ?? {};
    const c = v.safeParse(CheckSchema, check);
    if (c.success && isObject(check) && check.timeout !== undefined && c.output.timeout > c.output.interval) {
      out.push({
        keys: ["pools", pname, "check", "timeout"],
        message: `must not exceed check.interval (${formatDuration(c.output.interval)})`,
        value: check.timeout,
      });
    }
  }
  if (Array.isArray(input.routes)) {
    input.routes.forEach((rt: unknown, i: number) => {
      if (isObject(rt) && typeof rt.pool === "string" && !Object.hasOwn(pools, rt.pool))
        out.push({ keys: ["routes", i, "pool"], message: `names no pool (${known})`, value: rt.pool });
    });
  }
  const listeners = Array.isArray(input.listen) ? input.listen.map((l, i) => [l, ["listen", i]] as const) : [[input.listen, ["listen"]] as const];
  const bound = new Map<string, string>();
  for (const [l, keys] of listeners) {
    if (!isObject(l) || typeof l.port !== "number") continue;
    const at = `${typeof l.host === "string" ? l.host : "0.0.0.0"}:${l.port}`;
    const first = bound.get(at);
    if (first !== undefined && l.port !== 0) out.push({ keys: [...keys, "port"], message: `is already used by ${first} on the same host`, value: l.port });
    else bound.set(at, formatPath(keys));
    if (l.tls !== undefined && l.redirectHttps !== undefined)
      out.push({ keys: [...keys, "redirectHttps"], message: "is for a plain http listener (this one has tls)", value: l.redirectHttps });
    const maxConnections = isObject(input.client) ? input.client.maxConnections : undefined;
    if (typeof l.acceptors === "number" && l.acceptors > 1 && typeof maxConnections === "number" && maxConnections > 0)
      out.push({ keys: [...keys, "acceptors"], message: "must be 1 when client.maxConnections is set (the limit is kept per listening socket)", value: l.acceptors });
  }
  if (typeof input.defaultPool === "string" && !Object.hasOwn(pools, input.defaultPool))
    out.push({ keys: ["defaultPool"], message: `names no pool (${known})`, value: input.defaultPool });
  return out;
}

/** Settings that are valid but risky: said by `edgelb check` and at start, never refused. */
function configWarnings(cfg: Config): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const [pname, pool] of Object.entries(cfg.pools)) {
    pool.origins.forEach((o, i) => {
      if (!o.verify && o.url.startsWith("https:"))
        out.push({ path: formatPath(["pools", pname, "origins", i, "verify"]), message: "is false: the origin's certificate is not checked (anyone on the path can read and change the traffic)", value: false });
      if (o.ca !== undefined && !o.url.startsWith("https:"))
        out.push({ path: formatPath(["pools", pname, "origins", i, "ca"]), message: "is set on an http origin: it is used only for https", value: o.ca });
    });
  }
  return out;
}

/**
 * A union whose input matched none of its options (a listener given as neither an object nor a
 * list, or an object with a bad key) carries each option's issues, their paths relative to the
 * union: keep those that go deeper than the union itself (the option whose type fit), with the
 * union's path in front, else the union's own message.
 */
function expandUnions(issues: readonly v.BaseIssue<unknown>[]): v.BaseIssue<unknown>[] {
  const out: v.BaseIssue<unknown>[] = [];
  for (const i of issues) {
    // the option of the input's kind: a list's issues are under an index, an object's under a key
    const kind = Array.isArray(i.input) ? "array" : "object";
    const deeper = i.type === "union" ? (i.issues ?? []).filter((j) => j.path?.[0]?.type === kind) : [];
    if (!deeper.length) {
      out.push(i);
      continue;
    }
    const at = i.path ?? [];
    out.push(...expandUnions(deeper.map((j) => ({ ...j, path: [...at, ...(j.path ?? [])] }) as v.BaseIssue<unknown>)));
  }
  return out;
}

/** The parts of a valibot schema that `walk` follows (a pipe carries its first schema's fields). */
interface SchemaNode {
  options?: SchemaNode[];
  type: string;
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  value?: SchemaNode;
}

/**
 * Reports what valibot's strictObject does not: every unknown key of an object (it stops at the
 * first), and an array where an object belongs (it takes arrays for objects). `blocked` collects
 * the paths of such arrays, whose other issues are noise.
 */
function walk(schema: SchemaNode, input: unknown, keys: Key[], out: Found[], blocked: Key[][]): void {
  switch (schema.type) {
    case "optional":
      if (input !== undefined && schema.wrapped) walk(schema.wrapped, input, keys, out, blocked);
      return;
    case "strict_object":
    case "record":
      if (Array.isArray(input)) {
        out.push({ keys, message: "must be an object", value: input });
        blocked.push(keys);
        return;
      }
      if (!isObject(input)) return; // valibot reports the type
      for (const [k, value] of Object.entries(input)) {
        if (schema.type === "record") walk(schema.value!, value, [...keys, k], out, blocked);
        else if (Object.hasOwn(schema.entries!, k)) walk(schema.entries![k], value, [...keys, k], out, blocked);
        // no "got": the key is the problem, and its value may be a whole block
        else out.push({ keys: [...keys, k], message: unknownKey(k, Object.keys(schema.entries!)), value: undefined });
      }
      return;
    case "array":
      if (Array.isArray(input)) input.forEach((x, i) => walk(schema.item!, x, [...keys, i], out, blocked));
      return;
    case "union": {
      // the option of the input's kind (an object or a list)
      const option = schema.options?.find((o) => (o.type === "array") === Array.isArray(input));
      if (option) walk(option, input, keys, out, blocked);
      return;
    }
  }
}

function unknownKey(key: string, known: string[]): string {
  const near = known.filter((k) => k !== "$schema" && editDistance(k.toLowerCase(), key.toLowerCase()) <= Math.min(2, Math.floor(k.length / 3)));
  return near.length === 1 ? `is not a known key (did you mean "${near[0]}"?)` : "is not a known key (unknown keys are errors)";
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Sorts issues as their paths appear in the file (stable); a missing key sorts after the rest of its parent. */
export function inFileOrder<T extends { keys: Key[] }>(input: unknown, found: T[]): T[] {
  // path -> [position, position of its last descendant]
  const order = new Map<string, [number, number]>();
  let next = 0;
  const visit = (x: unknown, keys: Key[]) => {
    const span: [number, number] = [next, next++];
    order.set(formatPath(keys), span);
    if (Array.isArray(x)) x.forEach((y, i) => visit(y, [...keys, i]));
    else if (isObject(x)) for (const [k, y] of Object.entries(x)) visit(y, [...keys, k]);
    span[1] = next - 1;
  };
  visit(input, []);
  const rank = (keys: Key[]) => {
    for (let n = keys.length; n >= 0; n--) {
      const r = order.get(formatPath(keys.slice(0, n)));
      if (r !== undefined) return n === keys.length ? r[0] : r[1] + 0.5;
    }
    return Infinity;
  };
  return found.map((f) => ({ f, r: rank(f.keys) })).sort((a, b) => a.r - b.r).map((x) => x.f);
}

const TYPE_NAMES: Record<string, string> = { Object: "an object", Array: "a list", string: "a string", number: "a number", boolean: "true or false" };

function toFound(i: v.BaseIssue<unknown>): Found {
  const keys = (i.path ?? []).map((item) => (item as { key: Key }).key);
  if (i.input === undefined && i.kind === "schema") return { keys, message: "is required", value: undefined };
  // valibot's default messages start with "Invalid"; ours are written as "must ..."
  const message = i.message.startsWith("Invalid") ? `must be ${(i.expected && TYPE_NAMES[i.expected]) ?? i.expected ?? "valid"}` : i.message;
  return { keys, message, value: i.input };
}

function toIssue(f: Found): ConfigIssue {
  return { path: formatPath(f.keys), message: f.message, value: f.value };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function startsWith(keys: Key[], prefix: Key[]): boolean {
  return prefix.length <= keys.length && prefix.every((k, i) => keys[i] === k);
}

function samePath(a: Key[], b: Key[]): boolean {
  return a.length === b.length && startsWith(a, b);
}

/** The value at `keys` in a JSON value, or undefined. */
export function get(obj: unknown, keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) cur = isObject(cur) ? cur[k] : undefined;
  return cur;
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
