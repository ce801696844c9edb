// Runs in Node (vitest's main process) before the "worker" project: starts real origins on
// 127.0.0.1, each in its own process (test/worker/origin-http.ts), reserves ports nothing
// listens on, and hands the ports to the project with project.provide(). Both the pool options
// in vitest.config.ts (miniflare bindings) and the tests inside workerd (inject() from "vitest")
// read them. The Node run of the behaviour suite starts the same origins the same way
// (test/behaviour/processes.ts).
import type { TestProject } from "vitest/node";
import { CONFIG_ORIGINS, DEAD_PORTS } from "../behaviour/config.ts";
import { reserveDeadPorts, startOrigins } from "../behaviour/processes.ts";
import "./provided-context.ts";

/** Origins started for the worker project: the test config's, plus "probe" for probe.test.ts. */
export const ORIGIN_NAMES = [...CONFIG_ORIGINS, "probe"] as const;

export default async function setup(project: TestProject) {
  const origins = await startOrigins(ORIGIN_NAMES);
  try {
    const deadPorts = await reserveDeadPorts(DEAD_PORTS);
    project.provide("origins", origins.ports);
    project.provide("deadPorts", deadPorts);
    project.provide("deadPort", deadPorts[0]);
  } catch (e) {
    await origins.stop();
    throw e;
  }
  return () => origins.stop();
}
