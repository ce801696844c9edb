import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importHaproxy } from "../../core/config/haproxy.ts";
import { configJsonSchema, objectDocs } from "../../core/config/json-schema.ts";
import { parseConfig } from "../../core/config/parse.ts";
import { renderConfigJsonSchema } from "../../node/gen-schema.ts";
import { SCHEMA_FILE } from "../../node/import-haproxy.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const committed = readFileSync(SCHEMA_FILE, "utf8");
const schema = JSON.parse(committed) as Schema;

type Schema = Record<string, any>;

/**
 * A validator for the JSON Schema keywords the generated schema uses. Any other keyword is an
 * error, so the schema cannot grow a rule this test would silently skip.
 */
function validate(s: Schema, v: unknown, path = "(root)"): string[] {
  const errs: string[] = [];
  const known = new Set([
    "$schema", "title", "description", "default", "type", "enum", "pattern", "minimum", "maximum", "minLength",
    "minItems", "maxItems", "items", "properties", "required", "additionalProperties", "propertyNames", "minProperties", "anyOf",
  ]);
  for (const k of Object.keys(s)) if (!known.has(k)) throw new Error(`${path}: keyword ${k} is not checked by this validator`);
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  const typeOk: Record<string, (x: unknown) => boolean> = {
    object: isObj,
    array: Array.isArray,
    string: (x) => typeof x === "string",
    integer: Number.isInteger,
    number: (x) => typeof x === "number",
    boolean: (x) => typeof x === "boolean",
  };
  if (s.type && !typeOk[s.type](v)) return [`${path}: must be ${s.type}`];
  if (s.anyOf) {
    const each = (s.anyOf as Schema[]).map((o) => validate(o, v, path));
    if (each.every((e) => e.length)) errs.push(`${path}: matches none of its forms (${each.map((e) => e[0]).join("; ")})`);
  }
  if (s.enum && !s.enum.includes(v)) errs.push(`${path}: must be one of ${s.enum.join(", ")}`);
  if (typeof v === "string") {
    if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(v)) errs.push(`${path}: must match ${s.pattern}`);
    if (s.minLength !== undefined && v.length < s.minLength) errs.push(`${path}: too short`);
  }
  if (typeof v === "number") {
    if (s.minimum !== undefined && v < s.minimum) errs.push(`${path}: below ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errs.push(`${path}: above ${s.maximum}`);
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) errs.push(`${path}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && v.length > s.maxItems) errs.push(`${path}: more than ${s.maxItems} items`);
    if (s.items) v.forEach((x, i) => errs.push(...validate(s.items, x, `${path}[${i}]`)));
  }
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (s.minProperties !== undefined && keys.length < s.minProperties) errs.push(`${path}: fewer than ${s.minProperties} keys`);
    for (const r of s.required ?? []) if (!(r in v)) errs.push(`${path}.${r}: is required`);
    for (const k of keys) {
      if (s.propertyNames) errs.push(...validate(s.propertyNames, k, `${path} key ${JSON.stringify(k)}`));
      if (s.properties && Object.hasOwn(s.properties, k)) errs.push(...validate(s.properties[k], v[k], `${path}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${path}.${k}: is not allowed`);
      else if (isObj(s.additionalProperties)) errs.push(...validate(s.additionalProperties, v[k], `${path}.${k}`));
    }
  }
  return errs;
}

/** Every example config in the repository: edgelb.json and deploy/examples/*.json. */
function examples(): { file: string; json: Record<string, unknown> }[] {
  const files = [join(ROOT, "edgelb.json"), ...readdirSync(join(ROOT, "deploy/examples")).filter((f) => f.endsWith(".json")).map((f) => join(ROOT, "deploy/examples", f))];
  return files.map((file) => ({ file, json: JSON.parse(readFileSync(file, "utf8")) }));
}

describe("schema/edgelb.schema.json", () => {
  it("is what core/config/json-schema.ts generates now from core/config/schema.ts (run `npm run schema` after changing the schema)", () => {
    expect(committed).toBe(renderConfigJsonSchema());
  });

  it("is draft-07, closed like the config (unknown keys are errors), with defaults and descriptions", () => {
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(["listen", "pools"]);
    const pool = schema.properties.pools.additionalProperties;
    expect(pool.additionalProperties).toBe(false);
    expect(pool.properties.balance.enum).toEqual(["roundrobin", "leastconn", "random", "source"]);
    expect(pool.properties.retries).toMatchObject({ type: "integer", minimum: 0, maximum: 10, default: 3 });
    expect(pool.properties.check.properties.interval).toMatchObject({ type: "string", default: "2s", description: expect.stringMatching(/HAProxy `inter`/) });
    expect(pool.properties.origins.items.properties.weight.description).toMatch(/0-256/);
    expect(pool.properties.passive.properties.enabled.description).toMatch(/Passive ejection/);
    expect(pool.properties.check.properties.enabled.description).toMatch(/Active health checks/);
    // stats and admin are both { auth }, commented in stats only: no guess for either
    expect(schema.properties.stats.properties.auth.description).toBeUndefined();
    expect(schema.properties.admin.properties.auth.description).toBeUndefined();
    expect(schema.properties.$schema.type).toBe("string");
  });

  it("every example names it in $schema by a path that resolves, and passes it and parseConfig", () => {
    const list = examples();
    expect(list.map((e) => e.file.slice(ROOT.length)).sort()).toEqual(["deploy/examples/webfarm.edgelb.json", "edgelb.json"]);
    for (const { file, json } of list) {
      expect(typeof json.$schema).toBe("string");
      expect(resolve(dirname(file), json.$schema as string)).toBe(SCHEMA_FILE);
      expect(validate(schema, json)).toEqual([]);
      expect(parseConfig(json).ok).toBe(true);
    }
  });

  it("rejects what edgelb check rejects in structure: unknown keys, wrong types, bad durations, URLs, ranges", () => {
    const base = () => JSON.parse(readFileSync(join(ROOT, "edgelb.json"), "utf8"));
    const cases: [(c: any) => void, RegExp][] = [
      [(c) => (c.pools.webfarm.balence = "leastconn"), /webfarm\.balence: is not allowed/],
      [(c) => (c.pools.webfarm.origins[0].weight = 1000), /weight: above 256/],
      [(c) => (c.pools.webfarm.check = { interval: "2 seconds" }), /interval: must match/],
      [(c) => (c.pools.webfarm.origins[1].url = "http://10.0.0.1/app"), /url: must match/],
      [(c) => (c.pools.webfarm.check = { expect: "ok" }), /expect: must match/],
      [(c) => (c.pools = {}), /fewer than 1 keys/],
      [(c) => (c.pools["web farm"] = c.pools.webfarm), /key "web farm": must match/],
      [(c) => delete c.listen, /listen: is required/],
      [(c) => (c.listen.port = "80"), /port: must be integer/],
    ];
    for (const [edit, re] of cases) {
      const c = base();
      edit(c);
      expect(validate(schema, c).join("\n")).toMatch(re);
      expect(parseConfig(c).ok).toBe(false);
    }
  });

  it("accepts richer imports that parseConfig accepts", () => {
    const { config } = importHaproxy(
      [
        "frontend f", "  bind :8080", "  acl a hdr(host) -i a.example", "  use_backend b if a", "  default_backend c",
        "  stats auth admin:x", "  timeout http-request 5s",
        "backend b", "  balance leastconn", "  option httpchk GET /hc", "  http-check expect status 204",
        "  server b1 10.0.0.1:80 check inter 3s weight 5 maxconn 10 slowstart 10s", "  server b2 10.0.0.2:80 check backup",
        "backend c", "  server c1 [2001:db8::1]:443 ssl",
      ].join("\n"),
    );
    expect(parseConfig(config).ok).toBe(true);
    expect(validate(schema, config)).toEqual([]);
  });
});

describe("descriptions from the doc comments of schema.ts", () => {
  it("reads each strictObject's keys and the comment before each", () => {
    const docs = objectDocs(`
      const re = /[{}]/; // a regex with braces
      const a = v.strictObject({
        /** The first. */
        one: v.optional(v.string("a } in a string"), "x"),
        two,
        /**
         * The third,
         * on two lines.
         */
        three: v.strictObject({ /** Nested. */ inner: x }),
      });`);
    expect(docs).toEqual([
      { keys: ["one", "two", "three"], docs: { one: "The first.", three: "The third, on two lines." } },
      { keys: ["inner"], docs: { inner: "Nested." } },
    ]);
  });

  it("the schema without the source has no property descriptions, with it many", () => {
    const count = (s: unknown): number =>
      typeof s === "object" && s !== null ? Object.entries(s).reduce((n, [k, v]) => n + (k === "description" && typeof v === "string" ? 1 : 0) + count(v), 0) : 0;
    expect(count(configJsonSchema())).toBe(2); // the root's and $schema's
    expect(count(schema)).toBeGreaterThan(40);
  });
});
