// node/deadlines.ts on Node's real timers: many deadlines of one length on one Timeout, each told
// once, in order, not before it falls due; disarmed ones never; restarted ones from the restart.
import { describe, expect, it } from "vitest";
import { Deadlines, type Timed } from "../../node/deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Timed that notes when (and how often) it expired. */
function item(name: string, log: { name: string; at: number; late: number }[], then?: () => void): Timed {
  const t: Timed = {
    dueAt: 0,
    prevDue: null,
    nextDue: null,
    dueIn: null,
    expired() {
      const at = performance.now();
      log.push({ name, at, late: at - t.dueAt });
      then?.();
    },
  };
  return t;
}

describe("deadlines (node/deadlines.ts)", () => {
  it("armed at different times: each expires at its own due time, in order; a disarmed one never; a restarted one from its restart", async () => {
    const d = new Deadlines(120);
    const log: { name: string; at: number; late: number }[] = [];
    const [a, b, c, e] = ["a", "b", "c", "e"].map((n) => item(n, log));
    const t0 = performance.now();
    d.arm(a, performance.now());
    await sleep(30);
    d.arm(b, performance.now());
    await sleep(30);
    d.arm(c, performance.now());
    d.arm(e, performance.now());
    d.disarm(b);
    expect(b.dueIn).toBe(null);
    await sleep(30);
    // a restarts 90 ms in: due at ~210 ms, after c and e (~180 ms)
    d.restart(a, performance.now());
    // e, the last one, restarts in place (still the last)
    await sleep(10);
    d.restart(e, performance.now());
    await sleep(260);
    expect(log.map((x) => x.name)).toEqual(["c", "a", "e"]);
    for (const x of log) expect(x.late).toBeGreaterThanOrEqual(0);
    // c at ~180 ms (armed at 60), a at ~210 (restarted at 90), e at ~220 (restarted at 100)
    expect(log[0].at - t0).toBeGreaterThanOrEqual(175);
    expect(log[1].at - t0).toBeGreaterThanOrEqual(205);
    expect(log[2].at - t0).toBeGreaterThanOrEqual(215);
    for (const t of [a, b, c, e]) expect(t.dueIn).toBe(null);
  });

  it("an expiry that arms another deadline on the same list: that one expires in its turn", async () => {
    const d = new Deadlines(40);
    const log: { name: string; at: number; late: number }[] = [];
    const second = item("second", log);
    const first = item("first", log, () => d.arm(second, performance.now()));
    d.arm(first, performance.now());
    await sleep(150);
    expect(log.map((x) => x.name)).toEqual(["first", "second"]);
    expect(log[1].at - log[0].at).toBeGreaterThanOrEqual(38);
  });

  it("moving between lists of different lengths: only the list it is in tells it", async () => {
    const short = new Deadlines(30);
    const long = new Deadlines(90);
    const log: { name: string; at: number; late: number }[] = [];
    const x = item("x", log);
    const t0 = performance.now();
    short.arm(x, t0);
    long.arm(x, performance.now());
    expect(x.dueIn).toBe(long);
    await sleep(60);
    expect(log).toEqual([]);
    await sleep(80);
    expect(log.map((l) => l.name)).toEqual(["x"]);
    expect(log[0].at - t0).toBeGreaterThanOrEqual(88);
  });
});
