import * as v from "valibot";
import { formatDuration, parseDuration } from "../core/config/duration.ts";
import { formatIssue, formatPath, get, inFileOrder, parseJsonText, type ConfigIssue } from "../core/config/parse.ts";
import { httpUrl as httpUrlSchema, parseStatusSpec, type StatusRange } from "../core/config/schema.ts";

/** A duration string ("1s", "500ms") parsed to ms, from `min` to `max` ms. */
const duration = (min: number, max: number) =>
  v.pipe(
    v.string("must be a duration string such as \"1s\" or \"500ms\""),
    v.check((s) => parseDuration(s) !== undefined, "must be a duration with a unit (ms, s, m, h), such as \"1s\""),
    v.check((s) => !((parseDuration(s) ?? min) < min), min === 0 ? "must be at least 0" : `must be at least ${formatDuration(min)}`),
    v.check((s) => !((parseDuration(s) ?? max) > max), `must be at most ${formatDuration(max)}`),
    v.transform((s) => parseDuration(s) as number),
  );

const name = v.pipe(
  v.string("must be a string"),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"),
);

const num = (min: number, max: number) =>
  v.pipe(v.number(`must be a number ${min}-${max}`), v.finite(`must be a number ${min}-${max}`), v.minValue(min, `must be ${min}-${max}`), v.maxValue(max, `must be ${min}-${max}`));

/** soft < hard (high is bad) or soft > hard (low is bad), checked against the signal's direction below. */
const band = (min: number, max: number) => v.strictObject({ soft: num(min, max), hard: num(min, max) });

/** A balancer to report to: its base URL; a path, when given, is the control prefix (default "/__edgelb"). */
const target = v.pipe(
  v.string("must be a URL string such as \"http://10.0.0.5:8080\""),
  v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === "" && u.search === "" && u.hash === "";
    } catch {
      return false;
    }
  }, "must be http(s)://host[:port][/prefix] with no query, fragment or credentials"),
);

const httpUrl = httpUrlSchema("http://127.0.0.1/health");

const envName = v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"));

/** The agent.json schema. */
export const AgentConfigSchema = v.strictObject({
  $schema: v.optional(v.string("must be a string")),
  /** The pool and origin this agent reports for, as named in the balancer's config. */
  pool: name,
  origin: name,
  /** Balancers to report to: the Node build (http://10.0.0.5:8080) and/or the edge (https://shop.example.no). */
  targets: v.pipe(v.array(target, "must be a list of URLs"), v.minLength(1, "must list at least one target"), v.maxLength(16, "must list at most 16 targets")),
  /** Control route prefix for a target URL given without a path. Default "/__edgelb". */
  prefix: v.optional(v.pipe(v.string("must be a string"), v.regex(/^\/[A-Za-z0-9_.~-]+(\/[A-Za-z0-9_.~-]+)*$/, "must be a path like \"/__edgelb\"")), "/__edgelb"),
  /** Environment variable holding the origin's agent key (the balancer's agentKeys name the same secret). */
  keyEnv: v.optional(envName),
  /** File holding the key (e.g. a systemd credential); read once at start. */
  keyFile: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"))),
  /** Time between reports. Default 1s. */
  interval: v.optional(duration(100, 600_000), "1s"),
  /** Per-request timeout of a report. Default: the interval, at most 2s. */
  timeout: v.optional(duration(1, 60_000)),
  /** Random extra wait added to each interval, 0 to this. Default: a tenth of the interval. */
  jitter: v.optional(duration(0, 600_000)),
  /** Longest wait between tries to a target that keeps failing (exponential backoff from the interval). Default 30s. */
  backoffMax: v.optional(duration(100, 3_600_000), "30s"),
  thresholds: v.optional(
    v.strictObject({
      /** 1-minute load average per CPU. Default soft 1, hard 2. */
      loadPerCpu: v.optional(v.nullable(band(0, 10_000)), { soft: 1, hard: 2 }),
      /** MemAvailable as % of MemTotal; low is bad. Default soft 15, hard 5. */
      memAvailablePct: v.optional(v.nullable(band(0, 100)), { soft: 15, hard: 5 }),
      /** Pages swapped in per second. Default soft 100, hard 1000. */
      swapInPerSec: v.optional(v.nullable(band(0, 1e12)), { soft: 100, hard: 1000 }),
      /** Pressure stall "some avg10" %, per resource. Defaults: cpu 50/90, memory 10/40, io 30/80. */
      psi: v.optional(
        v.strictObject({
          cpu: v.optional(v.nullable(band(0, 100)), { soft: 50, hard: 90 }),
          memory: v.optional(v.nullable(band(0, 100)), { soft: 10, hard: 40 }),
          io: v.optional(v.nullable(band(0, 100)), { soft: 30, hard: 80 }),
        }),
        {},
      ),
    }),
    {},
  ),
  /** Time every signal must stay below its soft threshold before a drained origin is ready again. Default 30s. */
  holdTime: v.optional(duration(0, 86_400_000), "30s"),
  /** Smallest weight change reported, points. Default 10. */
  weightStep: v.optional(v.pipe(v.number("must be an integer 1-100"), v.integer("must be an integer 1-100"), v.minValue(1, "must be 1-100"), v.maxValue(100, "must be 1-100")), 10),
  /** Time a higher weight must hold before it is reported (it falls at once). Default 5s. */
  raiseAfter: v.optional(duration(0, 86_400_000), "5s"),
  /** The app's own health URL: status and latency each sample; a failure reports the origin down. */
  appHealth: v.optional(
    v.strictObject({
      url: httpUrl,
      /** Default 1s, at most the interval. */
      timeout: v.optional(duration(1, 60_000)),
      /** Statuses that count as up. Default "200-399". */
      expect: v.optional(
        v.pipe(
          v.string("must be a status spec such as \"200\", \"2xx\" or \"200-399\""),
          v.check((s) => parseStatusSpec(s) !== undefined, "must be a status spec such as \"200\", \"2xx\", \"200-399\" or a comma list of them"),
          v.transform((s) => parseStatusSpec(s) as StatusRange[]),
        ),
        "200-399",
      ),
    }),
  ),
  /** Where /proc is (tests pass a fake tree). Default "/proc". */
  procRoot: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty")), "/proc"),
  /** File keeping the last seq and an operator's forced drain across restarts. Default none (seq from the clock). */
  stateFile: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"))),
  /** Also answer HAProxy's agent-check on this TCP address (`agent-check agent-port N`). */
  haproxyAgent: v.optional(
    v.strictObject({
      host: v.optional(v.string("must be a string"), "127.0.0.1"),
      port: v.pipe(v.number("must be an integer 0-65535"), v.integer("must be an integer 0-65535"), v.minValue(0, "must be 0-65535"), v.maxValue(65_535, "must be 0-65535")),
    }),
  ),
});

type Parsed = v.InferOutput<typeof AgentConfigSchema>;

/** A report destination: the full URL of its agent route. */
export interface Target {
  /** As written in the config (for logs). */
  base: string;
  /** e.g. http://10.0.0.5:8080/__edgelb/agent */
  url: URL;
}

/** The config as used: durations in ms, defaults filled in, targets resolved. */
export type AgentConfig = Omit<Parsed, "targets" | "timeout" | "jitter" | "appHealth"> & {
  targets: Target[];
  timeout: number;
  jitter: number;
  appHealth: { url: string; timeout: number; expect: StatusRange[] } | null;
};

type Key = string | number;

export type AgentConfigResult = { ok: true; config: AgentConfig } | { ok: false; issues: ConfigIssue[] };

/** Validates a decoded agent.json: every problem with its path and value, in file order, unknown keys included. */
export function parseAgentConfig(input: unknown): AgentConfigResult {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return { ok: false, issues: [{ path: "(root)", message: "must be a JSON object", value: undefined }] };
  const found: { keys: Key[]; message: string; value: unknown }[] = [];
  const add = (keys: Key[], message: string, value: unknown) => {
    const path = formatPath(keys);
    if (!found.some((f) => formatPath(f.keys) === path)) found.push({ keys, message, value });
  };
  unknownKeys(AgentConfigSchema as unknown as Node, input, [], add);
  const r = v.safeParse(AgentConfigSchema, input, { abortEarly: false, abortPipeEarly: true });
  if (!r.success) {
    for (const i of r.issues) {
      if (i.kind === "schema" && i.expected === "never" && i.path?.length) continue; // from unknownKeys
      const keys = (i.path ?? []).map((p) => (p as { key: Key }).key);
      if (i.input === undefined && i.kind === "schema") add(keys, "is required", undefined);
      else add(keys, i.message.startsWith("Invalid") ? `must be ${i.expected ?? "valid"}` : i.message, i.input);
    }
  }
  // rules across fields, read from the raw input so they show next to any schema problem
  const raw = input as Record<string, unknown>;
  if (raw.keyEnv !== undefined && raw.keyFile !== undefined) add(["keyFile"], "must not be set together with keyEnv (one key source)", raw.keyFile);
  if (raw.keyEnv === undefined && raw.keyFile === undefined) add(["keyEnv"], "is required (or keyFile): the origin's agent key, never on the command line", undefined);
  // each signal's direction: memory available is bad when low, the rest when high
  const dir = (keys: string[], lowIsBad: boolean) => {
    const b = get(raw, keys) as { soft?: unknown; hard?: unknown } | undefined;
    if (!b || typeof b.soft !== "number" || typeof b.hard !== "number") return;
    if (lowIsBad ? !(b.soft > b.hard) : !(b.soft < b.hard))
      add([...keys, "hard"], lowIsBad ? `must be below soft (${b.soft}): low is bad for this signal` : `must be above soft (${b.soft})`, b.hard);
  };
  dir(["thresholds", "loadPerCpu"], false);
  dir(["thresholds", "memAvailablePct"], true);
  dir(["thresholds", "swapInPerSec"], false);
  for (const res of ["cpu", "memory", "io"]) dir(["thresholds", "psi", res], false);
  const interval = typeof raw.interval === "string" ? (parseDuration(raw.interval) ?? 1000) : 1000;
  const within = (keys: string[]) => {
    const d = get(raw, keys);
    if (typeof d === "string" && (parseDuration(d) ?? 0) > interval) add(keys, `must not exceed interval (${formatDuration(interval)})`, d);
  };
  within(["jitter"]);
  within(["appHealth", "timeout"]);
  if (Array.isArray(raw.targets)) {
    const urls = new Map<string, number>();
    raw.targets.forEach((base: unknown, i: number) => {
      const url = typeof base === "string" ? targetUrl(base, typeof raw.prefix === "string" ? raw.prefix : "/__edgelb") : null;
      if (!url) return;
      const first = urls.get(url.href);
      if (first !== undefined) add(["targets", i], `duplicates targets[${first}]`, base);
      else urls.set(url.href, i);
    });
  }
  if (found.length || !r.success) return { ok: false, issues: inFileOrder(input, found).map((f) => ({ path: formatPath(f.keys), message: f.message, value: f.value })) };

  const c = r.output;
  const appTimeout = c.appHealth ? (c.appHealth.timeout ?? Math.min(1000, c.interval)) : 0;
  return {
    ok: true,
    config: {
      ...c,
      targets: c.targets.map((base) => ({ base, url: targetUrl(base, c.prefix)! })),
      timeout: c.timeout ?? Math.min(c.interval, 2000),
      jitter: c.jitter ?? Math.round(c.interval / 10),
      appHealth: c.appHealth ? { url: c.appHealth.url, timeout: appTimeout, expect: c.appHealth.expect } : null,
    },
  };
}

/** The agent route of a target: its path, when it has one, is the prefix; else `prefix`. */
function targetUrl(base: string, prefix: string): URL | null {
  try {
    const u = new URL(base);
    const p = u.pathname === "/" || u.pathname === "" ? prefix : u.pathname.replace(/\/+$/, "");
    return new URL(`${p}/agent`, u.origin);
  } catch {
    return null;
  }
}

/** Parses agent.json text; a JSON syntax error is one issue at "(file)". */
export function parseAgentConfigText(text: string): AgentConfigResult {
  return parseJsonText(text, parseAgentConfig);
}

export { formatIssue };

interface Node {
  type: string;
  wrapped?: Node;
  entries?: Record<string, Node>;
  item?: Node;
}

/** Every unknown key, not only the first of each object (valibot stops at the first). */
function unknownKeys(schema: Node, input: unknown, keys: Key[], add: (keys: Key[], message: string, value: unknown) => void): void {
  if ((schema.type === "optional" || schema.type === "nullable") && schema.wrapped) return unknownKeys(schema.wrapped, input, keys, add);
  if (schema.type === "array" && Array.isArray(input)) return input.forEach((x, i) => unknownKeys(schema.item!, x, [...keys, i], add));
  if (schema.type !== "strict_object" || typeof input !== "object" || input === null || Array.isArray(input)) return;
  for (const [k, value] of Object.entries(input)) {
    if (Object.hasOwn(schema.entries!, k)) unknownKeys(schema.entries![k], value, [...keys, k], add);
    else add([...keys, k], "is not a known key (unknown keys are errors)", undefined);
  }
}

/**
 * The origin's key: from the environment variable `keyEnv` or the file `keyFile` (trailing
 * whitespace trimmed), never from the command line. Throws a one-line message when missing.
 */
export function loadKey(c: Pick<AgentConfig, "keyEnv" | "keyFile">, env: Record<string, string | undefined>, read: (file: string) => string): string {
  if (c.keyEnv) {
    const k = env[c.keyEnv];
    if (!k) throw new Error(`keyEnv: the environment variable ${c.keyEnv} is not set or empty`);
    return k;
  }
  let k: string;
  try {
    k = read(c.keyFile!).trim();
  } catch (e) {
    throw new Error(`keyFile: cannot read ${c.keyFile}: ${(e as Error).message}`);
  }
  if (!k) throw new Error(`keyFile: ${c.keyFile} is empty`);
  return k;
}
