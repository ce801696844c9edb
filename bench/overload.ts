// `npm run bench -- overload`: a farm with one drowning origin (200 ms late, load 3 per CPU), plain
// round-robin vs the same farm with edgelb-agent on that origin. Prints p50/p99 and the slow origin's
// share; target: p99 at least 3x lower with the agent, no request lost.
import { runOverload } from "../test/agent/overload-scenario.ts";

const requests = Number(process.env.REQUESTS ?? 4000), concurrency = Number(process.env.CONCURRENCY ?? 16);
const rows = [await runOverload(false, requests, concurrency), await runOverload(true, requests, concurrency)];
const f = (x: number) => x.toFixed(1);
console.log(`## Overload: ${requests} GETs at ${concurrency} concurrent, web02 200 ms late with load 3/CPU\n`);
console.log("| farm | p50 ms | p99 ms | failed | web02 share |\n|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.withAgent ? "with edgelb-agent" : "plain round-robin"} | ${f(r.p50)} | ${f(r.p99)} | ${r.failed} | ${(100 * r.slowShare).toFixed(1)} % |`);
console.log(`\np99 ratio (without / with agent): ${(rows[0].p99 / rows[1].p99).toFixed(1)}x (target >= 3x)`);
