import type { KeyObject } from "node:crypto";
import { derive, haproxyLine, INITIAL_STATE, type DeriveConfig, type DeriveState, type Derived, type Readings } from "../core/agent/derive.ts";
import type { AgentReport } from "../core/agent/report.ts";
import { Collector } from "./collect.ts";
import type { AgentConfig, Target } from "./config.ts";
import { HaproxyAgentServer } from "./haproxy.ts";
import { backoffDelay, post, type Delivery } from "./send.ts";
import { hmacKey, signSync } from "./sign.ts";
import { SeqSource } from "./state.ts";

export type Log = (level: "info" | "warn" | "error", o: Record<string, unknown>) => void;

/** JSON lines on stderr, one object per event (the same shape as edgelb serve's log). */
export const stderrLog: Log = (level, o) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, ...o })}\n`);

export interface AgentDeps {
  now(): number;
  rand(): number;
  log: Log;
}

interface TargetState {
  target: Target;
  failures: number;
  /** No try before this time (ms): the backoff after failures. */
  nextAt: number;
  inflight: boolean;
  lastError: string | null;
}

/** The derivation settings of an agent config. */
export function deriveConfig(c: AgentConfig): DeriveConfig {
  const t = c.thresholds;
  const b = <T>(x: T | null | undefined) => x ?? undefined;
  return {
    thresholds: {
      loadPerCpu: b(t.loadPerCpu),
      memAvailablePct: b(t.memAvailablePct),
      swapInPerSec: b(t.swapInPerSec),
      psi: { cpu: b(t.psi.cpu), memory: b(t.psi.memory), io: b(t.psi.io) },
    },
    holdTime: c.holdTime,
    step: c.weightStep,
    raiseAfter: c.raiseAfter,
    appExpect: c.appHealth?.expect ?? [[200, 399]],
  };
}

/**
 * The agent's loop: every interval (+ jitter) it samples, derives health/admin/weight, and POSTs a
 * signed report to every target that is not backing off. The HAProxy listener, when configured,
 * answers with the same derivation.
 */
export class OriginAgent {
  private readonly cfg: AgentConfig;
  private readonly key: KeyObject;
  private readonly deps: AgentDeps;
  private readonly dcfg: DeriveConfig;
  private readonly collector: Collector;
  private readonly seq: SeqSource;
  private readonly targets: TargetState[];
  private readonly haproxy: HaproxyAgentServer | null;
  private state: DeriveState;
  private last: { readings: Readings; derived: Derived } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopping = false;
  /** Reports sent so far (every target), and accepted. */
  readonly counts = { sent: 0, accepted: 0 };

  constructor(cfg: AgentConfig, key: string, deps: AgentDeps) {
    this.cfg = cfg;
    this.key = hmacKey(key);
    this.deps = deps;
    this.dcfg = deriveConfig(cfg);
    this.collector = new Collector(cfg.procRoot, cfg.appHealth);
    this.seq = new SeqSource(cfg.stateFile ?? null, deps.now);
    this.state = { ...INITIAL_STATE, forced: this.seq.forced };
    this.targets = cfg.targets.map((target) => ({ target, failures: 0, nextAt: 0, inflight: false, lastError: null }));
    this.haproxy = cfg.haproxyAgent ? new HaproxyAgentServer() : null;
  }

  /** Starts the HAProxy listener (if any) and the loop; the first report goes out at once. */
  async start(): Promise<{ haproxyPort?: number }> {
    let haproxyPort: number | undefined;
    if (this.haproxy && this.cfg.haproxyAgent) {
      const a = await this.haproxy.listen(this.cfg.haproxyAgent.host, this.cfg.haproxyAgent.port);
      haproxyPort = a.port;
    }
    this.deps.log("info", {
      event: "started",
      pool: this.cfg.pool,
      origin: this.cfg.origin,
      targets: this.targets.map((t) => t.target.url.href),
      interval: this.cfg.interval,
      ...(haproxyPort !== undefined ? { haproxyAgent: `${this.cfg.haproxyAgent!.host}:${haproxyPort}` } : {}),
      ...(this.state.forced ? { forced: this.state.forced } : {}),
    });
    this.kick();
    return haproxyPort !== undefined ? { haproxyPort } : {};
  }

  /**
   * The operator's word (SIGUSR1: drain, SIGUSR2: ready). A forced drain or maint holds until
   * ready; ready also ends an automatic drain at once (no hold time), and a signal still past its
   * hard threshold drains again on the next sample. Kept in the state file across restarts.
   */
  force(what: "drain" | "maint" | "ready"): void {
    if (this.stopping) return;
    this.state = what === "ready" ? { ...this.state, forced: null, auto: "ready", calmSince: null } : { ...this.state, forced: what };
    this.seq.setForced(this.state.forced);
    this.deps.log("warn", { event: "forced", admin: what });
    this.kick();
  }

  /** Runs a sample + report now, or right after the one in progress. */
  private kick(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.tick().finally(() => {
      this.running = null;
      if (this.stopping) return;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async tick(): Promise<void> {
    const started = this.deps.now();
    try {
      const readings = await this.collector.sample(started);
      const d = derive(readings, this.state, this.dcfg, this.deps.now());
      const prev = this.last?.derived;
      this.state = d.state;
      this.last = { readings, derived: d };
      if (!prev || prev.health !== d.health || prev.admin !== d.admin || prev.weightPct !== d.weightPct)
        this.deps.log(d.admin === "ready" && d.health === "up" ? "info" : "warn", {
          event: "state",
          health: d.health,
          admin: d.admin,
          weightPct: d.weightPct,
          ...(d.reason ? { reason: d.reason } : {}),
          readings,
        });
      this.haproxy?.set(haproxyLine(d));
      await this.send(this.report(d, readings), started, false);
    } catch (e) {
      this.deps.log("error", { event: "bug", error: String((e as Error)?.stack ?? e) });
    } finally {
      if (!this.stopping) {
        const wait = Math.max(0, started + this.cfg.interval + Math.round(this.deps.rand() * this.cfg.jitter) - this.deps.now());
        this.timer = setTimeout(() => this.kick(), wait);
      }
    }
  }

  private report(d: Pick<Derived, "health" | "admin" | "weightPct" | "reason">, readings: Readings): AgentReport {
    return {
      v: 1,
      pool: this.cfg.pool,
      origin: this.cfg.origin,
      seq: this.seq.next(),
      ts: Math.floor(this.deps.now()),
      interval: this.cfg.interval,
      health: d.health,
      admin: d.admin,
      weightPct: d.weightPct,
      ...(d.reason ? { reason: d.reason } : {}),
      readings,
    };
  }

  /**
   * Signs once and POSTs to every target that is due (not in flight, not backing off), or to all
   * of them when `all`. Returns once the requests are started; `all` waits for the answers.
   */
  private async send(report: AgentReport, tickAt: number, all: boolean): Promise<void> {
    if (this.seq.writeError) {
      this.deps.log("warn", { event: "state-file", error: this.seq.writeError, note: "seq still grows with the clock" });
      this.seq.writeError = null;
    }
    const body = JSON.stringify(report);
    const headers = signSync(this.key, `rep_${crypto.randomUUID()}`, Math.floor(this.deps.now() / 1000), body);
    const tries: Promise<void>[] = [];
    for (const t of this.targets) {
      if (!all && (t.inflight || tickAt < t.nextAt)) continue;
      t.inflight = true;
      this.counts.sent++;
      tries.push(post(t.target, body, headers, this.cfg.timeout).then((d) => this.delivered(t, d, tickAt)));
    }
    if (all) await Promise.all(tries);
  }

  private delivered(t: TargetState, d: Delivery, tickAt: number): void {
    t.inflight = false;
    if (!d.error) {
      this.counts.accepted++;
      if (t.failures > 0) this.deps.log("info", { event: "target-ok", target: t.target.url.href, after: t.failures });
      t.failures = 0;
      t.nextAt = 0;
      t.lastError = null;
      return;
    }
    t.failures++;
    const delay = backoffDelay(t.failures, this.cfg.interval, Math.max(this.cfg.interval, this.cfg.backoffMax), this.deps.rand());
    t.nextAt = tickAt + delay;
    const why =
      d.status === 401 ? "signature refused: check the key (keyEnv/keyFile vs the balancer's agentKeys) and this host's clock" :
      d.status === 409 ? "seq or id refused (a clock set back without a stateFile?)" :
      d.status === 400 ? "report refused: pool/origin names or values (see detail)" : d.error;
    // once per kind of failure, not every second
    if (t.lastError !== why) this.deps.log("warn", { event: "target-failed", target: t.target.url.href, status: d.status, error: why, ...(d.detail ? { detail: d.detail } : {}), retryInMs: delay });
    t.lastError = why;
  }

  /** The last report: admin drain, to every target, waiting for the answers (each within the timeout). */
  async stop(why: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    const readings = this.last?.readings ?? (await this.collector.sample(this.deps.now()));
    const d = this.last?.derived;
    const final = { health: d?.health ?? "up", admin: "drain" as const, weightPct: d?.weightPct ?? 100, reason: `agent stopping (${why})` };
    this.haproxy?.set(haproxyLine(final));
    await this.send(this.report(final, readings), this.deps.now(), true);
    this.deps.log("info", { event: "stopped", reason: why, lastReport: "drain", sent: this.counts.sent, accepted: this.counts.accepted });
    await this.haproxy?.close();
  }
}
