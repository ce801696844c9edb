// G13: a flapping origin under load: the schedule (2 s up / 2 s down for 20 s at 500 req/s),
// and a quicker 1 s / 1 s for 8 s with the same assertions. test/faults/long.ts runs the long one alone.
import { describe, expect, it } from "vitest";
import { report } from "./kit/index.ts";
import { runFlap } from "./flap-scenario.ts";

describe("G13 flapping origin", () => {
  it("1 s up / 1 s down for 8 s: the ejection time grows from flap to flap, 0 GET errors", async () => {
    const r = await runFlap(1000, 1000, 8000, "300ms");
    report("G13", { ...r, failedGets: r.failedGets.map((x) => `${x.id} ${x.status} ${x.error ?? x.body.trim()}`) });
    expect(r.failedGets).toEqual([]);
    // 4 down phases in 8 s: each one ejects web01 again, for longer each time (base x n, +10 % jitter)
    expect(r.flaps.filter((f) => !f.up).length).toBeGreaterThanOrEqual(3);
    expect(r.ejectionsMs.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < r.ejectionsMs.length; i++) expect(r.ejectionsMs[i]).toBeGreaterThan(r.ejectionsMs[i - 1]);
    // it did come back between flaps (served in the up windows)
    expect(r.servedByFlapper).toBeGreaterThan(100);
  });

  it("the issue's schedule, 2 s up / 2 s down for 20 s: ejections grow, 0 GET errors", async () => {
    const r = await runFlap(2000, 2000, 20_000, "500ms");
    report("G13 long", { ...r, failedGets: r.failedGets.map((x) => `${x.id} ${x.status} ${x.error ?? x.body.trim()}`) });
    expect(r.failedGets).toEqual([]);
    expect(r.ejectionsMs.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < r.ejectionsMs.length; i++) expect(r.ejectionsMs[i]).toBeGreaterThan(r.ejectionsMs[i - 1]);
    expect(r.servedByFlapper).toBeGreaterThan(100);
  }, 45_000);
});
