import * as v from "valibot";

const num = (min: number, max: number, what: string) =>
  v.pipe(v.number(`must be a number ${what}`), v.finite(`must be a finite number ${what}`), v.minValue(min, `must be ${what}`), v.maxValue(max, `must be ${what}`));
const reading = (min: number, max: number, what: string) => v.nullable(num(min, max, what));

/**
 * The agent report, version 1. Three separate things, as in HAProxy's agent protocol: operational
 * `health`, administrative `admin`, and `weightPct`; plus the raw readings they were derived from.
 * A reading the agent could not take is null, never 0.
 */
export const ReportSchema = v.strictObject({
  v: v.literal(1, "must be 1 (report format version)"),
  pool: v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(64, "must be at most 64 characters")),
  origin: v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(64, "must be at most 64 characters")),
  /** Grows with every report, across agent restarts. */
  seq: v.pipe(v.number("must be an integer"), v.safeInteger("must be a safe integer"), v.minValue(0, "must be >= 0")),
  /** Agent's clock when sampled, ms since the epoch (informational; the receiver uses its own clock). */
  ts: v.pipe(v.number("must be a number"), v.safeInteger("must be an integer (ms)"), v.minValue(0, "must be >= 0")),
  /** The agent's report interval, ms; the report counts for 3 intervals on the receiver's clock. */
  interval: v.pipe(v.number("must be an integer (ms)"), v.safeInteger("must be an integer (ms)"), v.minValue(100, "must be 100-600000 ms"), v.maxValue(600_000, "must be 100-600000 ms")),
  health: v.picklist(["up", "down", "fail", "stopped"], "must be up, down, fail or stopped"),
  admin: v.picklist(["ready", "drain", "maint"], "must be ready, drain or maint"),
  weightPct: num(0, 100, "0-100"),
  reason: v.optional(v.pipe(v.string("must be a string"), v.maxLength(200, "must be at most 200 characters"))),
  readings: v.strictObject({
    /** 1-minute load average divided by the number of CPUs. */
    loadPerCpu: reading(0, 10_000, ">= 0"),
    cpus: v.nullable(v.pipe(v.number("must be an integer"), v.integer("must be an integer"), v.minValue(1, "must be >= 1"), v.maxValue(4096, "must be <= 4096"))),
    /** MemAvailable as a share of MemTotal, percent. */
    memAvailablePct: reading(0, 100, "0-100"),
    /** Pages swapped in per second. */
    swapInPerSec: reading(0, 1e12, ">= 0"),
    /** Pressure stall information, "some avg10" percent per resource. */
    psi: v.nullable(v.strictObject({ cpu: reading(0, 100, "0-100"), memory: reading(0, 100, "0-100"), io: reading(0, 100, "0-100") })),
    /** The app's own health URL: status (0 = no answer) and latency. */
    app: v.nullable(v.strictObject({ status: v.pipe(v.number("must be an integer"), v.integer("must be an integer"), v.minValue(0, "must be 0-599"), v.maxValue(599, "must be 0-599")), ms: num(0, 3_600_000, ">= 0") })),
  }),
});

export type AgentReport = v.InferOutput<typeof ReportSchema>;

/** Fields that may be null instead of an object. */
const NULLABLE_OBJECTS = new Set(["readings.psi", "readings.app"]);

type AnySchema = { type: string; entries?: Record<string, AnySchema>; wrapped?: AnySchema };

/** Every key of `value` that `schema` does not know, as a path (valibot names only the first per object). */
function unknownKeys(schema: AnySchema, value: unknown, path: string, out: string[]): void {
  if (schema.type === "nullable" || schema.type === "optional") return unknownKeys(schema.wrapped!, value, path, out);
  if (schema.type !== "strict_object" || typeof value !== "object" || value === null || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!Object.hasOwn(schema.entries!, key)) out.push(at);
    else unknownKeys(schema.entries![key], (value as Record<string, unknown>)[key], at, out);
  }
}

/** Parses a report body; every schema problem comes back as `path: message`, one per path. */
export function parseReport(json: unknown): { ok: true; report: AgentReport } | { ok: false; problems: string[] } {
  // valibot takes an array for an object (and would list every key as missing)
  if (Array.isArray(json)) return { ok: false, problems: ["(report): must be a JSON object"] };
  const r = v.safeParse(ReportSchema, json, { abortEarly: false });
  if (r.success) return { ok: true, report: r.output };
  const byPath = new Map<string, string>();
  for (const i of r.issues) {
    const path = (i.path ?? []).map((p) => String((p as { key: unknown }).key)).join(".");
    // unknown keys are listed below, all of them
    if (i.type === "strict_object" && i.expected === "never") continue;
    let msg = i.message;
    if (i.type === "strict_object") {
      // valibot's own words ("Invalid key: Expected \"pool\" but received undefined") say little to an operator
      if (i.expected === "Object") msg = NULLABLE_OBJECTS.has(path) ? "must be an object or null" : path ? "must be an object" : "must be a JSON object";
      else if (i.received === "undefined") msg = "is missing";
    }
    // the first problem of a value is the one to fix (-Infinity is not finite, and then also not >= 0)
    const at = path || "(report)";
    if (!byPath.has(at)) byPath.set(at, msg);
  }
  const unknown: string[] = [];
  unknownKeys(ReportSchema as unknown as AnySchema, json, "", unknown);
  for (const at of unknown) byPath.set(at, "is not a known key");
  return { ok: false, problems: [...byPath].map(([path, msg]) => `${path}: ${msg}`) };
}

/** How long a report counts, on the receiver's clock: 3 agent intervals. */
export function reportTtl(r: AgentReport): number {
  return 3 * r.interval;
}
