#!/usr/bin/env node
// The edgelb CLI. Runs the TypeScript sources directly (Node >= 22.18 strips types natively).
import { main } from "../node/cli.ts";

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`edgelb: ${e?.stack ?? e}\n`);
  process.exit(1);
});
