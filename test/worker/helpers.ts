// Helpers for tests that run inside workerd (the "worker" project). Origins are the processes
// test/worker/global-setup.ts started (test/worker/origin-http.ts); tests drive them over HTTP.
import { inject, vi } from "vitest";

export type OriginMode =
  | { mode: "ok"; delayMs?: number; status?: number }
  | { mode: "status"; status?: number; location?: string; delayMs?: number }
  | { mode: "hang" }
  | { mode: "close" }
  | { mode: "reset-mid-body"; bytes?: number };

export interface OriginLogEntry {
  method: string;
  url: string;
  /** x-request-id, or null */
  id: string | null;
  /** The Host header as the origin received it. */
  host: string | null;
  /** Raw header pairs as received: [name, value, name, value, ...]. */
  headers: string[];
}

export interface TestOrigin {
  name: string;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  setMode(m: OriginMode): Promise<void>;
  log(): Promise<OriginLogEntry[]>;
  clearLog(): Promise<void>;
}

async function expectStatus(r: Response, status: number, what: string): Promise<void> {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
}

/** One of the origins started by global-setup: "a", "b", "c" (pool webfarm in the test config) or "probe". */
export function origin(name: string): TestOrigin {
  const port = inject("origins")[name];
  if (!port) throw new Error(`no origin named ${name}`);
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    port,
    url,
    async setMode(m) {
      await expectStatus(await fetch(`${url}/__origin/mode`, { method: "POST", body: JSON.stringify(m) }), 204, `origin ${name} mode`);
    },
    async log() {
      const r = await fetch(`${url}/__origin/log`);
      if (r.status !== 200) throw new Error(`origin ${name} log: ${r.status}`);
      return (await r.json()) as OriginLogEntry[];
    },
    async clearLog() {
      await expectStatus(await fetch(`${url}/__origin/log`, { method: "DELETE" }), 204, `origin ${name} clear log`);
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (connections are refused). */
export function deadUrl(): string {
  return `http://127.0.0.1:${inject("deadPort")}`;
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
