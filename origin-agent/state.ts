import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Forced } from "../core/agent/derive.ts";

/** What survives a restart: a ceiling above every seq sent, and an operator's forced drain/maint. */
export interface Persisted {
  seq: number;
  forced: Forced;
}

/** Seq values reserved per write of the state file: about a minute of clock-derived seq. */
export const SEQ_RESERVE = 60_000_000;

/**
 * Report sequence numbers that grow across restarts: each is the larger of the last one + 1 and
 * the clock in microseconds (ms x 1000, safe integers until the year 2255), so a restart without
 * a state file still continues above the last seq. With a state file, a clock set back does too:
 * the file holds a ceiling above every seq handed out (reserved in blocks of SEQ_RESERVE, so it
 * is written about once a minute, not once a report), and a restart starts above it.
 */
export class SeqSource {
  private last: number;
  /** Every seq handed out is <= this; persisted before it is exceeded. */
  private reserved: number;
  private forcedNow: Forced;
  private readonly file: string | null;
  private readonly now: () => number;
  /** The first write error, reported once (the clock still keeps seq growing). */
  writeError: string | null = null;

  constructor(file: string | null, now: () => number) {
    this.file = file;
    this.now = now;
    const p = file ? readState(file) : null;
    this.last = p?.seq ?? 0;
    this.reserved = this.last;
    this.forcedNow = p?.forced ?? null;
  }

  /** The forced state found in the state file at start (or set since). */
  get forced(): Forced {
    return this.forcedNow;
  }

  /** The next seq; never handed out before the state file's ceiling covers it. */
  next(): number {
    this.last = Math.max(this.last + 1, Math.floor(this.now()) * 1000);
    if (this.last > this.reserved) {
      this.reserved = this.last + SEQ_RESERVE;
      this.save();
    }
    return this.last;
  }

  /** Remembers an operator's forced state across restarts. */
  setForced(f: Forced): void {
    this.forcedNow = f;
    this.save();
  }

  private save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify({ seq: this.reserved, forced: this.forcedNow })}\n`, { mode: 0o600 });
      // rename is atomic: a crash leaves the old file or the new one, never half of one
      renameSync(tmp, this.file);
    } catch (e) {
      this.writeError ??= `cannot write ${this.file}: ${(e as Error).message}`;
    }
  }
}

/** Reads a state file; a missing or broken one is no state (seq then comes from the clock). */
export function readState(file: string): Persisted | null {
  try {
    const j = JSON.parse(readFileSync(file, "utf8")) as Partial<Persisted>;
    const seq = Number.isSafeInteger(j.seq) && (j.seq as number) >= 0 ? (j.seq as number) : 0;
    const forced = j.forced === "drain" || j.forced === "maint" ? j.forced : null;
    return { seq, forced };
  } catch {
    return null;
  }
}
