import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import type { PoolConfig } from "../../core/config/schema.ts";
import {
  carryOver,
  effectiveWeight,
  freshAgent,
  initialHealth,
  isEjected,
  reduce,
  unavailable,
  type AgentView,
  type HealthEvent,
  type OutcomeKind,
  type PoolHealth,
} from "../../core/health/state.ts";
import { HealthStore, type HealthChange } from "../../core/health/store.ts";

/** A pool config from a small JSON object, through the real parser (defaults included). */
function poolCfg(extra: Record<string, unknown> = {}, origins: Record<string, unknown>[] = [{ name: "a" }, { name: "b" }]): PoolConfig {
  const r = parseConfig({
    listen: { port: 8080 },
    pools: { web: { origins: origins.map((o, i) => ({ url: `http://10.0.0.${i + 1}:80`, ...o })), ...extra } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.pools.web;
}

const rand0 = () => 0;
const T0 = 1_000_000;

/** Applies events one after another. */
function run(cfg: PoolConfig, s: PoolHealth, evs: HealthEvent[], rand = rand0): PoolHealth {
  for (const ev of evs) s = reduce(s, ev, cfg, rand);
  return s;
}
const chk = (ok: boolean, at: number, origin = 0, startedAt = at): HealthEvent => ({ type: "check", origin, ok, at, startedAt, ms: 3, detail: ok ? "HTTP 200" : "HTTP 500" });
const out = (kind: OutcomeKind, at: number, origin = 0): HealthEvent => ({ type: "outcome", origin, kind, at });
const agentEv = (at: number, a: Partial<AgentView>, origin = 0): HealthEvent => ({
  type: "agent",
  origin,
  at,
  agent: { health: "up", admin: "ready", weightPct: 100, at, ttl: 10_000, ...a },
});
const repeat = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

describe("initial state", () => {
  it("starts every origin up with counter = rise, nothing counted", () => {
    const cfg = poolCfg({ check: { rise: 3, fall: 4 } }, [{ name: "a", weight: 7 }, { name: "b", backup: true }]);
    const s = initialHealth(cfg);
    expect(s.version).toBe(1);
    expect(s.origins.map((o) => [o.name, o.weight, o.backup, o.up, o.counter, o.transitions, o.changedAt, o.upSince])).toEqual([
      ["a", 7, false, true, 3, 0, 0, 0],
      ["b", 1, true, true, 3, 0, 0, 0],
    ]);
    expect(s.origins[0]).toMatchObject({ admin: "ready", agent: null, lastCheck: null, ejectedUntil: 0, ejections: 0, consecutive5xx: 0 });
  });
});

describe("active checks: HAProxy's saturating rise/fall counter", () => {
  const pairs: [rise: number, fall: number][] = [[2, 3], [1, 1], [3, 2], [1, 4], [5, 5]];

  it.each(pairs)("rise %i fall %i: one failure at startup takes it down", (rise, fall) => {
    const cfg = poolCfg({ check: { rise, fall } });
    const s = run(cfg, initialHealth(cfg), [chk(false, T0)]);
    expect(s.origins[0]).toMatchObject({ up: false, counter: 0, transitions: 1, changedAt: T0 });
    expect(s.origins[1]).toEqual(initialHealth(cfg).origins[1]);
    expect(unavailable(s.origins[0], T0)).toBe("down");
  });

  it.each(pairs)("rise %i fall %i: fully up takes exactly `fall` failures to go down, then `rise` successes to come back", (rise, fall) => {
    const cfg = poolCfg({ check: { rise, fall } });
    const max = rise + fall - 1;
    let s = run(cfg, initialHealth(cfg), [chk(true, T0)]);
    expect(s.origins[0]).toMatchObject({ up: true, counter: max, transitions: 0 });
    // fall - 1 failures: still up, counting down
    for (let k = 1; k < fall; k++) {
      s = run(cfg, s, [chk(false, T0 + k)]);
      expect(s.origins[0]).toMatchObject({ up: true, counter: max - k, transitions: 0, changedAt: 0 });
    }
    s = run(cfg, s, [chk(false, T0 + 100)]);
    expect(s.origins[0]).toMatchObject({ up: false, counter: 0, transitions: 1, changedAt: T0 + 100 });
    for (let k = 1; k < rise; k++) {
      s = run(cfg, s, [chk(true, T0 + 100 + k)]);
      expect(s.origins[0]).toMatchObject({ up: false, counter: k, transitions: 1, changedAt: T0 + 100 });
    }
    s = run(cfg, s, [chk(true, T0 + 200)]);
    expect(s.origins[0]).toMatchObject({ up: true, counter: max, transitions: 2, changedAt: T0 + 200, upSince: T0 + 200 });
  });

  it("one success while up restores the full counter: fall consecutive failures are needed again", () => {
    const cfg = poolCfg({ check: { rise: 2, fall: 3 } });
    let s = run(cfg, initialHealth(cfg), [chk(true, 1), chk(false, 2), chk(false, 3)]);
    expect(s.origins[0]).toMatchObject({ up: true, counter: 2 });
    s = run(cfg, s, [chk(true, 4)]);
    expect(s.origins[0]).toMatchObject({ up: true, counter: 4 });
    s = run(cfg, s, [chk(false, 5), chk(false, 6)]);
    expect(s.origins[0].up).toBe(true);
    s = run(cfg, s, [chk(false, 7)]);
    expect(s.origins[0]).toMatchObject({ up: false, counter: 0, changedAt: 7, transitions: 1 });
  });

  it("a failure while going up resets the counter to 0", () => {
    const cfg = poolCfg({ check: { rise: 3, fall: 2 } });
    let s = run(cfg, initialHealth(cfg), [chk(false, 1), chk(true, 2), chk(true, 3)]);
    expect(s.origins[0]).toMatchObject({ up: false, counter: 2 });
    s = run(cfg, s, [chk(false, 4)]);
    expect(s.origins[0]).toMatchObject({ up: false, counter: 0, transitions: 1, changedAt: 1 });
    s = run(cfg, s, [chk(true, 5), chk(true, 6)]);
    expect(s.origins[0]).toMatchObject({ up: false, counter: 2 });
    s = run(cfg, s, [chk(true, 7)]);
    expect(s.origins[0]).toMatchObject({ up: true, counter: 4, transitions: 2, changedAt: 7, upSince: 7 });
  });

  it("saturates: more successes keep the counter at rise+fall-1, more failures at 0", () => {
    const cfg = poolCfg({ check: { rise: 2, fall: 3 } });
    let s = run(cfg, initialHealth(cfg), repeat(10, (i) => chk(true, i + 1)));
    expect(s.origins[0]).toMatchObject({ up: true, counter: 4, transitions: 0 });
    s = run(cfg, s, repeat(10, (i) => chk(false, 100 + i)));
    expect(s.origins[0]).toMatchObject({ up: false, counter: 0, transitions: 1, changedAt: 102 });
  });

  it("records the last check", () => {
    const cfg = poolCfg();
    const s = run(cfg, initialHealth(cfg), [{ type: "check", origin: 1, ok: false, at: 50, startedAt: 40, ms: 10, detail: "ECONNREFUSED" }]);
    expect(s.origins[1].lastCheck).toEqual({ ok: false, at: 50, ms: 10, detail: "ECONNREFUSED" });
    expect(s.origins[0].lastCheck).toBeNull();
  });
});

describe("passive ejection", () => {
  const base = 5_000, max = 12_000;
  const cfg = poolCfg({ passive: { baseEjection: "5s", maxEjection: "12s", consecutive5xx: 3 } });
  const noChecks = poolCfg({ check: { enabled: false }, passive: { baseEjection: "5s", maxEjection: "12s", consecutive5xx: 3 } });

  it.each(["refused", "timeout", "reset"] as const)("%s ejects at once for baseEjection", (kind) => {
    const s = run(cfg, initialHealth(cfg), [out(kind, T0)]);
    expect(s.origins[0]).toMatchObject({ ejectedAt: T0, ejectedUntil: T0 + base, ejections: 1, ejectionsTotal: 1, ejectNeedsCheck: true, consecutive5xx: 0 });
    expect(s.version).toBe(2);
    expect(isEjected(s.origins[0], T0)).toBe(true);
    expect(unavailable(s.origins[0], T0)).toBe("ejected");
    expect(unavailable(s.origins[1], T0)).toBeNull();
  });

  it.each([
    [0, 5_000],
    [0.5, 5_250],
    [0.999, 5_500],
    [1, 5_500],
  ])("jitter: rand %f -> %i ms", (r, ms) => {
    const s = run(cfg, initialHealth(cfg), [out("refused", T0)], () => r);
    expect(s.origins[0].ejectedUntil - s.origins[0].ejectedAt).toBe(ms);
  });

  it("ejection time grows base x times ejected, capped at maxEjection (then jittered)", () => {
    let s = initialHealth(cfg);
    let t = T0;
    const got: number[] = [];
    for (let n = 0; n < 5; n++) {
      s = run(cfg, s, [out("refused", t)], () => 0.5);
      const o = s.origins[0];
      got.push(o.ejectedUntil - o.ejectedAt);
      expect(o.ejections).toBe(n + 1);
      // a check started after the ejection, then the time passes: back in service
      s = run(cfg, s, [chk(true, t + 10, 0, t + 1)]);
      t = o.ejectedUntil + 1;
      expect(unavailable(s.origins[0], t)).toBeNull();
    }
    expect(got).toEqual([5_250, 10_500, 12_600, 12_600, 12_600]);
    expect(s.origins[0].ejectionsTotal).toBe(5);
  });

  it("a second failure while ejected neither extends the ejection nor counts (same object)", () => {
    const s1 = run(cfg, initialHealth(cfg), [out("refused", T0)]);
    for (const kind of ["refused", "timeout"] as const) {
      expect(reduce(s1, out(kind, T0 + 4_000), cfg, rand0)).toBe(s1);
    }
    // still ejected after the time (no check yet): further failures add nothing either
    expect(reduce(s1, out("timeout", T0 + 60_000), cfg, rand0)).toBe(s1);
  });

  it("comes back only after the ejection time AND a passing check that started after the ejection", () => {
    let s = run(cfg, initialHealth(cfg), [out("refused", T0)]);
    const until = s.origins[0].ejectedUntil;
    // started before the ejection (in flight when it happened): proves nothing
    s = run(cfg, s, [chk(true, T0 + 100, 0, T0 - 1)]);
    expect(s.origins[0].ejectNeedsCheck).toBe(true);
    expect(unavailable(s.origins[0], until + 1)).toBe("ejected");
    // started after, but failing
    s = run(cfg, s, [chk(false, T0 + 200, 0, T0 + 150)]);
    expect(s.origins[0].ejectNeedsCheck).toBe(true);
    // started exactly at the ejection and passing: clears the need for a check...
    s = run(cfg, s, [chk(true, T0 + 300, 0, T0)]);
    expect(s.origins[0].ejectNeedsCheck).toBe(false);
    // ...but not the ejection time
    expect(unavailable(s.origins[0], until - 1)).toBe("ejected");
    expect(unavailable(s.origins[0], until)).toBeNull();
    expect(isEjected(s.origins[0], until)).toBe(false);
  });

  it("a passing check after the ejection time brings it back at once", () => {
    let s = run(cfg, initialHealth(cfg), [out("timeout", T0)]);
    const until = s.origins[0].ejectedUntil;
    expect(unavailable(s.origins[0], until + 30_000)).toBe("ejected");
    s = run(cfg, s, [chk(true, until + 30_000, 0, until + 29_990)]);
    expect(unavailable(s.origins[0], until + 30_000)).toBeNull();
  });

  it("with checks disabled it comes back when the time passes", () => {
    const s = run(noChecks, initialHealth(noChecks), [out("refused", T0)]);
    expect(s.origins[0]).toMatchObject({ ejectNeedsCheck: false, ejectedUntil: T0 + base });
    expect(unavailable(s.origins[0], T0 + base - 1)).toBe("ejected");
    expect(unavailable(s.origins[0], T0 + base)).toBeNull();
  });

  it("5xx ejects only after consecutive5xx in a row; a success resets the run", () => {
    let s = run(cfg, initialHealth(cfg), [out("5xx", 1), out("5xx", 2)]);
    expect(s.origins[0]).toMatchObject({ consecutive5xx: 2, ejectedUntil: 0 });
    expect(unavailable(s.origins[0], 2)).toBeNull();
    s = run(cfg, s, [out("success", 3)]);
    expect(s.origins[0]).toMatchObject({ consecutive5xx: 0, ejectedUntil: 0 });
    s = run(cfg, s, [out("5xx", 4), out("5xx", 5)]);
    expect(s.origins[0].ejectedUntil).toBe(0);
    s = run(cfg, s, [out("5xx", 6)]);
    expect(s.origins[0]).toMatchObject({ consecutive5xx: 0, ejectedAt: 6, ejectedUntil: 6 + base, ejections: 1 });
  });

  it("a reset in the middle of a 5xx run ejects at once and ends the run", () => {
    const s = run(cfg, initialHealth(cfg), [out("5xx", 1), out("reset", 2)]);
    expect(s.origins[0]).toMatchObject({ consecutive5xx: 0, ejectedAt: 2, ejections: 1 });
  });

  it("does nothing when passive ejection is disabled", () => {
    const off = poolCfg({ passive: { enabled: false } });
    const s0 = initialHealth(off);
    for (const kind of ["refused", "timeout", "reset", "5xx"] as const) expect(reduce(s0, out(kind, 1), off, rand0)).toBe(s0);
  });

  it("the multiplier starts over after a calm period longer than maxEjection", () => {
    let s = run(noChecks, initialHealth(noChecks), [out("refused", T0)]);
    s = run(noChecks, s, [out("refused", T0 + base + 1)]);
    expect(s.origins[0]).toMatchObject({ ejections: 2, ejectedUntil: T0 + base + 1 + 2 * base });
    const end = s.origins[0].ejectedUntil;
    // exactly maxEjection of calm is not enough
    const s2 = run(noChecks, s, [out("refused", end + max)]);
    expect(s2.origins[0]).toMatchObject({ ejections: 3, ejectedUntil: end + max + max });
    // longer is
    const s3 = run(noChecks, s, [out("refused", end + max + 1)]);
    expect(s3.origins[0]).toMatchObject({ ejections: 1, ejectionsTotal: 3, ejectedUntil: end + max + 1 + base });
  });
});

describe("admin and agent", () => {
  const cfg = poolCfg({}, [{ name: "a", weight: 10 }, { name: "b", weight: 10 }]);
  const s0 = initialHealth(cfg);

  it.each([
    [{ admin: "drain" as const }, "drain", 10],
    [{ admin: "maint" as const }, "maint", 10],
    [{ weight: 0 }, "weight-0", 0],
    [{ weight: 3 }, null, 3],
    [{ admin: "ready" as const, weight: 256 }, null, 256],
  ])("admin %j -> unavailable %s, weight %i", (change, why, weight) => {
    const s = reduce(s0, { type: "admin", origin: 0, at: 5, ...change }, cfg, rand0);
    expect(unavailable(s.origins[0], 5)).toBe(why);
    expect(s.origins[0].weight).toBe(weight);
  });

  it("admin back to ready after drain restores traffic", () => {
    const s = run(cfg, s0, [{ type: "admin", origin: 0, at: 1, admin: "drain" }, { type: "admin", origin: 0, at: 2, admin: "ready" }]);
    expect(s.version).toBe(3);
    expect(unavailable(s.origins[0], 2)).toBeNull();
  });

  it.each([
    [{}],
    [{ admin: "ready" as const }],
    [{ weight: 10 }],
    [{ weight: -1 }],
    [{ weight: 257 }],
    [{ weight: 2.5 }],
    [{ weight: Number.NaN }],
  ])("admin %o changes nothing (same object)", (change) => {
    expect(reduce(s0, { type: "admin", origin: 0, at: 1, ...change }, cfg, rand0)).toBe(s0);
  });

  it.each([
    [50, 5],
    [100, 10],
    [150, 10],
    [1, 0.1],
    [-20, 0],
  ])("agent weightPct %i -> effective weight %f (never above configured)", (pct, w) => {
    const s = reduce(s0, agentEv(T0, { weightPct: pct }), cfg, rand0);
    expect(effectiveWeight(s.origins[0], T0 + 1, 0)).toBeCloseTo(w, 10);
  });

  it.each([
    [{ weightPct: 0 }, "weight-0"],
    [{ health: "down" as const }, "agent-down"],
    [{ health: "fail" as const }, "agent-down"],
    [{ health: "stopped" as const }, "agent-down"],
    [{ admin: "drain" as const }, "drain"],
    [{ admin: "maint" as const }, "maint"],
    [{ health: "up" as const }, null],
  ])("agent %j -> unavailable %s", (a, why) => {
    const s = reduce(s0, agentEv(T0, a), cfg, rand0);
    expect(unavailable(s.origins[0], T0 + 1)).toBe(why);
  });

  it("an agent 'up' never overrides failing checks (HAProxy bug #1176)", () => {
    const s = run(cfg, s0, [chk(false, T0), agentEv(T0 + 1, { health: "up", weightPct: 100 })]);
    expect(s.origins[0].up).toBe(false);
    expect(unavailable(s.origins[0], T0 + 2)).toBe("down");
  });

  it("a stale agent report counts for nothing and a tick clears it", () => {
    const s = reduce(s0, agentEv(T0, { health: "down", weightPct: 10, ttl: 10_000 }), cfg, rand0);
    expect(unavailable(s.origins[0], T0 + 10_000)).toBe("agent-down");
    expect(freshAgent(s.origins[0], T0 + 10_000)).not.toBeNull();
    expect(unavailable(s.origins[0], T0 + 10_001)).toBeNull();
    expect(freshAgent(s.origins[0], T0 + 10_001)).toBeNull();
    expect(effectiveWeight(s.origins[0], T0 + 10_001, 0)).toBe(10);
    // a tick while fresh changes nothing
    expect(reduce(s, { type: "tick", at: T0 + 10_000 }, cfg, rand0)).toBe(s);
    const t = reduce(s, { type: "tick", at: T0 + 10_001 }, cfg, rand0);
    expect(t).not.toBe(s);
    expect(t.version).toBe(s.version + 1);
    expect(t.origins[0].agent).toBeNull();
    expect(t.origins[1]).toBe(s.origins[1]);
  });
});

describe("slow start", () => {
  const cfg = poolCfg({ slowStart: "10s", check: { rise: 1, fall: 1 } }, [{ name: "a", weight: 20 }]);
  const up = run(cfg, initialHealth(cfg), [chk(false, T0), chk(true, T0 + 1000)]);
  const at = T0 + 1000;

  it.each([
    [0, 1],
    [250, 1],
    [500, 1],
    [1000, 2],
    [5000, 10],
    [9_999, 19.998],
    [10_000, 20],
    [60_000, 20],
  ])("%i ms after coming up -> weight %f of 20", (dt, w) => {
    expect(up.origins[0].upSince).toBe(at);
    expect(effectiveWeight(up.origins[0], at + dt, 10_000)).toBeCloseTo(w, 10);
  });

  it("does not ramp at startup or when slowStart is 0", () => {
    const s0 = initialHealth(cfg);
    expect(effectiveWeight(s0.origins[0], T0, 10_000)).toBe(20);
    expect(effectiveWeight(up.origins[0], at, 0)).toBe(20);
  });

  it("multiplies with the agent's share", () => {
    const s = reduce(up, agentEv(at, { weightPct: 50 }), cfg, rand0);
    expect(effectiveWeight(s.origins[0], at + 5000, 10_000)).toBe(5);
  });
});

describe("unavailable(): one reason, in order", () => {
  const cfg = poolCfg();
  const s0 = initialHealth(cfg);
  const cases: [string, HealthEvent[], ReturnType<typeof unavailable>][] = [
    ["healthy", [], null],
    ["maint beats everything", [chk(false, 1), out("refused", 2), { type: "admin", origin: 0, at: 3, admin: "maint" }], "maint"],
    ["drain beats down", [chk(false, 1), { type: "admin", origin: 0, at: 3, admin: "drain" }], "drain"],
    ["down beats agent-down and ejected", [out("refused", 2), agentEv(3, { health: "down" }), chk(false, 4)], "down"],
    ["agent-down beats ejected", [out("refused", 2), agentEv(3, { health: "stopped" })], "agent-down"],
    ["weight-0 beats ejected", [out("refused", 2), { type: "admin", origin: 0, at: 3, weight: 0 }], "weight-0"],
    ["ejected", [out("timeout", 2)], "ejected"],
  ];
  it.each(cases)("%s", (_, evs, why) => {
    expect(unavailable(run(cfg, s0, evs).origins[0], 4)).toBe(why);
  });
});

describe("reduce(): same object when nothing changed, new version otherwise", () => {
  const cfg = poolCfg();
  const s0 = initialHealth(cfg);
  it.each([
    ["success on a healthy origin", out("success", 1)],
    ["tick without agents", { type: "tick", at: 1 } as HealthEvent],
    ["an unknown origin", out("refused", 1, 7)],
    ["admin to the same state", { type: "admin", origin: 1, at: 1, admin: "ready" } as HealthEvent],
  ])("%s -> same object", (_, ev) => {
    expect(reduce(s0, ev, cfg, rand0)).toBe(s0);
  });

  it.each([
    ["check", chk(true, 1)],
    ["refused", out("refused", 1)],
    ["5xx", out("5xx", 1)],
    ["admin", { type: "admin", origin: 0, at: 1, admin: "drain" } as HealthEvent],
    ["agent", agentEv(1, {})],
  ])("%s -> new object, version + 1, other origins shared", (_, ev) => {
    const s = reduce(s0, ev, cfg, rand0);
    expect(s).not.toBe(s0);
    expect(s.version).toBe(2);
    expect(s.origins[1]).toBe(s0.origins[1]);
    expect(s0.origins[0]).toEqual(initialHealth(cfg).origins[0]);
  });
});

describe("HealthStore", () => {
  const cfg = poolCfg({ check: { enabled: false }, passive: { baseEjection: "5s" } }, [{ name: "a", weight: 4 }, { name: "b", weight: 2 }]);

  it("apply() tells whether the state changed", () => {
    const st = new HealthStore(cfg, rand0);
    expect(st.apply(out("success", 1))).toBe(false);
    expect(st.state.version).toBe(1);
    expect(st.apply(out("refused", 1))).toBe(true);
    expect(st.state.version).toBe(2);
  });

  it("weights() caches the view until validUntil or a change", () => {
    const st = new HealthStore(cfg, rand0);
    const v1 = st.weights(T0);
    expect([...v1.primary]).toEqual([4, 2]);
    expect(v1.validUntil).toBe(Infinity);
    expect(st.weights(T0 + 1_000_000)).toBe(v1);

    st.apply(out("refused", T0));
    const v2 = st.weights(T0);
    expect(v2).not.toBe(v1);
    expect([...v2.primary]).toEqual([0, 2]);
    expect([...v2.failOpen]).toEqual([4, 0]);
    expect(v2.validUntil).toBe(T0 + 5_000);
    expect(st.weights(T0 + 4_999)).toBe(v2);
    const v3 = st.weights(T0 + 5_000);
    expect(v3).not.toBe(v2);
    expect([...v3.primary]).toEqual([4, 2]);
  });

  it("weights() drops an expired agent report through a tick", () => {
    const st = new HealthStore(cfg, rand0);
    st.apply(agentEv(T0, { weightPct: 50, ttl: 1_000 }, 1));
    const v = st.weights(T0);
    expect([...v.primary]).toEqual([4, 1]);
    expect(v.validUntil).toBe(T0 + 1_001);
    expect(st.weights(T0 + 1_000)).toBe(v);
    const v2 = st.weights(T0 + 1_001);
    expect([...v2.primary]).toEqual([4, 2]);
    expect(st.state.origins[1].agent).toBeNull();
  });

  it("onChange describes up/down, ejection, return to service and admin changes", () => {
    const c2 = poolCfg({ passive: { baseEjection: "5s" } });
    const st = new HealthStore(c2, rand0);
    const seen: HealthChange[] = [];
    st.onChange = (c) => seen.push(c);
    st.apply(chk(false, 10));
    st.apply(chk(true, 20));
    st.apply(chk(true, 30));
    st.apply(out("refused", 40, 1));
    st.apply(chk(true, 50, 1, 45));
    st.apply({ type: "admin", origin: 0, at: 60, admin: "drain", weight: 0 });
    st.apply(out("success", 70));
    expect(seen).toEqual([
      { kind: "down", origin: "a", from: "UP", to: "DOWN", reason: "check failed: HTTP 500", at: 10 },
      { kind: "up", origin: "a", from: "DOWN", to: "UP", reason: "check passed: HTTP 200", at: 30 },
      { kind: "ejected", origin: "b", from: "in service", to: "ejected for 5000ms", reason: "refused on real traffic", at: 40 },
      { kind: "returned", origin: "b", from: "ejected", to: "in service after ejection time", reason: "check passed", at: 50 },
      { kind: "admin", origin: "a", from: "ready", to: "drain", reason: "admin", at: 60 },
      { kind: "weight", origin: "a", from: "weight 1", to: "weight 0", reason: "admin", at: 60 },
    ]);
  });
});

describe("carryOver (reload)", () => {
  const cfg = poolCfg({ check: { rise: 2, fall: 3 } }, [{ name: "a" }, { name: "b" }, { name: "gone" }]);
  const prev = run(cfg, initialHealth(cfg), [
    chk(false, 10, 0),
    out("refused", 20, 1),
    { type: "admin", origin: 2, at: 30, admin: "maint" },
    { type: "admin", origin: 1, at: 31, admin: "drain", weight: 50 },
  ]);

  it("keeps origins by name, starts new ones fresh, takes weight/backup from the new config", () => {
    const next = poolCfg({ check: { rise: 2, fall: 3 } }, [{ name: "new" }, { name: "b", weight: 7, backup: true }, { name: "a", weight: 3 }]);
    const s = carryOver(prev, next);
    expect(s.version).toBe(prev.version + 1);
    expect(s.origins.map((o) => o.name)).toEqual(["new", "b", "a"]);
    expect(s.origins[0]).toEqual(initialHealth(next).origins[0]);
    expect(s.origins[1]).toEqual({ ...prev.origins[1], weight: 7, backup: true });
    expect(s.origins[2]).toEqual({ ...prev.origins[0], weight: 3 });
    expect(unavailable(s.origins[1], 21)).toBe("drain");
    expect(unavailable(s.origins[2], 21)).toBe("down");
  });

  it.each([
    // [prev up?, prev counter via events, new rise, new fall, expected counter, expected up]
    ["up, fully", [chk(true, 1)], 1, 1, 1, true],
    ["up, fully, larger rise", [chk(true, 1)], 6, 2, 6, true],
    ["up, fully, larger fall", [chk(true, 1)], 2, 9, 4, true],
    ["down, going up", [chk(false, 1), chk(true, 2)], 1, 5, 0, false],
    ["down, going up, rise grows", [chk(false, 1), chk(true, 2)], 4, 1, 1, false],
  ] as const)("%s: counter stays consistent with up under new rise/fall", (_, evs, rise, fall, counter, up) => {
    const c = poolCfg({ check: { rise: 2, fall: 3 } });
    const p = run(c, initialHealth(c), [...evs]);
    const s = carryOver(p, poolCfg({ check: { rise, fall } }));
    expect([s.origins[0].up, s.origins[0].counter]).toEqual([up, counter]);
  });

  it("checks turned off on reload: down and check-gated origins come back by themselves", () => {
    const s = carryOver(prev, poolCfg({ check: { enabled: false } }, [{ name: "a" }, { name: "b" }]));
    expect(s.origins[0]).toMatchObject({ up: true, counter: 4 });
    expect(s.origins[1]).toMatchObject({ ejectNeedsCheck: false, admin: "drain" });
    expect(isEjected(s.origins[1], prev.origins[1].ejectedUntil)).toBe(false);
  });
});
