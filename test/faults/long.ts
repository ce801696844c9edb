// The long fault variants, run by hand or from `npm run bench` (never in `npm test`):
//   node test/faults/long.ts            G13 with the schedule: 2 s up / 2 s down for 20 s at 500 req/s
// Prints the figures as JSON and exits 1 when an assertion of the short variant does not hold.
import assert from "node:assert/strict";
import { runFlap } from "./flap-scenario.ts";

const r = await runFlap(2000, 2000, 20_000, "500ms");
const figures = {
  ...r,
  failedGets: r.failedGets.map((x) => `${x.id} ${x.status} ${x.error ?? x.body.trim()}`),
  flaps: r.flaps.map((f) => `${f.up ? "up" : "down"}@${Math.round(f.at)}`).join(" "),
};
console.log(JSON.stringify({ scenario: "G13 long (2 s up / 2 s down for 20 s, 500 req/s)", ...figures }));
try {
  assert.deepEqual(figures.failedGets, [], "GET errors");
  assert.ok(r.ejectionsMs.length >= 4, `at least 4 ejections, got ${r.ejectionsMs.length}`);
  for (let i = 1; i < r.ejectionsMs.length; i++) assert.ok(r.ejectionsMs[i] > r.ejectionsMs[i - 1], `ejection time grows: ${r.ejectionsMs.join(", ")}`);
  console.log("G13 long: ok");
} catch (e) {
  console.error(`G13 long: FAILED: ${(e as Error).message}`);
  process.exitCode = 1;
}
