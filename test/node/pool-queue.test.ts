import { describe, expect, it } from "vitest";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { parseConfig } from "../../core/config/parse.ts";
import { createLogger } from "../../node/log.ts";
import { PoolRuntime } from "../../node/pool.ts";

// node/pool.ts's queue keeps waiters in an array read from `head` on, cut only now and then: a
// waiter the head has passed (served) or one whose client left must not keep its request alive
// there. At 9,000 connections that was thousands of finished requests (exchange, response,
// request) held until the cut: more old-space to mark, more RSS.
v8.setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function pool(): PoolRuntime {
  const r = parseConfig({
    listen: { host: "127.0.0.1", port: 0 },
    pools: { p: { origins: [{ name: "a", url: "http://127.0.0.1:9", maxconn: 1 }], check: { enabled: false }, maxQueue: 10000, timeouts: { queue: "1m" } } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return new PoolRuntime("p", r.config.pools.p, createLogger(() => {}));
}

/** A waiter whose callback holds a request-sized object, and a weak reference to that object. */
function waiter(p: PoolRuntime, served: number[], refs: WeakRef<object>[], i: number) {
  const request = { i, body: new Uint8Array(1024) };
  refs.push(new WeakRef(request));
  return p.enqueue([], (origin) => {
    served.push(request.i);
    if (origin >= 0) p.acquire(origin);
  });
}

describe("pool queue (node/pool.ts)", () => {
  it("a served waiter and a cancelled one are not held by the queue while others still wait", async () => {
    const p = pool();
    p.acquire(0); // the one slot is taken: everything below waits
    const served: number[] = [];
    const refs: WeakRef<object>[] = [];
    const ws = [];
    for (let i = 0; i < 2000; i++) ws.push(waiter(p, served, refs, i));
    expect(p.counters.queued).toBe(2000);
    // the clients of 100..199 leave while they wait
    for (let i = 100; i < 200; i++) p.cancel(ws[i]);
    // 600 served in order, one slot at a time (the head passes 700 slots: 600 served, 100 gone;
    // fewer than half the array, so it is not cut)
    for (let k = 0; k < 600; k++) p.release(0);
    expect(served).toEqual([...Array(100).keys(), ...Array.from({ length: 500 }, (_, k) => 200 + k)]);
    expect(p.counters.queued).toBe(1300);
    ws.length = 0;
    for (let k = 0; k < 2; k++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    const alive = (from: number, to: number) => refs.slice(from, to).filter((r) => r.deref() !== undefined).length;
    // (the engine may keep the last one or two it called alive a while: 1 of 500 in one run of 5)
    expect(alive(0, 100)).toBeLessThanOrEqual(1); // served (100 kept without the change)
    expect(alive(100, 200)).toBeLessThanOrEqual(1); // their clients left (100)
    expect(alive(200, 700)).toBeLessThanOrEqual(2); // served (500)
    expect(alive(700, 2000)).toBe(1300); // still waiting: kept
    // the rest is served in order too
    for (let k = 0; k < 1300; k++) p.release(0);
    expect(served.slice(600)).toEqual(Array.from({ length: 1300 }, (_, k) => 700 + k));
    expect(p.counters.queued).toBe(0);
  });
});
