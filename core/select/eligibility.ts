import { effectiveWeight, unavailable, type PoolHealth } from "../health/state.ts";
import type { Policy } from "./policy.ts";

/**
 * Weights of one pool at one moment, split in tiers: primaries, then backups (used only when no
 * primary is eligible), then fail-open (origins out only by passive ejection, primary or backup,
 * tried when no primary and no backup is eligible). An origin out by its checks, its admin state,
 * its agent or a weight of 0 is in no tier. A weight of 0 = not a candidate.
 */
export interface WeightsView {
  readonly version: number;
  readonly primary: Float64Array;
  readonly backup: Float64Array;
  readonly failOpen: Float64Array;
  readonly hasPrimary: boolean;
  readonly hasBackup: boolean;
  readonly hasFailOpen: boolean;
  /** The view may change by itself at this time (ejection ends, slow-start step, agent report expires). */
  readonly validUntil: number;
}

/** Slow-start weights are recomputed at this step, ms. */
const RAMP_STEP_MS = 250;

export function computeWeights(h: PoolHealth, now: number, slowStartMs: number): WeightsView {
  const n = h.origins.length;
  const primary = new Float64Array(n);
  const backup = new Float64Array(n);
  const failOpen = new Float64Array(n);
  let hasPrimary = false, hasBackup = false, hasFailOpen = false;
  let validUntil = Infinity;
  for (let i = 0; i < n; i++) {
    const o = h.origins[i];
    if (o.ejectedUntil > now) validUntil = Math.min(validUntil, o.ejectedUntil);
    // a fresh agent report stops counting at at + ttl + 1; an expired one changes nothing any more
    if (o.agent && now <= o.agent.at + o.agent.ttl) validUntil = Math.min(validUntil, o.agent.at + o.agent.ttl + 1);
    // the ramp is stepped every RAMP_STEP_MS, and ends (full weight) exactly at upSince + slowStartMs
    if (slowStartMs > 0 && o.upSince !== 0 && now - o.upSince < slowStartMs)
      validUntil = Math.min(validUntil, now + RAMP_STEP_MS, o.upSince + slowStartMs);
    const why = unavailable(o, now);
    const w = effectiveWeight(o, now, slowStartMs);
    if (why === null && w > 0) {
      if (o.backup) (backup[i] = w), (hasBackup = true);
      else (primary[i] = w), (hasPrimary = true);
    } else if (why === "ejected" && w > 0) {
      failOpen[i] = w;
      hasFailOpen = true;
    }
  }
  return { version: h.version, primary, backup, failOpen, hasPrimary, hasBackup, hasFailOpen, validUntil };
}

/** No origin to send to: answer 503 at once. */
export const NONE = -1;
/** Candidates exist but every one is at its maxconn: wait in the queue. */
export const FULL = -2;

/**
 * Picks an origin: primaries, else backups, else fail-open. Skips origins in `exclude` (tried
 * for this request) and origins at their `maxconn` (0 = no limit). Returns an index, NONE or FULL.
 * `key`: the request's affinity key, for `balance: "source"`.
 * Fail-open is for a request's first try only: when every origin is out by passive ejection, one
 * try tells whether the ejection was wrong; a retry would go to another origin known to have just
 * failed, and while a farm is dying that doubles the attempts per request (G8: at most one).
 */
export function pickOrigin(
  policy: Policy,
  view: WeightsView,
  inflight: ArrayLike<number>,
  maxconn: ArrayLike<number>,
  exclude: readonly number[],
  key = 0,
): number {
  let full = false;
  for (let tier = 0; tier < 3; tier++) {
    const w = tier === 0 ? view.primary : tier === 1 ? view.backup : view.failOpen;
    if (tier === 0 ? !view.hasPrimary : tier === 1 ? !view.hasBackup : !view.hasFailOpen) continue;
    if (tier === 2 && exclude.length > 0) break;
    let skip = exclude;
    for (;;) {
      const i = policy.pick(w, inflight, skip, key);
      if (i === -1) break;
      if (maxconn[i] === 0 || inflight[i] < maxconn[i]) return i;
      full = true;
      skip = skip.concat(i);
    }
    // a tier with candidates that are only busy, not gone, is waited for rather than skipped
    if (full) return FULL;
  }
  return NONE;
}
