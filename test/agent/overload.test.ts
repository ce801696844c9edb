import { describe, expect, it } from "vitest";
import { runOverload } from "./overload-scenario.ts";

describe("overload: a drowning origin with and without the agent (real processes)", () => {
  it("with the agent the slow origin's share drops, p99 is at least 3x lower, and no request is lost", async () => {
    const without = await runOverload(false, 300, 8);
    const withAgent = await runOverload(true, 300, 8);
    expect(without.failed).toBe(0);
    expect(withAgent.failed).toBe(0);
    // plain round-robin sends the slow origin half the traffic: its 200 ms shows in the p99
    expect(without.slowShare).toBeGreaterThan(0.4);
    expect(without.p99).toBeGreaterThanOrEqual(200);
    // the agent drains it (load 3 per CPU is past the hard threshold)
    expect(withAgent.slowShare).toBeLessThan(0.02);
    expect(withAgent.p99 * 3).toBeLessThanOrEqual(without.p99);
  });
});
