import type { SecretLookup } from "../auth/index.ts";
import type { Config } from "../config/schema.ts";
import type { HealthEvent } from "../health/state.ts";
import { parseReport, reportTtl, type AgentReport } from "./report.ts";
import { HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, TOLERANCE_S, verifySignature } from "./sign.ts";

/** Largest report body, bytes. */
export const MAX_REPORT_BYTES = 4096;

/** What the receiver answers, and, when accepted, the health event to apply to `pool`. */
export type Verdict =
  | { status: 200; pool: string; origin: number; report: AgentReport; id: string }
  | { status: 400; problems: string[] }
  | { status: 401 }
  | { status: 409; problem: string }
  | { status: 413 };

/**
 * The stateless half of receiving a report, done where it arrives (the Worker, or the Node server):
 * size cap, which origin it claims to be from, signature and timestamp against that origin's keys,
 * then the full schema. A report that fails any of it changes nothing.
 */
export async function checkReport(
  headers: (name: string) => string | null | undefined,
  body: string,
  config: Config,
  secret: SecretLookup,
  nowMs: number,
): Promise<Verdict> {
  if (new TextEncoder().encode(body).length > MAX_REPORT_BYTES) return { status: 413 };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { status: 400, problems: ["(report): is not valid JSON"] };
  }
  const claim = json as { pool?: unknown; origin?: unknown };
  const poolName = typeof claim?.pool === "string" ? claim.pool : "";
  const pool = Object.hasOwn(config.pools, poolName) ? config.pools[poolName] : undefined;
  if (!pool) return { status: 400, problems: [`pool: names no pool in this config, got ${JSON.stringify(claim?.pool ?? null)}`] };
  const origin = pool.origins.findIndex((o) => o.name === claim.origin);
  if (origin === -1) return { status: 400, problems: [`origin: names no origin of pool ${poolName}, got ${JSON.stringify(claim?.origin ?? null)}`] };
  const keys = pool.origins[origin].agentKeys.map((name) => secret(name) ?? "");
  const sig = await verifySignature(
    { id: headers(HEADER_ID) ?? null, timestamp: headers(HEADER_TIMESTAMP) ?? null, signature: headers(HEADER_SIGNATURE) ?? null },
    body,
    keys,
    nowMs,
  );
  if (!sig.ok) return { status: 401 };
  const parsed = parseReport(json);
  if (!parsed.ok) return { status: 400, problems: parsed.problems };
  return { status: 200, pool: poolName, origin, report: parsed.report, id: headers(HEADER_ID)! };
}

/**
 * The stateful half, kept where the pool's state lives (the Durable Object, or the Node process):
 * an id is accepted once within twice the timestamp window, and `seq` must grow per origin.
 */
export class AgentLedger {
  /** id -> remembered until (ms, inclusive); pruned once there are many */
  private ids = new Map<string, number>();
  /** "pool/origin" -> last accepted seq */
  private seqs = new Map<string, number>();

  /** Admits a checked report or says why not (replayed id: 401; seq not growing: 409). */
  admit(v: Extract<Verdict, { status: 200 }>, nowMs: number): { ok: true; event: Extract<HealthEvent, { type: "agent" }> } | { ok: false; status: 401 | 409; problem: string } {
    this.forget(nowMs);
    // remembered up to and including `until`: a timestamp accepted at the edge of the window
    // (+300 s) is still refused on a replay at exactly receipt + 600 s
    const until = this.ids.get(v.id);
    if (until !== undefined && nowMs <= until) return { ok: false, status: 401, problem: "replayed id" };
    const key = `${v.pool}/${v.report.origin}`;
    const last = this.seqs.get(key);
    if (last !== undefined && v.report.seq <= last) return { ok: false, status: 409, problem: `seq must grow: got ${v.report.seq}, last ${last}` };
    this.ids.set(v.id, nowMs + 2 * TOLERANCE_S * 1000);
    this.seqs.set(key, v.report.seq);
    const r = v.report;
    return {
      ok: true,
      event: { type: "agent", origin: v.origin, at: nowMs, agent: { health: r.health, admin: r.admin, weightPct: r.weightPct, at: nowMs, ttl: reportTtl(r) } },
    };
  }

  private forget(nowMs: number): void {
    if (this.ids.size < 64) return;
    for (const [id, until] of this.ids) if (until < nowMs) this.ids.delete(id);
  }

  toJSON(): { ids: [string, number][]; seqs: [string, number][] } {
    return { ids: [...this.ids], seqs: [...this.seqs] };
  }

  static from(data: { ids: [string, number][]; seqs: [string, number][] } | null | undefined): AgentLedger {
    const l = new AgentLedger();
    if (data) {
      l.ids = new Map(data.ids);
      l.seqs = new Map(data.seqs);
    }
    return l;
  }
}
