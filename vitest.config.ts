import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";
import { TEST_SECRETS, testConfig } from "./test/behaviour/config.ts";
import "./test/worker/provided-context.ts";

/** The fault kit and the fault scenarios G1-G13 of issue 6 (test/faults/g*.test.ts). */
const FAULT_SCENARIOS = ["test/faults/g[0-9]*.test.ts", "test/faults/kit/**/*.test.ts"];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/core/**/*.test.ts", "test/node/**/*.test.ts", "test/agent/**/*.test.ts", "test/faults/**/*.test.ts", "test/workerd/**/*.test.ts", "test/behaviour/node.test.ts"],
          exclude: [...configDefaults.exclude, ...FAULT_SCENARIOS],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "faults",
          include: FAULT_SCENARIOS,
          environment: "node",
          // load scenarios with timing bounds (p99, deadlines) on a 2-CPU machine: one file at a time, in the
          // sequential group that runs after the parallel projects, so no other test file shares the CPUs
          fileParallelism: false,
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
                // the same config the Node run of the behaviour suite uses (test/behaviour/config.ts)
                EDGELB_CONFIG: JSON.stringify(testConfig(inject("origins"), inject("deadPorts"))),
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
