import type { PoolConfig } from "../config/schema.ts";
import { computeWeights, type WeightsView } from "../select/eligibility.ts";
import { initialHealth, reduce, type HealthEvent, type PoolHealth } from "./state.ts";

/** A state change worth a log line: an origin went up/down, was ejected, or changed admin state. */
export interface HealthChange {
  origin: string;
  from: string;
  to: string;
  reason: string;
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
    if (this.onChange && ev.type !== "tick") this.describe(prev, next, ev);
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

  private describe(prev: PoolHealth, next: PoolHealth, ev: HealthEvent): void {
    if (!("origin" in ev)) return;
    const a = prev.origins[ev.origin], b = next.origins[ev.origin];
    if (!a || !b) return;
    const name = b.name;
    if (a.up !== b.up) {
      const why = ev.type === "check" ? `check ${ev.ok ? "passed" : "failed"}: ${ev.detail}` : ev.type;
      this.onChange!({ origin: name, from: a.up ? "UP" : "DOWN", to: b.up ? "UP" : "DOWN", reason: why });
    }
    if (b.ejectionsTotal !== a.ejectionsTotal) {
      const why = ev.type === "outcome" ? `${ev.kind} on real traffic` : ev.type;
      this.onChange!({ origin: name, from: "in service", to: `ejected for ${b.ejectedUntil - b.ejectedAt}ms`, reason: why });
    }
    if (a.ejectNeedsCheck && !b.ejectNeedsCheck) this.onChange!({ origin: name, from: "ejected", to: "in service after ejection time", reason: "check passed" });
    if (a.admin !== b.admin) this.onChange!({ origin: name, from: a.admin, to: b.admin, reason: "admin" });
    if (a.weight !== b.weight) this.onChange!({ origin: name, from: `weight ${a.weight}`, to: `weight ${b.weight}`, reason: "admin" });
  }
}
