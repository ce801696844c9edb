// What test/worker/global-setup.ts provides to the "worker" project (read with inject() from
// "vitest" in tests, and with ctx.inject() in the pool options in vitest.config.ts).
// Type-only: seen by both the Node tsconfig (global-setup, vitest.config) and tsconfig.worker.json.
declare module "vitest" {
  export interface ProvidedContext {
    /** Port on 127.0.0.1 of each origin (test/worker/origin-http.ts), by name: a, b, c, h, x, probe. */
    origins: Record<string, number>;
    /** Ports on 127.0.0.1 that nothing listens on (connections are refused); distinct. */
    deadPorts: number[];
    /** deadPorts[0]. */
    deadPort: number;
  }
}

export {};
