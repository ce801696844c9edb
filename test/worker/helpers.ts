// Helpers for tests that run inside workerd (the "worker" project). Origins are the processes
// test/worker/global-setup.ts started (test/worker/origin-http.ts); tests drive them over HTTP.
import { inject, vi } from "vitest";
import { httpOrigin, type TestOrigin } from "../behaviour/origin-client.ts";

export type { OriginLogEntry, OriginMode, TestOrigin } from "../behaviour/origin-client.ts";

/** One of the origins started by global-setup: "a", "b", "c" (pool webfarm in the test config), "h", "x" or "probe". */
export function origin(name: string): TestOrigin {
  return httpOrigin(name, inject("origins")[name]);
}

/** A URL on 127.0.0.1 where nothing listens (connections are refused); `i` < 2 picks one of the reserved ports. */
export function deadUrl(i = 0): string {
  const port = inject("deadPorts")[i];
  if (!port) throw new Error(`no dead port ${i}`);
  return `http://127.0.0.1:${port}`;
}

/**
 * Counts calls made through Durable Object stubs of `ns` (e.g. `env.HEALTH`): every
 * `ns.getByName(name)` made while the spy is on returns a stub whose method calls are recorded as
 * "name.method". The Worker gets the very same `env` object as the test (checked in probe.test.ts),
 * so this sees the Worker's calls too. Stubs obtained with idFromName()+get() are not seen.
 */
export function spyDurableObjectCalls(ns: DurableObjectNamespace): { calls: string[]; restore(): void } {
  const calls: string[] = [];
  const getByName = ns.getByName.bind(ns);
  const spy = vi.spyOn(ns, "getByName").mockImplementation((name: string, ...rest: unknown[]) => {
    const stub = (getByName as (...a: unknown[]) => DurableObjectStub)(name, ...rest);
    return new Proxy(stub, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== "function" || typeof key !== "string" || key === "then") return value;
        // Reflect.apply, not value.apply: on an RPC stub, `.apply`/`.call` are themselves RPC names
        return (...args: unknown[]) => {
          calls.push(`${name}.${key}`);
          return Reflect.apply(value, target, args);
        };
      },
    });
  });
  return { calls, restore: () => spy.mockRestore() };
}
