/**
 * Per-try deadlines (the header and idle timeouts of node/proxy.ts) on a few Node timers instead of
 * one Timeout per exchange: the exchanges waiting on a deadline of one length are kept in a list in
 * the order they were armed, which is the order they fall due, and one unref'd Timeout per list
 * waits for the first of them. Arming, restarting and disarming are a few field writes, where a
 * Timeout per exchange (setTimeout, refresh, clearTimeout, an async id, ~200 bytes) was 1.8 % of
 * the CPU in a profile at c64 (bench/HISTORY.md: about 1 % less CPU per request, paired).
 *
 * Unref'd: an exchange waiting on an origin has its sockets open, which keep the process up.
 */
export interface Timed {
  /** When the deadline falls due (performance.now() ms). */
  dueAt: number;
  prevDue: Timed | null;
  nextDue: Timed | null;
  /** The list it is in, null when disarmed. */
  dueIn: Deadlines | null;
  /** The deadline passed (it is out of its list already). */
  expired(): void;
}

export class Deadlines {
  readonly ms: number;
  private head: Timed | null = null;
  private tail: Timed | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(ms: number) {
    this.ms = ms;
  }

  /** Arms `t` to fall due `ms` from now (out of any list it was in first). */
  arm(t: Timed, now: number): void {
    if (t.dueIn !== null) t.dueIn.disarm(t);
    t.dueAt = now + this.ms;
    t.dueIn = this;
    t.prevDue = this.tail;
    t.nextDue = null;
    if (this.tail !== null) this.tail.nextDue = t;
    else this.head = t;
    this.tail = t;
    if (this.timer === null) this.schedule(now);
  }

  /** Restarts `t`'s deadline from now (it must be in this list). */
  restart(t: Timed, now: number): void {
    if (t === this.tail) t.dueAt = now + this.ms;
    else this.arm(t, now);
  }

  disarm(t: Timed): void {
    const p = t.prevDue;
    const n = t.nextDue;
    if (p !== null) p.nextDue = n;
    else this.head = n;
    if (n !== null) n.prevDue = p;
    else this.tail = p;
    t.prevDue = t.nextDue = null;
    t.dueIn = null;
  }

  /** The Timeout waits for the first deadline (a later one when it finds that one restarted meanwhile). */
  private schedule(now: number): void {
    this.timer = setTimeout(fire, Math.max(1, Math.ceil(this.head!.dueAt - now)), this).unref();
  }

  /** (fire) Everything due is told, in order; the Timeout then waits for what is left. */
  run(): void {
    this.timer = null;
    const now = performance.now();
    try {
      let t: Timed | null;
      while ((t = this.head) !== null && t.dueAt <= now) {
        this.disarm(t);
        t.expired();
      }
    } finally {
      // (an expiry may have armed another deadline here, which scheduled the Timeout already)
      if (this.head !== null && this.timer === null) this.schedule(now);
    }
  }
}

function fire(d: Deadlines): void {
  d.run();
}

const lists = new Map<number, Deadlines>();

/** The list for deadlines of `ms` (one per length, for the process). */
export function deadlinesOf(ms: number): Deadlines {
  let d = lists.get(ms);
  if (d === undefined) lists.set(ms, (d = new Deadlines(ms)));
  return d;
}
