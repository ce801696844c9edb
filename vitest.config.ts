import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import "./test/worker/provided-context.ts";

/**
 * Secrets the test config refers to: example values for tests only (production: `wrangler secret
 * put NAME`). Tests inside workerd read them as env.EDGELB_ADMIN_TOKEN etc. ("cloudflare:workers").
 */
const TEST_SECRETS = {
  EDGELB_ADMIN_TOKEN: "test-admin-token",
  EDGELB_STATS_TOKEN: "test-stats-token",
};

/**
 * The config the Worker gets in tests (the EDGELB_CONFIG binding overrides the bundled edgelb.json).
 * Pool "webfarm" (the default) is origins a, b, c; pool "withdead" (requests with Host
 * withdead.test) is origin a plus a port where nothing listens.
 */
export function testConfig(origins: Record<string, number>, deadPort: number) {
  const at = (port: number) => `http://127.0.0.1:${port}`;
  return {
    listen: { host: "127.0.0.1", port: 0 }, // required by the schema; the Worker ignores it
    pools: {
      webfarm: {
        origins: ["a", "b", "c"].map((name) => ({ name, url: at(origins[name]) })),
      },
      withdead: {
        origins: [
          { name: "dead", url: at(deadPort) },
          { name: "a", url: at(origins.a) },
        ],
      },
    },
    defaultPool: "webfarm",
    routes: [{ host: ["withdead.test"], pool: "withdead" }],
    stats: { auth: { bearerEnv: "EDGELB_STATS_TOKEN" } },
    admin: { auth: { bearerEnv: "EDGELB_ADMIN_TOKEN" } },
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/core/**/*.test.ts", "test/node/**/*.test.ts", "test/behaviour/node.test.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                EDGELB_CONFIG: JSON.stringify(testConfig(inject("origins"), inject("deadPort"))),
                ...TEST_SECRETS,
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["./test/worker/global-setup.ts"],
          // the origins are shared and tests switch their modes: one file at a time (a 2-CPU machine
          // ran them one at a time anyway; a bigger one would not)
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
