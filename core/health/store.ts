import type { PoolConfig } from "../config/schema.ts";
import { computeWeights, type WeightsView } from "../select/eligibility.ts";
import { initialHealth, reduce, type HealthChangeKind, type HealthEvent, type PoolHealth } from "./state.ts";

export { CHANGE_KINDS, type HealthChangeKind } from "./state.ts";

/** A state change worth a log line (and a webhook): an origin went up/down, was ejected, changed admin state... */
export interface HealthChange {
  kind: HealthChangeKind;
  origin: string;
  from: string;
  to: string;
  reason: string;
  /** When it happened (the event's time, ms since the epoch). */
  at: number;
}

/**
 * The in-memory health of one pool: the reducer's state plus a cached weights view. Both builds
 * hold one (Node per pool, the edge per isolate as a snapshot copy, the Durable Object as owner).
 */
export class HealthStore {
  state: PoolHealth;
  private cfg: PoolConfig;
  private readonly rand: () => number;
  private view: WeightsView | null = null;
  /** Called with every change that an operator would want in the log. */
  onChange: ((c: HealthChange) => void) | null = null;

  constructor(cfg: PoolConfig, rand: () => number, state?: PoolHealth) {
    this.cfg = cfg;
    this.rand = rand;
    this.state = state ?? initialHealth(cfg);
  }

  /** Applies one event through the reducer; returns true when the state changed. */
  apply(ev: HealthEvent): boolean {
    const prev = this.state;
    const next = reduce(prev, ev, this.cfg, this.rand);
    if (next === prev) return false;
    this.state = next;
    this.view = null;
    if (this.onChange) {
      if (ev.type === "tick") this.expired(prev, next, ev.at);
      else this.describe(prev, next, ev);
    }
    return true;
  }

  /** Replaces the whole state (a snapshot from the Durable Object). */
  replace(state: PoolHealth): void {
    this.state = state;
    this.view = null;
  }

  /** The weights to pick from at `now`, recomputed only when the state changed or time moved past a boundary. */
  weights(now: number): WeightsView {
    const v = this.view;
    if (v !== null && now < v.validUntil) return v;
    this.apply({ type: "tick", at: now });
    return (this.view = computeWeights(this.state, now, this.cfg.slowStart));
  }

  private describe(prev: PoolHealth, next: PoolHealth, ev: Exclude<HealthEvent, { type: "tick" }>): void {
    const a = prev.origins[ev.origin], b = next.origins[ev.origin];
    if (!a || !b) return;
    const origin = b.name, at = ev.at, emit = this.onChange!;
    if (a.up !== b.up) {
      const reason = ev.type === "check" ? `check ${ev.ok ? "passed" : "failed"}: ${ev.detail}` : ev.type;
      emit({ kind: b.up ? "up" : "down", origin, from: a.up ? "UP" : "DOWN", to: b.up ? "UP" : "DOWN", reason, at });
    }
    if (b.ejectionsTotal !== a.ejectionsTotal) {
      const reason = ev.type === "outcome" ? `${ev.kind} on real traffic` : ev.type;
      emit({ kind: "ejected", origin, from: "in service", to: `ejected for ${b.ejectedUntil - b.ejectedAt}ms`, reason, at });
    }
    if (a.ejectNeedsCheck && !b.ejectNeedsCheck) emit({ kind: "returned", origin, from: "ejected", to: "in service after ejection time", reason: "check passed", at });
    if (a.admin !== b.admin) emit({ kind: "admin", origin, from: a.admin, to: b.admin, reason: "admin", at });
    if (a.weight !== b.weight) emit({ kind: "weight", origin, from: `weight ${a.weight}`, to: `weight ${b.weight}`, reason: "admin", at });
    if (ev.type === "agent") {
      // the agent's admin and health words; its weight % moves with every report and is left to the stats
      const was = a.agent, now = b.agent;
      if ((was?.admin ?? "ready") !== (now?.admin ?? "ready")) emit({ kind: "agent", origin, from: `agent ${was?.admin ?? "ready"}`, to: `agent ${now?.admin ?? "ready"}`, reason: "agent report", at });
      if ((was?.health ?? "up") !== (now?.health ?? "up")) emit({ kind: "agent", origin, from: `agent ${was?.health ?? "up"}`, to: `agent ${now?.health ?? "up"}`, reason: "agent report", at });
    }
  }

  /** A tick forgot expired agent reports: worth saying when the report was keeping the origin out. */
  private expired(prev: PoolHealth, next: PoolHealth, at: number): void {
    for (let i = 0; i < next.origins.length; i++) {
      const was = prev.origins[i]?.agent, b = next.origins[i];
      if (!was || b.agent || (was.admin === "ready" && was.health === "up")) continue;
      const from = was.admin !== "ready" ? `agent ${was.admin}` : `agent ${was.health}`;
      this.onChange!({ kind: "agent", origin: b.name, from, to: "agent silent", reason: "agent report expired", at });
    }
  }
}
