import { describe, expect, it } from "vitest";
import { createPolicy, hashKey, LeastOutstanding, PowerOfTwoChoices, SmoothWeightedRoundRobin, SourceHash, type Policy } from "../../core/select/index.ts";
import { seeded } from "../support/seeded.ts";


/** A rand that returns the given values in order, and fails the test when it runs out. */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error(`rand called ${i + 1} times, only ${values.length} values scripted`);
    return values[i++];
  };
}

/** Picks `n` times. `inFlight` = how many picks a request stays in flight (0: done before the next pick). */
function run(p: Policy, weights: ArrayLike<number>, n: number, opts: { inFlight?: number; exclude?: number[]; inflight?: number[] } = {}): number[] {
  const inflight = opts.inflight ? opts.inflight.slice() : new Array<number>(weights.length).fill(0);
  const open: number[] = [];
  const picks: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = p.pick(weights, inflight, opts.exclude ?? []);
    picks.push(i);
    if (i < 0 || !opts.inFlight) continue;
    inflight[i]++;
    open.push(i);
    if (open.length > opts.inFlight) inflight[open.shift()!]--;
  }
  return picks;
}

function counts(picks: number[], size: number): number[] {
  const c = new Array<number>(size).fill(0);
  for (const i of picks) c[i]++;
  return c;
}

/** The distinct picks, sorted. */
function distinct(picks: number[]): number[] {
  return [...new Set(picks)].sort((a, b) => a - b);
}

/** Origins as letters, for sequences that read like nginx's comments: "aabacaa". */
function letters(picks: number[]): string {
  return picks.map((i) => (i < 0 ? "-" : String.fromCharCode(97 + i))).join("");
}

interface Subject {
  /** A fresh policy for a pool of `size` origins. */
  make: (size: number) => Policy;
  /** Largest allowed |share - weight share| per origin in the ratio tests; 0 = exact counts. */
  tolerance: number;
  /** Properties this policy does not have, each with the reason. */
  skip?: Record<string, string>;
}

/**
 * The properties every selection policy has (like hono's router common.case.test.ts, run by
 * every router). A policy listed as skipping one says why.
 */
function conformance(name: string, s: Subject): void {
  const skip = s.skip ?? {};
  const defined: string[] = [];
  const prop = (title: string, fn: () => void) => {
    defined.push(title);
    if (skip[title]) it.skip(`${title} — skipped: ${skip[title]}`, fn);
    else it(title, fn);
  };

  describe(`policy conformance: ${name}`, () => {
    prop("has the name the config uses", () => {
      expect(s.make(2).name).toBe(name);
    });

    prop("returns -1 with no candidates", () => {
      const cases: [number[], number[]][] = [
        [[], []],
        [[0], []],
        [[0, 0, 0], []],
        [[NaN, -1, 0, -Infinity], []],
        [[1, 1], [0, 1]],
        [[0, 3, 0], [1]],
      ];
      for (const [weights, exclude] of cases) {
        const p = s.make(weights.length);
        expect(run(p, weights, 3, { exclude }), `weights ${JSON.stringify(weights)} exclude ${JSON.stringify(exclude)}`).toEqual([-1, -1, -1]);
      }
    });

    prop("never picks weight 0 (idle and under load)", () => {
      const weights = [0, 3, 0, 1, 0];
      const idle = distinct(run(s.make(5), weights, 200));
      expect(idle.length).toBeGreaterThan(0);
      for (const i of idle) expect([1, 3]).toContain(i);
      expect(distinct(run(s.make(5), weights, 200, { inFlight: 8 }))).toEqual([1, 3]);
      expect(distinct(run(s.make(5), [0, 1, 0, 1, 0], 200))).toEqual([1, 3]);
    });

    prop("never picks a negative or NaN weight", () => {
      expect(distinct(run(s.make(4), [-2, 1, NaN, 1], 100, { inFlight: 3 }))).toEqual([1, 3]);
    });

    prop("never picks an excluded index, and still uses every other candidate", () => {
      const weights = [1, 1, 1, 1, 1];
      expect(distinct(run(s.make(5), weights, 200, { exclude: [0, 2] }))).toEqual([1, 3, 4]);
      expect(distinct(run(s.make(5), weights, 200, { exclude: [0, 2], inFlight: 6 }))).toEqual([1, 3, 4]);
      // the heaviest origin excluded (it failed this request): the rest share the load
      expect(distinct(run(s.make(3), [100, 1, 1], 200, { exclude: [0] }))).toEqual([1, 2]);
    });

    prop("ignores exclude indices that are not candidates", () => {
      expect(distinct(run(s.make(2), [1, 0], 20, { exclude: [1, 7, -1] }))).toEqual([0]);
    });

    prop("a single candidate always wins, however loaded", () => {
      expect(run(s.make(4), [0, 0, 7, 0], 5, { inflight: [0, 0, 1000, 0] })).toEqual([2, 2, 2, 2, 2]);
      expect(run(s.make(3), [1, 1, 1], 5, { exclude: [0, 2], inflight: [0, 50, 0] })).toEqual([1, 1, 1, 1, 1]);
      expect(run(s.make(1), [0.01], 3)).toEqual([0, 0, 0]);
    });

    prop("uses every candidate of equal weight when idle", () => {
      expect(distinct(run(s.make(4), [1, 1, 1, 1], 40))).toEqual([0, 1, 2, 3]);
    });

    // weights -> picks, run idle and under load; the expected share of each origin is its weight share
    const ratios: [number[], number][] = [
      [[3, 1], 400],
      [[1, 1], 400],
      [[5, 1, 1], 700],
      [[1, 2, 3, 4], 400],
      [[1, 1, 1, 1], 400],
      // effective weights are fractions (agent %, slow-start ramp)
      [[0.75, 0.25], 400],
      [[256, 0, 128], 300],
    ];
    const respects = (inFlight: number) => () => {
      for (const [weights, n] of ratios) {
        const total = weights.reduce((a, b) => a + b, 0);
        const got = counts(run(s.make(weights.length), weights, n, { inFlight }), weights.length);
        const want = weights.map((w) => (w / total) * n);
        const what = `weights ${JSON.stringify(weights)} over ${n} picks, ${inFlight} in flight: counts ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
        if (s.tolerance === 0) expect(got, what).toEqual(want);
        else for (let i = 0; i < weights.length; i++) expect(Math.abs(got[i] - want[i]) / n, what).toBeLessThanOrEqual(s.tolerance);
        expect(got.reduce((a, b) => a + b, 0)).toBe(n);
      }
    };
    prop("respects weights when idle (each request done before the next pick)", respects(0));
    prop("respects weights under load (32 requests in flight, oldest done first)", respects(32));

    it("skips only properties that exist", () => {
      for (const title of Object.keys(skip)) expect(defined).toContain(title);
    });
  });
}

conformance("roundrobin", { make: (n) => new SmoothWeightedRoundRobin(n), tolerance: 0 });
conformance("leastconn", {
  make: () => new LeastOutstanding(),
  tolerance: 0.025,
  skip: {
    "respects weights when idle (each request done before the next pick)":
      "weighted leastconn scores (inflight + 1) / weight, as HAProxy does: with nothing in flight the heaviest origin always scores lowest, so weights spread load only under concurrency (equal weights still alternate)",
  },
});
conformance("random", { make: () => new PowerOfTwoChoices(seeded(20240611)), tolerance: 0.05 });

/** `source` seen by a stream of clients: each pick comes from another client address (a seeded key). */
function manyClients(p: Policy, seed: number): Policy {
  const rand = seeded(seed);
  return { name: p.name, pick: (w, inflight, exclude) => p.pick(w, inflight, exclude, Math.floor(rand() * 4294967296)) };
}
conformance("source", { make: () => manyClients(new SourceHash(), 7), tolerance: 0.06 });

describe("source: client affinity by weighted rendezvous hashing", () => {
  const clients = Array.from({ length: 2000 }, (_, i) => hashKey(`10.${(i >> 8) & 255}.${i & 255}.${i % 7}`));
  const p = new SourceHash();
  const pick = (w: number[], key: number, exclude: number[] = []) => p.pick(w, [0, 0, 0, 0], exclude, key);

  it("one client always gets the same origin, whatever the load or the order of requests", () => {
    for (const k of clients.slice(0, 50)) {
      const first = pick([1, 1, 1], k);
      expect([pick([1, 1, 1], k), p.pick([1, 1, 1], [9, 0, 3], [], k), pick([1, 1, 1], k)]).toEqual([first, first, first]);
    }
  });

  it("an origin that leaves moves only its own clients, and gets exactly them back when it returns", () => {
    const before = clients.map((k) => pick([1, 1, 1, 1], k));
    const without2 = clients.map((k) => pick([1, 1, 0, 1], k));
    const moved = before.filter((o, i) => o !== without2[i]).length;
    expect(moved).toBe(before.filter((o) => o === 2).length);
    expect(without2).not.toContain(2);
    expect(clients.map((k) => pick([1, 1, 1, 1], k))).toEqual(before);
  });

  it("a client whose origin failed goes to its next best (exclude), the same one every time", () => {
    for (const k of clients.slice(0, 50)) {
      const first = pick([1, 1, 1], k);
      const second = pick([1, 1, 1], k, [first]);
      expect(second).not.toBe(first);
      expect(pick([1, 1, 1], k, [first])).toBe(second);
    }
  });

  it("shares follow the weights over many clients; hashKey spreads addresses", () => {
    const c = counts(clients.map((k) => pick([3, 1], k)), 2);
    expect(Math.abs(c[0] / clients.length - 0.75)).toBeLessThan(0.04);
    expect(new Set(clients).size).toBe(clients.length);
    expect(hashKey("192.0.2.1")).not.toBe(hashKey("192.0.2.2"));
  });
});

describe("createPolicy", () => {
  it.each([
    ["roundrobin", SmoothWeightedRoundRobin],
    ["leastconn", LeastOutstanding],
    ["random", PowerOfTwoChoices],
    ["source", SourceHash],
  ] as const)("%s -> %o", (name, cls) => {
    const p = createPolicy(name, 3, seeded(1));
    expect(p).toBeInstanceOf(cls);
    expect(p.name).toBe(name);
  });

  it("random uses the rand it is given", () => {
    const p = createPolicy("random", 3, scripted(0.99, 0.0));
    // first draw: 0.99 * 3 -> c; second among a, b: 0 -> a; both idle, the first draw wins
    expect(p.pick([1, 1, 1], [0, 0, 0], [])).toBe(2);
  });
});

describe("roundrobin: nginx's smooth weighted round-robin, exact sequences", () => {
  it.each([
    // weights -> the sequence, repeated (nginx's comment: 5:1:1 gives a a b a c a a)
    [[5, 1, 1], "aabacaa" + "aabacaa"],
    [[1, 1], "abababab"],
    [[1, 1, 1], "abcabcabc"],
    [[3, 1], "aaba" + "aaba"],
    [[2, 1], "aba" + "aba"],
    [[1, 3], "babb" + "babb"], // on a tie the lower index goes first
    [[4, 2, 1], "abacaba" + "abacaba"],
    [[0, 1, 0], "bbbb"],
    [[0.5, 0.25], "aba" + "aba"],
    [[256, 1], "a".repeat(128) + "b" + "a".repeat(128)],
  ])("%j -> %s", (weights, seq) => {
    expect(letters(run(new SmoothWeightedRoundRobin(weights.length), weights, seq.length))).toBe(seq);
  });

  it("in-flight counts do not matter", () => {
    expect(letters(run(new SmoothWeightedRoundRobin(3), [5, 1, 1], 7, { inflight: [100, 0, 0] }))).toBe("aabacaa");
  });

  it("weights changing mid-way: the scores carry over, no burst", () => {
    const p = new SmoothWeightedRoundRobin(3);
    const seq = (weights: number[], n: number) => letters(run(p, weights, n));
    expect(seq([1, 1, 1], 2)).toBe("ab"); // scores -1 -1 2: c is next
    // c drained (weight 0) while it is next in line: a and b alternate, c keeps its score 2
    expect(seq([1, 1, 0], 4)).toBe("abab");
    // c back: it gets the turn it was owed, once, then the plain rotation; no burst
    expect(seq([1, 1, 1], 7)).toBe("cabcabc"); // scores 0 0 0
    // a raised to 3 mid-way: 3:1:1 from a clean state at once
    expect(seq([3, 1, 1], 10)).toBe("abaca" + "abaca");
    // 5:1:1 cut to 1:1:1 in the middle of its cycle, after a a b (scores 1 -4 3): b, just
    // picked, waits while a and c take the turns they had built up, then a steady rotation
    expect(seq([5, 1, 1], 3)).toBe("aab");
    expect(seq([1, 1, 1], 9)).toBe("cacacb" + "acb");
    expect(seq([1, 1, 1], 9)).toBe("acb" + "acb" + "acb");
  });

  it("an excluded origin is skipped without being charged for it", () => {
    const p = new SmoothWeightedRoundRobin(2);
    expect(p.pick([1, 1], [0, 0], [0])).toBe(1); // a tried already: b, scores a 0, b 0
    expect(letters(run(p, [1, 1], 4))).toBe("abab");
  });

  it("one instance per pool: instances do not share scores", () => {
    const p = new SmoothWeightedRoundRobin(2);
    const q = new SmoothWeightedRoundRobin(2);
    expect([p.pick([1, 1], [0, 0], []), p.pick([1, 1], [0, 0], []), q.pick([1, 1], [0, 0], [])]).toEqual([0, 1, 0]);
  });
});

describe("leastconn: least outstanding requests, weighted", () => {
  it.each([
    // weights, in flight -> pick (score = (inflight + 1) / weight, lowest wins)
    [[1, 1, 1], [3, 1, 2], 1],
    [[1, 1, 1], [0, 5, 5], 0],
    [[1, 1, 1], [5, 5, 0], 2],
    [[2, 1], [2, 1], 0], // 1.5 vs 2
    [[2, 1], [1, 0], 0], // 1 vs 1: a tie, the first after the last pick (none yet)
    [[1, 4], [1, 5], 1], // 2 vs 1.5
    [[1, 4], [0, 4], 0], // 1 vs 1.25
    [[0, 1, 1], [0, 9, 8], 2], // weight 0 is not a candidate, however idle
    [[10, 1], [0, 0], 0], // idle: the heaviest scores lowest
  ])("weights %j, in flight %j -> %i", (weights, inflight, want) => {
    expect(new LeastOutstanding().pick(weights, inflight, [])).toBe(want);
  });

  it("excluding the least loaded picks the next least loaded", () => {
    expect(new LeastOutstanding().pick([1, 1, 1], [3, 1, 2], [1])).toBe(2);
    expect(new LeastOutstanding().pick([1, 1, 1], [3, 1, 2], [1, 2])).toBe(0);
  });

  it("ties alternate, starting after the last pick", () => {
    const p = new LeastOutstanding();
    expect(letters(run(p, [1, 1, 1], 7))).toBe("abcabca");
    // a tie between a and c only: the one after the last pick (a) in order is c
    expect(p.pick([1, 1, 1], [0, 9, 0], [])).toBe(2);
    expect(p.pick([1, 1, 1], [0, 9, 0], [])).toBe(0);
  });

  it("weighted ties alternate too: (1 + 1) / 2 = (0 + 1) / 1", () => {
    const p = new LeastOutstanding();
    expect([p.pick([2, 1], [1, 0], []), p.pick([2, 1], [1, 0], []), p.pick([2, 1], [1, 0], [])]).toEqual([0, 1, 0]);
  });

  it("follows the load: every pick goes to the least loaded, weight by weight", () => {
    // requests never finish: in flight counts grow to 2:1 with weights 2:1
    const picks = run(new LeastOutstanding(), [2, 1], 9, { inFlight: 100 });
    expect(letters(picks)).toBe("abaabaaba");
    expect(counts(picks, 2)).toEqual([6, 3]);
  });
});

describe("random: power of two choices", () => {
  it.each([
    // weights, in flight, rand values -> pick. A draw takes r = rand * total over the candidates
    // left and walks them in order; the second draw leaves out the first.
    { weights: [1, 1, 1], inflight: [5, 0, 0], rand: [0.1, 0.9], want: 2, why: "a then c: c is less loaded" },
    { weights: [1, 1, 1], inflight: [0, 0, 5], rand: [0.9, 0.1], want: 0, why: "c then a: a is less loaded" },
    { weights: [1, 1, 1], inflight: [2, 2, 0], rand: [0.1, 0.1], want: 0, why: "a then b, equal load: the first draw wins" },
    { weights: [1, 1, 1], inflight: [9, 0, 0], rand: [0.5, 0.6], want: 1, why: "b then c, equal load: the first draw (b) wins" },
    { weights: [3, 1], inflight: [3, 1], rand: [0.9, 0], want: 1, why: "b then a, 3/3 = 1/1: the first draw wins" },
    { weights: [3, 1], inflight: [4, 1], rand: [0.1, 0], want: 1, why: "a then b, 4/3 > 1/1: b" },
    { weights: [3, 1], inflight: [2, 1], rand: [0.9, 0], want: 0, why: "b then a, 2/3 < 1/1: a" },
    { weights: [3, 1], inflight: [0, 0], rand: [0.9, 0], want: 1, why: "b then a, both idle: the first draw wins, not the heavier" },
    { weights: [0, 2, 0, 2], inflight: [0, 7, 0, 3], rand: [0.2, 0.5], want: 3, why: "only b and d are candidates: b then d, d less loaded" },
  ])("$why", ({ weights, inflight, rand, want }) => {
    const r = scripted(...rand);
    expect(new PowerOfTwoChoices(r).pick(weights, inflight, [])).toBe(want);
    expect(() => r()).toThrow(/only 2 values/); // exactly two draws
  });

  it("the two draws are distinct origins", () => {
    // rand 0 twice: a, then a again would be a without the second draw leaving it out
    expect(new PowerOfTwoChoices(scripted(0, 0)).pick([1, 1], [5, 0], [])).toBe(1);
  });

  it("a single candidate: one draw, no second", () => {
    const r = scripted(0.7);
    expect(new PowerOfTwoChoices(r).pick([0, 4, 0], [0, 99, 0], [0])).toBe(1);
    expect(() => r()).toThrow(/only 1 values/);
  });

  it("prefers the less loaded of two: with two candidates it never picks the busier", () => {
    const picks = run(new PowerOfTwoChoices(seeded(5)), [1, 1], 100, { inflight: [10, 0] });
    expect(distinct(picks)).toEqual([1]);
  });

  it("draws by weight: the first draw alone follows the weights", () => {
    // with three idle origins every pick is the first draw
    const picks = counts(run(new PowerOfTwoChoices(seeded(99)), [6, 3, 1], 2000), 3);
    for (const [i, share] of [0.6, 0.3, 0.1].entries()) expect(Math.abs(picks[i] / 2000 - share)).toBeLessThan(0.03);
  });

  it("the same seed gives the same picks", () => {
    const a = run(new PowerOfTwoChoices(seeded(3)), [1, 2, 3], 50, { inFlight: 4 });
    const b = run(new PowerOfTwoChoices(seeded(3)), [1, 2, 3], 50, { inFlight: 4 });
    expect(a).toEqual(b);
    expect(distinct(a)).toEqual([0, 1, 2]);
  });
});
