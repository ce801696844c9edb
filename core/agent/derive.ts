import type { AdminState } from "../health/state.ts";
import type { AgentReport } from "./report.ts";

/**
 * From readings to the three things an agent reports (HAProxy's agent vocabulary, kept apart):
 * operational `health`, administrative `admin` and `weightPct`. Pure: the clock is `now`, the
 * memory is the `DeriveState` passed in and returned.
 */

export type Readings = AgentReport["readings"];

/**
 * Two thresholds of one signal. `soft`: the weight starts falling; `hard`: drain. For a signal
 * where high is bad, soft < hard; where low is bad (memAvailablePct), soft > hard.
 */
export interface Band {
  soft: number;
  hard: number;
}

/** The signals with thresholds, by the name used in reasons (`psi.cpu`, ...). */
export interface Thresholds {
  loadPerCpu?: Band;
  memAvailablePct?: Band;
  swapInPerSec?: Band;
  psi?: { cpu?: Band; memory?: Band; io?: Band };
}

export interface DeriveConfig {
  thresholds: Thresholds;
  /** Time every signal must stay below its soft threshold before a drained origin is ready again, ms. */
  holdTime: number;
  /** Smallest weight change reported, points; smaller moves are ignored (0 and 100 always pass). Default 10. */
  step: number;
  /** Time a higher weight must hold before it is reported, ms (the weight falls at once). */
  raiseAfter: number;
  /** Statuses of the app health URL that count as up, as [from, to] ranges. */
  appExpect: readonly (readonly [number, number])[];
}

/** The operator's word: a forced drain or maint (SIGUSR1), or none (automatic). */
export type Forced = "drain" | "maint" | null;

/** What derivation remembers between samples. */
export interface DeriveState {
  /** The weight last reported, 0-100. */
  weightPct: number;
  /** The automatic administrative state (ready, or drain after a hard threshold). */
  auto: "ready" | "drain";
  /** While draining: since when every signal has been below its soft threshold (ms), else null. */
  calmSince: number | null;
  /** Since when the computed weight has been at least a step above the reported one (ms), else null. */
  raiseSince: number | null;
  /** The operator's override, kept until released. */
  forced: Forced;
}

export const INITIAL_STATE: DeriveState = { weightPct: 100, auto: "ready", calmSince: null, raiseSince: null, forced: null };

/** One signal's position between its thresholds: < 0 below soft, 0-1 between, >= 1 at or past hard. */
export interface Pressure {
  signal: string;
  value: number;
  band: Band;
  score: number;
}

export interface Derived {
  health: "up" | "down";
  admin: AdminState;
  weightPct: number;
  /** Why, in a few words (at most 200 characters), when not plainly ready and up at 100 %. */
  reason?: string;
  /** The weight the readings call for right now, before hysteresis. */
  rawWeightPct: number;
  /** The worst signal, or null when no signal with thresholds has a reading. */
  worst: Pressure | null;
  state: DeriveState;
}

/** Position of `x` between a band's thresholds (works for both directions). */
export function score(x: number, b: Band): number {
  return (x - b.soft) / (b.hard - b.soft);
}

/** Every signal that has both thresholds and a reading. A null reading is no signal, never 0. */
export function pressures(r: Readings, t: Thresholds): Pressure[] {
  const out: Pressure[] = [];
  const add = (signal: string, value: number | null | undefined, band: Band | undefined) => {
    if (band && typeof value === "number" && Number.isFinite(value)) out.push({ signal, value, band, score: score(value, band) });
  };
  add("loadPerCpu", r.loadPerCpu, t.loadPerCpu);
  add("memAvailablePct", r.memAvailablePct, t.memAvailablePct);
  add("swapInPerSec", r.swapInPerSec, t.swapInPerSec);
  add("psi.cpu", r.psi?.cpu, t.psi?.cpu);
  add("psi.memory", r.psi?.memory, t.psi?.memory);
  add("psi.io", r.psi?.io, t.psi?.io);
  return out;
}

const fmt = (x: number) => String(Math.round(x * 100) / 100);

/** The app health URL's verdict: null when none is configured (the agent then says up). */
export function appUp(app: Readings["app"], expect: DeriveConfig["appExpect"]): boolean | null {
  if (!app) return null;
  return app.status > 0 && expect.some(([a, b]) => app.status >= a && app.status <= b);
}

/**
 * One step: readings at `now` and the previous state -> what to report and the next state.
 * - weightPct falls linearly from 100 at the soft threshold to 0 at the hard one; the worst signal
 *   wins. It moves only by `step` points or more (or to 0/100); it falls at once and rises only
 *   after the higher value has held for `raiseAfter`.
 * - admin is drain from the moment a signal reaches its hard threshold, and ready again only after
 *   every signal has stayed below its soft threshold for `holdTime`. A forced drain/maint wins.
 * - health is down while the app health URL fails (no answer, or a status outside `appExpect`).
 */
export function derive(r: Readings, prev: DeriveState, cfg: DeriveConfig, now: number): Derived {
  const ps = pressures(r, cfg.thresholds);
  let worst: Pressure | null = null;
  for (const p of ps) if (!worst || p.score > worst.score) worst = p;
  const top = worst ? Math.min(1, Math.max(0, worst.score)) : 0;
  const raw = Math.round(100 * (1 - top));
  const hard = ps.some((p) => p.score >= 1);
  const calm = ps.every((p) => p.score < 0);

  let weightPct = prev.weightPct;
  let raiseSince = prev.raiseSince;
  if (raw < weightPct) {
    raiseSince = null;
    if (weightPct - raw >= cfg.step || raw === 0) weightPct = raw;
  } else if (raw > weightPct && (raw - weightPct >= cfg.step || raw === 100)) {
    raiseSince ??= now;
    if (now - raiseSince >= cfg.raiseAfter) {
      weightPct = raw;
      raiseSince = null;
    }
  } else raiseSince = null;

  let auto = prev.auto;
  let calmSince = prev.calmSince;
  if (hard) {
    auto = "drain";
    calmSince = null;
  } else if (auto === "drain") {
    if (!calm) calmSince = null;
    else {
      calmSince ??= now;
      if (now - calmSince >= cfg.holdTime) {
        auto = "ready";
        calmSince = null;
      }
    }
  } else calmSince = null;

  const admin: AdminState = prev.forced ?? auto;
  const app = appUp(r.app, cfg.appExpect);
  const health = app === false ? "down" : "up";

  const why: string[] = [];
  if (app === false) why.push(r.app!.status === 0 ? "app health: no answer" : `app health: status ${r.app!.status}`);
  if (prev.forced) why.push(`${prev.forced} forced by the operator`);
  if (hard) for (const p of ps) if (p.score >= 1) why.push(`${p.signal} ${fmt(p.value)} past hard ${fmt(p.band.hard)}`);
  if (!hard && auto === "drain") why.push(calmSince === null ? "draining until every signal is below soft" : `draining: calm for ${fmt((now - calmSince) / 1000)}s of ${fmt(cfg.holdTime / 1000)}s`);
  if (!hard && worst && worst.score > 0) why.push(`${worst.signal} ${fmt(worst.value)} past soft ${fmt(worst.band.soft)}`);
  const reason = why.length ? why.join("; ").slice(0, 200) : undefined;

  return {
    health,
    admin,
    weightPct,
    ...(reason ? { reason } : {}),
    rawWeightPct: raw,
    worst,
    state: { weightPct, auto, calmSince, raiseSince, forced: prev.forced },
  };
}

/** The HAProxy agent-check answer for a report: `ready up 75%`, `drain up 0% #why`, `ready down 100% #why`. */
export function haproxyLine(d: { health: string; admin: AdminState; weightPct: number; reason?: string }): string {
  // HAProxy reads words separated by spaces, tabs or commas, and a description after '#'; a word
  // ends only at a separator, so "50%#why" would be one (invalid) weight word: the '#' needs a space
  const words = [d.admin, d.health, `${Math.round(d.weightPct)}%`];
  const why = d.reason ? ` #${d.reason.replace(/[\r\n#]/g, " ")}` : "";
  return `${words.join(" ")}${why}\n`;
}
