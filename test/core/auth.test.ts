import { describe, expect, it } from "vitest";
import { authorized, isLoopback, timingSafeEqual, type SecretLookup } from "../../core/auth/index.ts";
import { parseConfig } from "../../core/config/parse.ts";
import type { AuthConfig } from "../../core/config/schema.ts";

/** An AuthConfig from a small JSON object, through the real parser. */
function authCfg(auth: Record<string, unknown>): AuthConfig {
  const r = parseConfig({ listen: { port: 8080 }, pools: { web: { origins: [{ name: "a", url: "http://10.0.0.1" }] } }, stats: { auth } });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.stats.auth!;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const env: Record<string, string> = { OPS_PW: "s3cret", OLA_PW: "blåbær", EDGELB_TOKEN: "tok-123", EMPTY: "" };
const lookup: SecretLookup = (name) => env[name];

describe("timingSafeEqual", () => {
  it.each([
    ["abc", "abc", true],
    ["", "", true],
    ["blåbær", "blåbær", true],
    ["abc", "abd", false],
    ["abc", "Abc", false],
    ["abc", "ab", false],
    ["ab", "abc", false],
    ["a", "", false],
    ["", "a", false],
    ["abcabc", "abc", false],
    ["å", "a\u030a", false],
    ["\u0000", "", false],
  ])("%j vs %j -> %s", (a, b, want) => {
    expect(timingSafeEqual(a, b)).toBe(want);
    expect(timingSafeEqual(b, a)).toBe(want);
  });
});

describe("authorized", () => {
  const both = authCfg({ basic: [{ user: "ops", passwordEnv: "OPS_PW" }, { user: "ola", passwordEnv: "OLA_PW" }], bearerEnv: "EDGELB_TOKEN" });

  it.each([
    // Basic
    [`Basic ${b64("ops:s3cret")}`, true],
    [`basic ${b64("ops:s3cret")}`, true],
    [`BASIC  ${b64("ops:s3cret")} `, true],
    [`Basic ${b64("ola:blåbær")}`, true],
    [`Basic ${b64("ops:wrong")}`, false],
    [`Basic ${b64("ops:S3cret")}`, false],
    [`Basic ${b64("Ops:s3cret")}`, false],
    [`Basic ${b64("ola:s3cret")}`, false],
    [`Basic ${b64("ops:blåbær")}`, false],
    [`Basic ${b64("nobody:s3cret")}`, false],
    [`Basic ${b64("ops:s3cret:")}`, false],
    [`Basic ${b64("ops:")}`, false],
    [`Basic ${b64(":s3cret")}`, false],
    [`Basic ${b64("ops")}`, false],
    [`Basic ${Buffer.from([0x6f, 0x70, 0x73, 0x3a, 0xff, 0xfe]).toString("base64")}`, false],
    ["Basic !!!not-base64", false],
    ["Basic", false],
    ["Basic ", false],
    // Bearer
    ["Bearer tok-123", true],
    ["bearer tok-123", true],
    ["Bearer  tok-123 ", true],
    ["Bearer tok-12", false],
    ["Bearer tok-1234", false],
    ["Bearer TOK-123", false],
    ["Bearer", false],
    ["Bearer ", false],
    // other schemes and garbage
    ["Token tok-123", false],
    ["tok-123", false],
    [`Digest ${b64("ops:s3cret")}`, false],
    ["", false],
  ])("%j -> %s", (header, want) => {
    expect(authorized(header, both, lookup)).toBe(want);
  });

  it.each([[undefined], [null]])("%s header -> false", (h) => {
    expect(authorized(h, both, lookup)).toBe(false);
  });

  it("a secret missing from the environment never matches", () => {
    const none: SecretLookup = () => undefined;
    expect(authorized(`Basic ${b64("ops:")}`, both, none)).toBe(false);
    expect(authorized(`Basic ${b64("ops:undefined")}`, both, none)).toBe(false);
    expect(authorized("Bearer ", both, none)).toBe(false);
    expect(authorized("Bearer undefined", both, none)).toBe(false);
  });

  it("an empty secret never matches an empty credential", () => {
    const empty = authCfg({ basic: [{ user: "ops", passwordEnv: "EMPTY" }], bearerEnv: "EMPTY" });
    expect(authorized(`Basic ${b64("ops:")}`, empty, lookup)).toBe(false);
    expect(authorized("Bearer ", empty, lookup)).toBe(false);
    expect(authorized("Bearer  ", empty, lookup)).toBe(false);
  });

  it("only the configured schemes count", () => {
    const basicOnly = authCfg({ basic: [{ user: "ops", passwordEnv: "OPS_PW" }] });
    const bearerOnly = authCfg({ bearerEnv: "EDGELB_TOKEN" });
    expect(authorized("Bearer tok-123", basicOnly, lookup)).toBe(false);
    expect(authorized(`Basic ${b64("ops:s3cret")}`, basicOnly, lookup)).toBe(true);
    expect(authorized(`Basic ${b64("ops:s3cret")}`, bearerOnly, lookup)).toBe(false);
    expect(authorized("Bearer tok-123", bearerOnly, lookup)).toBe(true);
    expect(authorized("Bearer tok-123", authCfg({}), lookup)).toBe(false);
  });

  it("looks secrets up by name, every Basic user each time (no early exit)", () => {
    const asked: string[] = [];
    const spy: SecretLookup = (n) => (asked.push(n), env[n]);
    expect(authorized(`Basic ${b64("ops:s3cret")}`, both, spy)).toBe(true);
    expect(asked).toEqual(["OPS_PW", "OLA_PW"]);
    asked.length = 0;
    expect(authorized("Bearer tok-123", both, spy)).toBe(true);
    expect(asked).toEqual(["EDGELB_TOKEN"]);
  });
});

describe("isLoopback", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["::ffff:127.0.0.1", true],
    ["10.0.0.1", false],
    ["128.0.0.1", false],
    ["1127.0.0.1", false],
    ["::ffff:10.0.0.1", false],
    ["::", false],
    ["::11", false],
    ["", false],
  ])("%j -> %s", (peer, want) => {
    expect(isLoopback(peer)).toBe(want);
  });
});
