#!/usr/bin/env node
// The origin agent CLI (edgelb-agent --config agent.json). Runs the TypeScript sources directly
// (Node >= 22.18 strips types natively); NODE_COMPILE_CACHE keeps the stripped code between starts.
import { main } from "../origin-agent/cli.ts";

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`edgelb-agent: ${e?.stack ?? e}\n`);
  process.exit(1);
});
