// balance "source" (HAProxy's `balance source`): one client address keeps its origin while it is
// eligible, other addresses spread over the farm. Clients bind distinct loopback addresses.
import http from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { killOrigins, poolOf, startBalancer, startOrigin } from "../support/harness.ts";

afterAll(killOrigins);

/** `n` GETs from `localAddress` (node:http binds it; a new connection each), the origin of each answer. */
async function originsSeen(url: string, localAddress: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await new Promise<string>((resolve, reject) => {
        http.get(`${url}/src-${i}`, { localAddress, agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve(String(res.headers["x-origin"] ?? res.statusCode)));
        }).on("error", reject);
      }),
    );
  }
  return out;
}

describe("balance source", () => {
  it("each client address sticks to one origin; addresses spread over both; a dead origin's clients move and come back", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { balance: "source", check: { enabled: false } }) } });
    try {
      const addrs = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 2}`);
      const homes = new Map<string, string>();
      for (const a of addrs) {
        const seen = await originsSeen(b.url, a, 6);
        expect(new Set(seen).size, `${a}: ${seen.join(",")}`).toBe(1);
        homes.set(a, seen[0]);
      }
      expect(new Set(homes.values())).toEqual(new Set(["web01", "web02"]));
      // web01's clients move to web02 while it is out (admin maint), the others stay; then they go home
      const pool = b.lb.route(undefined);
      pool.health.apply({ type: "admin", origin: 0, at: Date.now(), admin: "maint" });
      for (const a of addrs) expect((await originsSeen(b.url, a, 2))[0]).toBe("web02");
      pool.health.apply({ type: "admin", origin: 0, at: Date.now(), admin: "ready" });
      for (const a of addrs) expect((await originsSeen(b.url, a, 2))[0]).toBe(homes.get(a));
    } finally {
      await b.close();
    }
  });
});
