#!/usr/bin/env node
// The edgelb CLI. Runs the bundle `npm run build:node` writes (dist-node/edgelb.mjs, one file:
// it starts in a fraction of the time the sources take, and on any Node >= 22), or the TypeScript
// sources when there is no bundle or EDGELB_FROM_SOURCE=1 (Node >= 22.18 strips types natively).
// The compile cache keeps V8's compiled code between starts.
// builtins through process.getBuiltinModule: an ES import of node:fs builds its ES facade, whose
// getters load fs streams (~15 ms of a cold start here)
const { existsSync } = process.getBuiltinModule("node:fs");
process.getBuiltinModule("node:module").enableCompileCache?.();
const bundle = new URL("../dist-node/edgelb.mjs", import.meta.url);
const { main } = process.env.EDGELB_FROM_SOURCE !== "1" && existsSync(bundle) ? await import(bundle.href) : await import("../node/cli.ts");

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`edgelb: ${e?.stack ?? e}\n`);
  process.exit(1);
});
