// Node only: starts the HTTP-controlled test origins (test/worker/origin-http.ts), each in its own
// process on 127.0.0.1, and reserves ports where nothing listens. Used by the worker project's
// globalSetup (test/worker/global-setup.ts) and by the Node run of the behaviour suite
// (test/behaviour/node.test.ts), so both builds face the very same origins.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";

const ORIGIN_SCRIPT = fileURLToPath(new URL("../worker/origin-http.ts", import.meta.url));

export interface OriginProcess {
  name: string;
  port: number;
  child: ChildProcess;
}

/** Starts one origin on a free port of 127.0.0.1 and waits until it listens (at most 10 s). */
export function startOrigin(name: string): Promise<OriginProcess> {
  // process.execPath is the Node that runs vitest (Node 24 from node_modules/.bin: strips types)
  const child = spawn(process.execPath, [ORIGIN_SCRIPT, name, "0"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`origin ${name} did not start within 10 s`));
    }, 10_000);
    child.once("message", (m: { type?: string; port?: number }) => {
      if (m.type !== "ready" || !m.port) return;
      clearTimeout(t);
      resolve({ name, port: m.port, child });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      reject(new Error(`origin ${name} exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
}

/** Stops one origin by its own pid: SIGTERM, then SIGKILL after 2 s. */
export async function stopOrigin(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(t);
}

/**
 * Starts every named origin; resolves with their ports and a function that stops them all. When
 * one fails to start, the ones already started are stopped before the error is thrown.
 */
export async function startOrigins(names: readonly string[]): Promise<{ ports: Record<string, number>; stop(): Promise<void> }> {
  const started: ChildProcess[] = [];
  const ports: Record<string, number> = {};
  const stop = async () => {
    await Promise.all(started.map(stopOrigin));
  };
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const o = await startOrigin(name);
      started.push(o.child);
      ports[name] = o.port;
    }),
  );
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { ports, stop };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * `count` distinct ports on 127.0.0.1 that nothing listens on, so connecting there is refused.
 * They are taken below the kernel's ephemeral range, so no later bind(0) (workerd, miniflare, an
 * origin) can land on one by chance, which did happen once with a port from bind(0) then closed.
 */
export async function reserveDeadPorts(count: number): Promise<number[]> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: assume the usual range
  }
  const from = 10_000, to = Math.max(from + 1000, low);
  const out: number[] = [];
  for (let i = 0; i < 50 * count && out.length < count; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (!out.includes(port) && (await canBind(port))) out.push(port);
  }
  if (out.length < count) throw new Error(`found only ${out.length} of ${count} free ports to leave dead`);
  return out;
}
