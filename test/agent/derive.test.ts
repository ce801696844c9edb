import { describe, expect, it } from "vitest";
import { derive, haproxyLine, INITIAL_STATE, type DeriveConfig, type DeriveState, type Readings } from "../../core/agent/derive.ts";

/** Readings with nothing known, then what a row sets. */
const R = (x: Partial<Readings> = {}): Readings => ({ loadPerCpu: null, cpus: null, memAvailablePct: null, swapInPerSec: null, psi: null, app: null, ...x });

const CFG: DeriveConfig = {
  thresholds: {
    loadPerCpu: { soft: 1, hard: 2 },
    memAvailablePct: { soft: 15, hard: 5 },
    swapInPerSec: { soft: 100, hard: 1000 },
    psi: { cpu: { soft: 50, hard: 90 }, memory: { soft: 10, hard: 40 }, io: { soft: 30, hard: 80 } },
  },
  holdTime: 30_000,
  step: 10,
  raiseAfter: 0,
  appExpect: [[200, 399]],
};

/** Runs rows [t (ms), readings] through derive and returns [weightPct, admin, health] after each. */
function run(rows: [number, Partial<Readings>][], cfg: DeriveConfig = CFG, from: DeriveState = INITIAL_STATE) {
  let s = from;
  return rows.map(([t, r]) => {
    const d = derive(R(r), s, cfg, t);
    s = d.state;
    return [d.weightPct, d.admin, d.health];
  });
}

describe("derive: weight from thresholds (one sample from the initial state)", () => {
  const cases: [string, Partial<Readings>, number][] = [
    ["nothing known: full weight (null is no signal, never 0)", {}, 100],
    ["memory unknown is not 0 % available", { memAvailablePct: null }, 100],
    ["load below soft", { loadPerCpu: 0.5 }, 100],
    ["load at soft", { loadPerCpu: 1 }, 100],
    ["load halfway", { loadPerCpu: 1.5 }, 50],
    ["load 3/4", { loadPerCpu: 1.75 }, 25],
    ["load at hard", { loadPerCpu: 2 }, 0],
    ["memory available: low is bad, halfway", { memAvailablePct: 10 }, 50],
    ["memory available plenty", { memAvailablePct: 60 }, 100],
    ["swap-in 550/s: halfway", { swapInPerSec: 550 }, 50],
    ["psi io 55: halfway", { psi: { cpu: null, memory: null, io: 55 } }, 50],
    ["worst signal wins: load 80 %, memory 40 %", { loadPerCpu: 1.2, memAvailablePct: 9 }, 40],
    ["worst signal wins: psi memory past hard", { loadPerCpu: 0.1, psi: { cpu: 1, memory: 45, io: 0 } }, 0],
  ];
  it.each(cases)("%s", (_name, r, w) => {
    const d = derive(R(r), INITIAL_STATE, CFG, 0);
    expect(d.weightPct).toBe(w);
  });

  it("no thresholds for a signal: it is not considered", () => {
    const cfg = { ...CFG, thresholds: { loadPerCpu: { soft: 1, hard: 2 } } };
    expect(derive(R({ memAvailablePct: 1, loadPerCpu: 0.2 }), INITIAL_STATE, cfg, 0)).toMatchObject({ weightPct: 100, admin: "ready" });
  });
});

describe("derive: hysteresis", () => {
  it("moves only by a step or more, or to 0/100", () => {
    expect(
      run([
        [0, { loadPerCpu: 1.05 }], // raw 95: less than a step below 100
        [1, { loadPerCpu: 1.09 }], // raw 91
        [2, { loadPerCpu: 1.1 }], // raw 90: a step
        [3, { loadPerCpu: 1.15 }], // raw 85: stays 90
        [4, { loadPerCpu: 1.05 }], // raw 95: stays 90
        [5, { loadPerCpu: 0.5 }], // raw 100: always reached
      ]).map((x) => x[0]),
    ).toEqual([100, 100, 90, 90, 90, 100]);
  });

  it("a load that wobbles around a value does not flap", () => {
    const rows: [number, Partial<Readings>][] = [];
    for (let i = 0; i < 40; i++) rows.push([i * 1000, { loadPerCpu: 1.5 + (i % 2 ? 0.04 : -0.04) }]);
    const ws = run(rows).map((x) => x[0]);
    expect(new Set(ws.slice(1))).toEqual(new Set([ws[1]]));
  });

  it("falls at once, rises only after raiseAfter of the higher value", () => {
    const cfg = { ...CFG, raiseAfter: 5000 };
    expect(
      run(
        [
          [0, { loadPerCpu: 1.6 }], // 40 at once
          [1000, { loadPerCpu: 1.2 }], // 80 wanted: waits
          [3000, { loadPerCpu: 1.2 }],
          [5000, { loadPerCpu: 1.45 }], // 55 wanted: still a step above, still waiting since 1000
          [6000, { loadPerCpu: 1.2 }], // 5 s since 1000: rises to what it wants now
          [7000, { loadPerCpu: 1.0 }], // 100 wanted: waits again
          [8000, { loadPerCpu: 1.7 }], // 30: falls at once, the wait is over
          [9000, { loadPerCpu: 1.0 }],
          [13_999, { loadPerCpu: 1.0 }],
          [14_000, { loadPerCpu: 1.0 }],
        ],
        cfg,
      ).map((x) => x[0]),
    ).toEqual([40, 40, 40, 40, 80, 80, 30, 30, 30, 100]);
  });
});

describe("derive: drain past hard, ready after the hold time below soft", () => {
  it("drains at hard and waits holdTime below soft; a sample between soft and hard restarts the wait", () => {
    expect(
      run([
        [0, { loadPerCpu: 0.5 }],
        [1000, { loadPerCpu: 2.5 }], // past hard
        [2000, { loadPerCpu: 0.5 }], // calm from here
        [31_999, { loadPerCpu: 0.5 }],
        [32_000, { loadPerCpu: 1.5 }], // between soft and hard: not calm, stays drained
        [40_000, { loadPerCpu: 0.9 }], // calm again from here
        [69_999, { loadPerCpu: 0.9 }],
        [70_000, { loadPerCpu: 0.9 }], // 30 s calm
        [71_000, { loadPerCpu: 1.5 }], // between: ready, 50 %
      ]).map((x) => `${x[1]} ${x[0]}`),
    ).toEqual(["ready 100", "drain 0", "drain 100", "drain 100", "drain 50", "drain 100", "drain 100", "ready 100", "ready 50"]);
  });

  it("at exactly soft is not below soft", () => {
    const rows: [number, Partial<Readings>][] = [[0, { loadPerCpu: 3 }], [1, { loadPerCpu: 1 }], [40_000, { loadPerCpu: 1 }]];
    expect(run(rows).map((x) => x[1])).toEqual(["drain", "drain", "drain"]);
  });

  it("low memory drains too, and readings that vanish neither drain nor calm", () => {
    expect(
      run([
        [0, { memAvailablePct: 4 }],
        [1000, { memAvailablePct: null, loadPerCpu: 0.1 }], // memory unknown, load calm
        [31_000, { memAvailablePct: null, loadPerCpu: 0.1 }],
      ]).map((x) => x[1]),
    ).toEqual(["drain", "drain", "ready"]);
  });

  it("with holdTime 0, ready on the first calm sample", () => {
    expect(run([[0, { loadPerCpu: 2 }], [1, { loadPerCpu: 0.5 }]], { ...CFG, holdTime: 0 }).map((x) => x[1])).toEqual(["drain", "ready"]);
  });
});

describe("derive: app health and the operator", () => {
  it.each([
    [null, "up"],
    [{ status: 200, ms: 3 }, "up"],
    [{ status: 302, ms: 3 }, "up"],
    [{ status: 503, ms: 40 }, "down"],
    [{ status: 0, ms: 1000 }, "down"],
  ] as const)("app %j -> %s", (app, health) => {
    const d = derive(R({ app }), INITIAL_STATE, CFG, 0);
    expect(d.health).toBe(health);
    // health stays apart from admin and weight
    expect(d).toMatchObject({ admin: "ready", weightPct: 100 });
    if (health === "down") expect(d.reason).toMatch(app!.status ? /status 503/ : /no answer/);
  });

  it("expect lists other statuses", () => {
    expect(derive(R({ app: { status: 302, ms: 1 } }), INITIAL_STATE, { ...CFG, appExpect: [[200, 200]] }, 0).health).toBe("down");
  });

  it("a forced drain or maint wins over calm readings and is kept in the state", () => {
    const d = derive(R({ loadPerCpu: 0.1 }), { ...INITIAL_STATE, forced: "drain" }, CFG, 0);
    expect(d).toMatchObject({ admin: "drain", weightPct: 100, state: { forced: "drain", auto: "ready" } });
    expect(d.reason).toMatch(/forced by the operator/);
    expect(derive(R(), { ...INITIAL_STATE, forced: "maint" }, CFG, 0).admin).toBe("maint");
  });

  it("reasons name the signal and the threshold", () => {
    expect(derive(R({ loadPerCpu: 2.4 }), INITIAL_STATE, CFG, 0).reason).toBe("loadPerCpu 2.4 past hard 2");
    expect(derive(R({ memAvailablePct: 10 }), INITIAL_STATE, CFG, 0).reason).toBe("memAvailablePct 10 past soft 15");
    expect(derive(R({ loadPerCpu: 0.2 }), INITIAL_STATE, CFG, 0).reason).toBeUndefined();
  });
});

describe("haproxyLine", () => {
  it.each([
    [{ health: "up", admin: "ready", weightPct: 75 }, "ready up 75%\n"],
    [{ health: "up", admin: "drain", weightPct: 0, reason: "loadPerCpu 2.4 past hard 2" }, "drain up 0% #loadPerCpu 2.4 past hard 2\n"],
    [{ health: "down", admin: "ready", weightPct: 100, reason: "app health: status 503" }, "ready down 100% #app health: status 503\n"],
    [{ health: "up", admin: "maint", weightPct: 100, reason: "a\nb#c" }, "maint up 100% #a b c\n"],
  ] as const)("%j -> %j", (d, line) => {
    expect(haproxyLine(d)).toBe(line);
  });
});
