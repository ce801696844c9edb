// balance "source" at the edge: the affinity key is the client's CF-Connecting-IP (the Node build
// uses its socket peer), so one client keeps its origin and different clients spread.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import type { EdgeEnv } from "../../durable/config.ts";

const base = JSON.parse((env as unknown as { EDGELB_CONFIG: string }).EDGELB_CONFIG);

function sourceEnv(): EdgeEnv {
  const cfg = structuredClone(base);
  cfg.pools.webfarm.balance = "source";
  return { ...env, EDGELB_CONFIG: JSON.stringify(cfg) } as unknown as EdgeEnv;
}

async function from(e: EdgeEnv, ip: string): Promise<string | null> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request("http://lb.test/source", { headers: { "cf-connecting-ip": ip } }), e, ctx);
  await res.text();
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return res.headers.get("x-origin");
}

describe("edge: balance source", () => {
  it("one client address keeps its origin; many addresses reach every origin", async () => {
    const e = sourceEnv();
    const seen = new Set<string | null>();
    for (let c = 1; c <= 40; c++) {
      const ip = `198.51.100.${c}`;
      const first = await from(e, ip);
      for (let k = 0; k < 3; k++) expect([ip, await from(e, ip)]).toEqual([ip, first]);
      seen.add(first);
    }
    const names = (base.pools.webfarm.origins as { name: string }[]).map((o) => o.name).sort();
    expect([...seen].sort()).toEqual(names);
  });
});
