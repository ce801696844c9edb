// A client for one HTTP-controlled test origin (test/worker/origin-http.ts): switch its mode, read
// and clear its request log. Runtime-neutral (only fetch), so the tests inside workerd
// (test/worker/helpers.ts) and the Node run of the behaviour suite use the same code.

export type OriginMode =
  | { mode: "ok"; delayMs?: number; status?: number; headers?: Record<string, string | string[]> }
  | { mode: "status"; status?: number; location?: string; delayMs?: number }
  | { mode: "hang" }
  | { mode: "close" }
  | { mode: "reset-mid-body"; bytes?: number }
  | { mode: "stall-mid-body"; bytes?: number };

export interface OriginLogEntry {
  method: string;
  url: string;
  /** x-request-id, or null */
  id: string | null;
  /** The Host header as the origin received it. */
  host: string | null;
  /** Raw header pairs as received: [name, value, name, value, ...]. */
  headers: string[];
  /** The request body as text; null until the origin has read it to its end. */
  body: string | null;
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

/** The origin called `name` listening on 127.0.0.1:`port`. */
export function httpOrigin(name: string, port: number | undefined): TestOrigin {
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
