// Runs in Node (vitest's main process) before the "worker" project: starts real origins on
// 127.0.0.1, each in its own process (test/worker/origin-http.ts), reserves a port nothing
// listens on, and hands the ports to the project with project.provide(). Both the pool options
// in vitest.config.ts (miniflare bindings) and the tests inside workerd (inject() from "vitest")
// read them.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import "./provided-context.ts";

const ORIGIN_SCRIPT = fileURLToPath(new URL("./origin-http.ts", import.meta.url));

/** Origins started for the worker project. "probe" is reserved for probe.test.ts. */
export const ORIGIN_NAMES = ["a", "b", "c", "probe"] as const;

function startOrigin(name: string): Promise<{ child: ChildProcess; port: number }> {
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
      resolve({ child, port: m.port });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      reject(new Error(`origin ${name} exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * A port on 127.0.0.1 that nothing listens on, so connecting there is refused. It is taken below
 * the kernel's ephemeral range, so no later bind(0) (workerd, miniflare, an origin) can land on it
 * by chance, which did happen once with a port from bind(0) then closed.
 */
async function reserveDeadPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: assume the usual range
  }
  const from = 10_000, to = Math.max(from + 1000, low);
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (await canBind(port)) return port;
  }
  throw new Error("found no free port to leave dead");
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM"); // by this child's own pid
  const t = setTimeout(() => child.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(t);
}

export default async function setup(project: TestProject) {
  const started: ChildProcess[] = [];
  try {
    const origins: Record<string, number> = {};
    for (const r of await Promise.allSettled(ORIGIN_NAMES.map(async (name) => {
      const o = await startOrigin(name);
      started.push(o.child);
      origins[name] = o.port;
    }))) if (r.status === "rejected") throw r.reason;
    project.provide("origins", origins);
    project.provide("deadPort", await reserveDeadPort());
  } catch (e) {
    await Promise.all(started.map(stop));
    throw e;
  }
  return async () => {
    await Promise.all(started.map(stop));
  };
}
