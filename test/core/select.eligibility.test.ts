import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import type { PoolConfig } from "../../core/config/schema.ts";
import { initialHealth, type AgentView, type OriginHealth, type PoolHealth } from "../../core/health/state.ts";
import {
  computeWeights,
  FULL,
  LeastOutstanding,
  NONE,
  pickOrigin,
  PowerOfTwoChoices,
  SmoothWeightedRoundRobin,
  type Policy,
  type WeightsView,
} from "../../core/select/index.ts";
import { seeded } from "../support/seeded.ts";


const NOW = 1_000_000;

type OriginSpec = { name: string; weight?: number; backup?: boolean; maxconn?: number };

/** A pool config through the real parser (so defaults are the real ones). */
function poolConfig(origins: OriginSpec[], extra: Record<string, unknown> = {}): PoolConfig {
  const r = parseConfig({
    listen: { port: 8080 },
    pools: { p: { origins: origins.map((o, i) => ({ url: `http://127.0.0.1:${9100 + i}`, ...o })), ...extra } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.pools.p;
}

/** Health from initialHealth, with per-origin changes as plain object spreads. */
function health(cfg: PoolConfig, patches: Record<number, Partial<OriginHealth>> = {}): PoolHealth {
  const h = initialHealth(cfg);
  return { version: h.version, origins: h.origins.map((o, i) => ({ ...o, ...patches[i] })) };
}

// the ways an origin can be out, as patches
const down: Partial<OriginHealth> = { up: false, counter: 0 };
const drain: Partial<OriginHealth> = { admin: "drain" };
const maint: Partial<OriginHealth> = { admin: "maint" };
const weight0: Partial<OriginHealth> = { weight: 0 };
/** Passively ejected until NOW + 5 s. */
const ejected: Partial<OriginHealth> = { ejectedAt: NOW - 1000, ejectedUntil: NOW + 5000, ejections: 1, ejectionsTotal: 1, ejectNeedsCheck: true };
const agent = (a: Partial<AgentView>): Partial<OriginHealth> => ({ agent: { health: "up", admin: "ready", weightPct: 100, at: NOW - 1000, ttl: 10_000, ...a } });

const arr = (a: Float64Array) => Array.from(a);

describe("computeWeights", () => {
  const cfg = poolConfig([
    { name: "a", weight: 3 },
    { name: "b", weight: 1 },
    { name: "bk", weight: 2, backup: true },
  ]);

  it("everything up: primaries and backups in their tiers, no fail-open, valid for ever", () => {
    const v = computeWeights(health(cfg), NOW, 0);
    expect({ ...v, primary: arr(v.primary), backup: arr(v.backup), failOpen: arr(v.failOpen) }).toEqual({
      version: 1,
      primary: [3, 1, 0],
      backup: [0, 0, 2],
      failOpen: [0, 0, 0],
      hasPrimary: true,
      hasBackup: true,
      hasFailOpen: false,
      validUntil: Infinity,
    });
  });

  it.each<[string, Partial<OriginHealth>, { primary: number[]; failOpen: number[]; hasPrimary: boolean; hasFailOpen: boolean }]>([
    ["down by checks", down, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["drain", drain, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["maint", maint, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["weight 0 (admin)", weight0, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["agent says down", agent({ health: "down" }), { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["agent says drain", agent({ admin: "drain" }), { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["agent says maint", agent({ admin: "maint" }), { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["agent weight 0 %", agent({ weightPct: 0 }), { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["agent weight 50 %", agent({ weightPct: 50 }), { primary: [1.5, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["agent report expired: ignored", agent({ health: "down", at: NOW - 20_000 }), { primary: [3, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["ejected: fail-open tier only", ejected, { primary: [0, 1, 0], failOpen: [3, 0, 0], hasPrimary: true, hasFailOpen: true }],
    ["ejection time over but no check since: still fail-open", { ...ejected, ejectedUntil: NOW - 1 }, { primary: [0, 1, 0], failOpen: [3, 0, 0], hasPrimary: true, hasFailOpen: true }],
    ["ejection time over and a check passed: back", { ...ejected, ejectedUntil: NOW - 1, ejectNeedsCheck: false }, { primary: [3, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["ejected and down by checks: in no tier", { ...ejected, ...down }, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["ejected and drained: in no tier", { ...ejected, ...drain }, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
    ["ejected with weight 0: in no tier", { ...ejected, ...weight0 }, { primary: [0, 1, 0], failOpen: [0, 0, 0], hasPrimary: true, hasFailOpen: false }],
  ])("origin a %s", (_, patch, want) => {
    const v = computeWeights(health(cfg, { 0: patch }), NOW, 0);
    expect({ primary: arr(v.primary), failOpen: arr(v.failOpen), hasPrimary: v.hasPrimary, hasFailOpen: v.hasFailOpen }).toEqual(want);
    expect(arr(v.backup)).toEqual([0, 0, 2]);
  });

  it("no primary left: hasPrimary false; a down backup: hasBackup false", () => {
    const v = computeWeights(health(cfg, { 0: down, 1: maint, 2: down }), NOW, 0);
    expect([v.hasPrimary, v.hasBackup, v.hasFailOpen]).toEqual([false, false, false]);
    expect([arr(v.primary), arr(v.backup), arr(v.failOpen)]).toEqual([[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
  });

  it("an ejected backup goes to the fail-open tier like a primary", () => {
    const v = computeWeights(health(cfg, { 2: ejected }), NOW, 0);
    expect([arr(v.backup), arr(v.failOpen), v.hasBackup, v.hasFailOpen]).toEqual([[0, 0, 0], [0, 0, 2], false, true]);
  });

  it("keeps the health version", () => {
    expect(computeWeights({ ...health(cfg), version: 42 }, NOW, 0).version).toBe(42);
  });

  describe("validUntil: the first time the view changes by itself", () => {
    it.each<[string, Record<number, Partial<OriginHealth>>, number, number]>([
      // what, patches, slowStart ms -> validUntil
      ["nothing time-bound", {}, 0, Infinity],
      ["an ejection ends", { 0: ejected }, 0, NOW + 5000],
      ["the earliest of two ejections", { 0: ejected, 1: { ...ejected, ejectedUntil: NOW + 700 } }, 0, NOW + 700],
      ["an ejection already over (waiting for a check) sets nothing", { 0: { ...ejected, ejectedUntil: NOW - 1 } }, 0, Infinity],
      // fresh while now <= at + ttl: stops counting at at + ttl + 1
      ["an agent report expires", { 1: agent({ at: NOW - 1000, ttl: 10_000 }) }, 0, NOW + 9001],
      ["an agent report expiring at the next ms", { 1: agent({ at: NOW - 10_000, ttl: 10_000 }) }, 0, NOW + 1],
      ["an expired agent report changes nothing any more", { 1: agent({ at: NOW - 20_000, ttl: 10_000 }) }, 0, Infinity],
      ["slow start ramping: the next 250 ms step", { 0: { upSince: NOW - 1000 } }, 60_000, NOW + 250],
      ["slow start ending before the next step: its end", { 0: { upSince: NOW - 59_900 } }, 60_000, NOW + 100],
      ["slow start over", { 0: { upSince: NOW - 60_000 } }, 60_000, Infinity],
      ["slow start off", { 0: { upSince: NOW - 1000 } }, 0, Infinity],
      ["the earliest of all", { 0: ejected, 1: agent({ at: NOW, ttl: 100 }), 2: { upSince: NOW - 1000 } }, 60_000, NOW + 101],
    ])("%s", (_, patches, slowStart, want) => {
      expect(computeWeights(health(cfg, patches), NOW, slowStart).validUntil).toBe(want);
    });
  });

  it("slow start ramps the weight from 5 % to 100 %", () => {
    const at = (sinceMs: number) => computeWeights(health(cfg, { 0: { upSince: NOW - sinceMs } }), NOW, 10_000).primary[0];
    const got = [at(0), at(100), at(2500), at(5000), at(9999), at(10_000)];
    [0.15, 0.15, 0.75, 1.5, 2.9997, 3].forEach((w, i) => expect(got[i]).toBeCloseTo(w, 9));
  });
});

/** The three policies, fresh each time; the tables below hold for all of them. */
const policies: [string, () => Policy][] = [
  ["roundrobin", () => new SmoothWeightedRoundRobin(4)],
  ["leastconn", () => new LeastOutstanding()],
  ["random", () => new PowerOfTwoChoices(seeded(7))],
];

interface Case {
  what: string;
  origins: OriginSpec[];
  patches?: Record<number, Partial<OriginHealth>>;
  inflight?: number[];
  exclude?: number[];
  /** The distinct results of 40 picks (an index, NONE or FULL), sorted. */
  want: number[];
}

const two = [{ name: "a" }, { name: "b" }];
const withBackup = [{ name: "a" }, { name: "b" }, { name: "bk", backup: true }];

const cases: Case[] = [
  { what: "all up: both primaries", origins: two, want: [0, 1] },
  { what: "backup idle while a primary is eligible", origins: withBackup, want: [0, 1] },
  { what: "backup idle while one primary of two is eligible", origins: withBackup, patches: { 0: down }, want: [1] },
  { what: "backup used when no primary is eligible", origins: withBackup, patches: { 0: down, 1: maint }, want: [2] },
  { what: "backup used when every primary has weight 0", origins: withBackup, patches: { 0: weight0, 1: weight0 }, want: [2] },
  { what: "weight 0 takes no new requests", origins: [{ name: "a", weight: 0 }, { name: "b" }], want: [1] },
  { what: "every origin weight 0: none", origins: [{ name: "a", weight: 0 }, { name: "b", weight: 0 }], want: [NONE] },
  { what: "drain excluded", origins: two, patches: { 1: drain }, want: [0] },
  { what: "maint excluded", origins: two, patches: { 0: maint }, want: [1] },
  { what: "drain and maint: none", origins: two, patches: { 0: drain, 1: maint }, want: [NONE] },
  { what: "down by checks excluded", origins: two, patches: { 0: down }, want: [1] },
  { what: "all down by checks: none (503 at once)", origins: two, patches: { 0: down, 1: down }, want: [NONE] },
  { what: "all down by checks, backup too: none", origins: withBackup, patches: { 0: down, 1: down, 2: down }, want: [NONE] },
  { what: "ejected excluded while another primary is eligible", origins: two, patches: { 0: ejected }, want: [1] },
  { what: "ejected primaries, backup up: the backup, not fail-open", origins: withBackup, patches: { 0: ejected, 1: ejected }, want: [2] },
  { what: "all ejected: fail open to them", origins: two, patches: { 0: ejected, 1: ejected }, want: [0, 1] },
  { what: "all out, one only by ejection: fail open to it", origins: withBackup, patches: { 0: down, 1: ejected, 2: maint }, want: [1] },
  { what: "agent down excluded, not fail-open", origins: two, patches: { 0: agent({ health: "down" }), 1: ejected }, want: [1] },
  // maxconn (0 = no limit)
  { what: "maxconn: the one with a free slot", origins: [{ name: "a", maxconn: 2 }, { name: "b", maxconn: 2 }], inflight: [2, 1], want: [1] },
  { what: "maxconn: every candidate full -> FULL", origins: [{ name: "a", maxconn: 2 }, { name: "b", maxconn: 1 }], inflight: [2, 1], want: [FULL] },
  { what: "maxconn 0 is no limit", origins: [{ name: "a", maxconn: 0 }, { name: "b", maxconn: 1 }], inflight: [500, 1], want: [0] },
  { what: "maxconn: a full primary tier waits (FULL), it does not spill to the backup", origins: [{ name: "a", maxconn: 1 }, { name: "bk", backup: true }], inflight: [1, 0], want: [FULL] },
  { what: "maxconn in the backup tier", origins: [{ name: "a" }, { name: "bk1", backup: true, maxconn: 1 }, { name: "bk2", backup: true, maxconn: 1 }], patches: { 0: down }, inflight: [0, 1, 0], want: [2] },
  { what: "maxconn in the fail-open tier", origins: [{ name: "a", maxconn: 1 }, { name: "b", maxconn: 1 }], patches: { 0: ejected, 1: ejected }, inflight: [1, 1], want: [FULL] },
  { what: "a full origin that is out is not waited for", origins: [{ name: "a", maxconn: 1 }, { name: "b" }], patches: { 0: down }, inflight: [1, 0], want: [1] },
  // exclude (origins this request tried already), across tiers
  { what: "exclude: the other primary", origins: withBackup, exclude: [0], want: [1] },
  { what: "exclude: a primary that failed -> backup", origins: withBackup, patches: { 1: down }, exclude: [0], want: [2] },
  { what: "exclude: every primary -> backup", origins: withBackup, exclude: [0, 1], want: [2] },
  { what: "exclude: everything -> none", origins: withBackup, exclude: [0, 1, 2], want: [NONE] },
  // fail-open is for first tries only: a retry never goes to an origin out by passive ejection (G8)
  { what: "exclude: the only eligible one -> none (no retry into fail-open)", origins: two, patches: { 1: ejected }, exclude: [0], want: [NONE] },
  { what: "first try, every origin ejected -> fail-open", origins: two, patches: { 0: ejected, 1: ejected }, want: [0, 1] },
  { what: "retry, every origin ejected -> none", origins: two, patches: { 0: ejected, 1: ejected }, exclude: [1], want: [NONE] },
  { what: "exclude: the free one; the rest full -> FULL", origins: [{ name: "a", maxconn: 1 }, { name: "b", maxconn: 1 }], inflight: [0, 1], exclude: [0], want: [FULL] },
];

describe.each(policies)("pickOrigin with %s", (_, make) => {
  it.each(cases)("$what", (c) => {
    const cfg = poolConfig(c.origins);
    const view = computeWeights(health(cfg, c.patches), NOW, 0);
    const inflight = c.inflight ?? new Array<number>(c.origins.length).fill(0);
    const maxconn = cfg.origins.map((o) => o.maxconn);
    const policy = make();
    const got = new Set<number>();
    for (let k = 0; k < 40; k++) got.add(pickOrigin(policy, view, inflight, maxconn, c.exclude ?? []));
    expect([...got].sort((a, b) => a - b)).toEqual(c.want);
  });
});

describe("pickOrigin: sequences", () => {
  const view = (origins: OriginSpec[], patches: Record<number, Partial<OriginHealth>> = {}): [PoolConfig, WeightsView] => {
    const cfg = poolConfig(origins);
    return [cfg, computeWeights(health(cfg, patches), NOW, 0)];
  };

  it("round-robin by weight across the primaries", () => {
    const [cfg, v] = view([{ name: "a", weight: 5 }, { name: "b" }, { name: "c" }, { name: "bk", backup: true }]);
    const p = new SmoothWeightedRoundRobin(4);
    const picks = Array.from({ length: 14 }, () => pickOrigin(p, v, [0, 0, 0, 0], cfg.origins.map((o) => o.maxconn), []));
    expect(picks).toEqual([0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
  });

  it("a full origin is passed over for the next in turn, and gets its turn when a slot frees", () => {
    const [cfg, v] = view([{ name: "a", maxconn: 1 }, { name: "b" }, { name: "c" }]);
    const maxconn = cfg.origins.map((o) => o.maxconn);
    const p = new SmoothWeightedRoundRobin(3);
    const inflight = [1, 0, 0];
    const busy = Array.from({ length: 4 }, () => pickOrigin(p, v, inflight, maxconn, []));
    expect(busy).toEqual([1, 2, 1, 2]);
    inflight[0] = 0;
    expect(pickOrigin(p, v, inflight, maxconn, [])).toBe(0);
  });

  it("fail-open ends as soon as one origin is eligible again", () => {
    const cfg = poolConfig(two);
    const p = new SmoothWeightedRoundRobin(2);
    const pick = (h: PoolHealth) => pickOrigin(p, computeWeights(h, NOW, 0), [0, 0], [0, 0], []);
    expect(pick(health(cfg, { 0: ejected, 1: ejected }))).toBe(0);
    expect([pick(health(cfg, { 0: ejected })), pick(health(cfg, { 0: ejected })), pick(health(cfg, { 0: ejected }))]).toEqual([1, 1, 1]);
  });

  it("an ejection that ran out (and a check passed since) is eligible again, by the view's time", () => {
    const cfg = poolConfig(two);
    const h = health(cfg, { 0: { ...ejected, ejectNeedsCheck: false } });
    const before = computeWeights(h, NOW, 0);
    expect(before.validUntil).toBe(NOW + 5000);
    const after = computeWeights(h, before.validUntil, 0);
    const p = new LeastOutstanding();
    expect([0, 1, 2, 3].map(() => pickOrigin(p, before, [0, 0], [0, 0], []))).toEqual([1, 1, 1, 1]);
    expect(new Set([0, 1, 2, 3].map(() => pickOrigin(p, after, [0, 0], [0, 0], [])))).toEqual(new Set([0, 1]));
  });
});
