/**
 * Selection policies behind one interface. A policy sees per-origin weights (0 = not a candidate)
 * and in-flight counts, and returns an origin index or -1. Eligibility (health, admin state,
 * backup, maxconn) is decided before, in `eligibility.ts`; a policy only spreads load.
 */
export interface Policy {
  readonly name: PolicyName;
  /**
   * Picks an index i with weights[i] > 0 that is not in `exclude`; -1 when there is none.
   * `inflight[i]` is the number of requests in flight on origin i. `key`: the request's affinity
   * key (`hashKey` of the client address), read by `source` only.
   */
  pick(weights: ArrayLike<number>, inflight: ArrayLike<number>, exclude: readonly number[], key?: number): number;
}

export type PolicyName = "roundrobin" | "leastconn" | "random" | "source";

/** Creates a policy for a pool of `size` origins; `rand` returns [0, 1). */
export function createPolicy(name: PolicyName, size: number, rand: () => number = Math.random): Policy {
  switch (name) {
    case "roundrobin":
      return new SmoothWeightedRoundRobin(size);
    case "leastconn":
      return new LeastOutstanding();
    case "random":
      return new PowerOfTwoChoices(rand);
    case "source":
      return new SourceHash();
  }
}

/** FNV-1a of a string (the client address), as an unsigned 32-bit affinity key. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A 32-bit mix (murmur3's finalizer) of a key and an origin index. */
function mix(key: number, i: number): number {
  let h = (key ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Client affinity (HAProxy `balance source`) by weighted rendezvous hashing: each candidate scores
 * weight / -ln(u), u uniform from hash(key, origin); the highest wins. One client address always
 * goes to the same origin while it is eligible; an origin that leaves moves only its own clients
 * (to their next best), and one that comes back gets exactly those back, where HAProxy's map-based
 * hash reshuffles everyone. Shares follow the weights. Deterministic: every edge isolate agrees.
 */
export class SourceHash implements Policy {
  readonly name = "source" as const;
  pick(weights: ArrayLike<number>, _inflight: ArrayLike<number>, exclude: readonly number[], key = 0): number {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!(w > 0) || (exclude.length !== 0 && exclude.includes(i))) continue;
      const u = (mix(key, i) + 0.5) / 4294967296;
      const score = w / -Math.log(u);
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  }
}

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every pick adds each
 * candidate's weight to its current score, takes the highest and subtracts the total.
 * Weights 5:1:1 give a,a,b,a,c,a,a: even spread, no bursts.
 */
export class SmoothWeightedRoundRobin implements Policy {
  readonly name = "roundrobin" as const;
  private readonly current: Float64Array;
  constructor(size: number) {
    this.current = new Float64Array(size);
  }
  pick(weights: ArrayLike<number>, _inflight: ArrayLike<number>, exclude: readonly number[]): number {
    const cur = this.current;
    let best = -1;
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!(w > 0) || (exclude.length !== 0 && exclude.includes(i))) continue;
      cur[i] += w;
      total += w;
      if (best === -1 || cur[i] > cur[best]) best = i;
    }
    if (best !== -1) cur[best] -= total;
    return best;
  }
}

/**
 * Least outstanding requests, weighted: the lowest (inflight + 1) / weight wins (HAProxy leastconn);
 * ties go round-robin from after the last pick so equal origins alternate.
 */
export class LeastOutstanding implements Policy {
  readonly name = "leastconn" as const;
  private last = -1;
  pick(weights: ArrayLike<number>, inflight: ArrayLike<number>, exclude: readonly number[]): number {
    const n = weights.length;
    let best = -1;
    let bestScore = Infinity;
    for (let k = 1; k <= n; k++) {
      const i = (this.last + k) % n;
      const w = weights[i];
      if (!(w > 0) || (exclude.length !== 0 && exclude.includes(i))) continue;
      const score = (inflight[i] + 1) / w;
      if (score < bestScore) {
        best = i;
        bestScore = score;
      }
    }
    if (best !== -1) this.last = best;
    return best;
  }
}

/**
 * Random power of two choices: two candidates drawn by weight, the one with fewer requests in
 * flight (relative to its weight) wins, the first drawn on a tie, so an idle pool is spread by
 * weight. Near least-outstanding quality with no shared state.
 */
export class PowerOfTwoChoices implements Policy {
  readonly name = "random" as const;
  private readonly rand: () => number;
  constructor(rand: () => number) {
    this.rand = rand;
  }
  pick(weights: ArrayLike<number>, inflight: ArrayLike<number>, exclude: readonly number[]): number {
    const a = this.draw(weights, exclude, -1);
    if (a === -1) return -1;
    const b = this.draw(weights, exclude, a);
    if (b === -1) return a;
    // load per unit of weight; on a tie the first draw (already weighted) wins. Not (inflight + 1) /
    // weight: with nothing in flight that always picks the heavier of the two, so weights 3:1 gave
    // the lighter origin no traffic at all instead of a quarter.
    const sa = inflight[a] / weights[a];
    const sb = inflight[b] / weights[b];
    return sb < sa ? b : a;
  }
  /** One weighted draw among candidates, skipping `skip`. */
  private draw(weights: ArrayLike<number>, exclude: readonly number[], skip: number): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      if (i !== skip && weights[i] > 0 && !(exclude.length !== 0 && exclude.includes(i))) total += weights[i];
    }
    if (total === 0) return -1;
    let r = this.rand() * total;
    let lastOk = -1;
    for (let i = 0; i < weights.length; i++) {
      if (i === skip || !(weights[i] > 0) || (exclude.length !== 0 && exclude.includes(i))) continue;
      lastOk = i;
      r -= weights[i];
      if (r < 0) return i;
    }
    return lastOk;
  }
}
