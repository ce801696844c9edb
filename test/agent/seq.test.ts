import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readState, SEQ_RESERVE, SeqSource } from "../../origin-agent/state.ts";
import { tempDir } from "./helpers.ts";

describe("report seq", () => {
  it("grows with every report, and follows the clock (microseconds)", () => {
    let now = 1_700_000_000_000;
    const s = new SeqSource(null, () => now);
    const a = s.next(), b = s.next();
    now += 1000;
    const c = s.next();
    expect(a).toBe(1_700_000_000_000_000);
    expect(b).toBe(a + 1);
    expect(c).toBe(1_700_000_001_000_000);
    expect(Number.isSafeInteger(c)).toBe(true);
  });

  it("without a state file, a restart continues above the last seq (the clock moved on)", () => {
    let now = 1_700_000_000_000;
    const first = new SeqSource(null, () => now);
    let last = 0;
    for (let i = 0; i < 5000; i++) last = first.next(); // 5000 reports within one ms
    now += 10;
    expect(new SeqSource(null, () => now).next()).toBeGreaterThan(last);
  });

  it("with a state file, a restart continues above the last seq even when the clock was set back", () => {
    const file = join(tempDir("seq"), "agent.state");
    let now = 1_700_000_000_000;
    const a = new SeqSource(file, () => now);
    let last = 0;
    for (let i = 0; i < 3; i++) last = a.next();
    // the file holds a ceiling above what was handed out, written once for many reports
    const ceiling = readState(file)!.seq;
    expect(ceiling).toBeGreaterThanOrEqual(last);
    for (let i = 0; i < 30; i++) (now += 1000), (last = a.next());
    expect(readState(file)!.seq).toBe(ceiling);
    expect(last).toBeLessThanOrEqual(ceiling);
    now += SEQ_RESERVE / 1000; // past the ceiling: a new one is written before it is exceeded
    last = a.next();
    expect(readState(file)!.seq).toBeGreaterThanOrEqual(last);

    now -= 3_600_000; // an hour back (NTP step, a VM restored from a snapshot)
    const b = new SeqSource(file, () => now);
    const first = b.next();
    expect(first).toBeGreaterThan(last);
    expect(b.next()).toBe(first + 1);
  });

  it("keeps the operator's forced state; a broken or missing file is no state", () => {
    const dir = tempDir("seq2");
    const file = join(dir, "agent.state");
    const a = new SeqSource(file, () => 1000);
    a.setForced("drain");
    expect(new SeqSource(file, () => 1000).forced).toBe("drain");
    a.setForced(null);
    expect(new SeqSource(file, () => 1000).forced).toBeNull();

    writeFileSync(file, "{ half");
    expect(readState(file)).toBeNull();
    expect(new SeqSource(file, () => 2).next()).toBe(2000);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ seq: 2000 + SEQ_RESERVE, forced: null });
    expect(readState(join(dir, "missing"))).toBeNull();
  });

  it("a state file that cannot be written is reported once; seq still grows", () => {
    const s = new SeqSource(join(tempDir("seq3"), "no", "such", "dir", "state"), () => 5);
    expect([s.next(), s.next()]).toEqual([5000, 5001]);
    expect(s.writeError).toMatch(/cannot write/);
  });
});
