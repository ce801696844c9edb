/** What a request lends for background work (the ExecutionContext). Here, not in pool.ts, so that the Node-side test can import SLOT_MS without the Worker's types. */
export interface Waiter {
  waitUntil(p: Promise<unknown>): void;
}

/** What a header deadline rejects with when the response head did not come in time. */
export const TIMED_OUT: unique symbol = Symbol("header timeout");

/** Width of a shared slot (ms): the tries whose deadlines fall in one slot time out together. */
export const SLOT_MS = 50;
/** Shortest deadline put in a shared slot (ms): a slot may fire up to SLOT_MS early, under 5 % of this. */
const SHARED_MIN_MS = 1000;
/**
 * Longest deadline put in a shared slot (ms). The slot's timer lives in the request that opened it,
 * which keeps itself alive with waitUntil until the slot fires or empties; Cloudflare gives
 * waitUntil 30 s after the response, and a slot fires at most `ms` after it opened.
 */
const SHARED_MAX_MS = 30_000;

interface Member {
  done: boolean;
  reject: (e: unknown) => void;
}

/** Tries whose deadlines fall in one SLOT_MS window, watched by one timer (or one try with a timer of its own: key -1). */
interface Slot {
  key: number;
  members: Member[];
  /** members whose head (or failure) has not come */
  live: number;
  timer: ReturnType<typeof setTimeout>;
  /** ends the opening request's waitUntil (a no-op for a timer of a try's own) */
  release: () => void;
}

const slots = new Map<number, Slot>();
/** Timers armed since the isolate started: shared slots (each with a waitUntil), and timers of a request's own. */
const armed = { shared: 0, own: 0 };

/**
 * Whether a promise settled from another request's context continues in the context that made it
 * (the compatibility flag handle_cross_request_promise_resolution, on by default since 2024-10-14).
 * Without it the continuation would run in the slot owner's context and fail on the first I/O
 * object of its own request, so every try gets a timer of its own. (The vitest pool for workerd
 * runs with the flag off, so the shared slots are tested under bare `workerd serve`:
 * test/workerd/deadlines.test.ts.)
 */
const crossRequest =
  (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } }).Cloudflare?.compatibilityFlags?.handle_cross_request_promise_resolution === true;

/**
 * The per-try header timeout: `sent` (a fetch) if its response head comes within `ms`, else a
 * rejection with TIMED_OUT, and the try is left behind (its late head's body canceled).
 *
 * A timer per request cost the Worker 5 % of its req/s under bare workerd (16 interleaved rounds
 * at c64 100 B: 1.051x req/s and 0.951x CPU per request without it), so concurrent tries share one:
 * deadlines are grouped in SLOT_MS slots, the first try of a slot arms its timer and keeps its own
 * request alive with waitUntil until every member has its head (the timer is cleared) or the timer
 * fires (the members still waiting are rejected). The rejection crosses requests: workerd runs each
 * waiting request's continuation in that request's own context (handle_cross_request_promise_resolution,
 * on since 2024-10-14). A slot fires at its start, so a try times out up to SLOT_MS early; deadlines
 * under SHARED_MIN_MS or over SHARED_MAX_MS get a timer of their own. No AbortSignal on the fetch:
 * workerd wraps the body of a fetch that has one (an AbortableInputStream), 2-4 % of req/s.
 * A try left behind holds its subrequest until its request ends, when workerd cancels it.
 */
export function headWithin(sent: Promise<Response>, ms: number, ctx: Waiter): Promise<Response> {
  let s: Slot;
  if (!crossRequest || ms < SHARED_MIN_MS || ms > SHARED_MAX_MS) s = open(-1, ms, null);
  else {
    const now = Date.now();
    const key = Math.floor((now + ms) / SLOT_MS);
    s = slots.get(key) ?? open(key, key * SLOT_MS - now, ctx);
  }
  return new Promise<Response>((resolve, reject) => {
    const m: Member = { done: false, reject };
    s.members.push(m);
    s.live++;
    sent.then(
      (res) => {
        if (m.done) return void res.body?.cancel().catch(() => {});
        m.done = true;
        leave(s);
        resolve(res);
      },
      (e: unknown) => {
        if (m.done) return;
        m.done = true;
        leave(s);
        reject(e);
      },
    );
  });
}

/** A slot whose timer fires in `delay` ms: shared under `key` (its opener kept alive by `ctx`), or a try's own (key -1, ctx null). */
function open(key: number, delay: number, ctx: Waiter | null): Slot {
  let release = NOTHING;
  if (ctx !== null) ctx.waitUntil(new Promise<void>((r) => (release = r)));
  const slot: Slot = { key, members: [], live: 0, timer: setTimeout(() => fire(slot), Math.max(0, delay)), release };
  if (key !== -1) {
    slots.set(key, slot);
    armed.shared++;
  } else armed.own++;
  return slot;
}

const NOTHING = (): void => {};

function leave(s: Slot): void {
  if (--s.live !== 0) return;
  clearTimeout(s.timer);
  close(s);
}

function fire(s: Slot): void {
  close(s);
  for (const m of s.members) {
    if (m.done) continue;
    m.done = true;
    m.reject(TIMED_OUT);
  }
}

function close(s: Slot): void {
  if (slots.get(s.key) === s) slots.delete(s.key);
  s.release();
}

/** Header-deadline timers armed since the isolate started (the Worker's stats). */
export function headerTimers(): { shared: number; own: number } {
  return { ...armed };
}
