// The HealthObject inside workerd: alarm-driven checks through core's rise/fall, SQLite state that
// survives a new instance, growing snapshot versions, outcomes and admin actions.
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { HealthObject } from "../../durable/health-object.ts";
import type { EdgeEnv } from "../../durable/config.ts";
import type { PoolHealth } from "../../core/health/state.ts";
import { origin } from "./helpers.ts";

const a = origin("a");
afterAll(() => a.setMode({ mode: "ok" }));

const byName = (s: PoolHealth | null, name: string) => s!.origins.find((o) => o.name === name)!;

describe("HealthObject", () => {
  it("alarm checks take an origin down after `fall` failures and back after `rise`; state survives a new instance", async () => {
    const stub = env.HEALTH.getByName("webfarm");
    const first = await stub.snapshot("webfarm", 0);
    expect(first!.origins.map((o) => o.name)).toEqual(["a", "b", "c"]);
    // two passing rounds: fully up (HAProxy starts an origin at counter = rise)
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const up = await stub.snapshot("webfarm", 0);
    expect(byName(up, "a")).toMatchObject({ up: true, counter: 4, lastCheck: { ok: true, detail: "HTTP 200" } });

    await a.setMode({ mode: "status", status: 500 });
    const versions: number[] = [up!.version];
    for (let k = 1; k <= 3; k++) {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      const s = await stub.snapshot("webfarm", 0);
      versions.push(s!.version);
      // fall = 3: still up after 1 and 2 failures, down at the 3rd
      expect(byName(s, "a").up).toBe(k < 3);
      expect(byName(s, "a").lastCheck).toMatchObject({ ok: false, detail: "HTTP 500" });
      expect(byName(s, "b").up).toBe(true);
    }
    // versions grow with every change, and nothing new comes back for the current version
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(versions.length);
    const current = versions[versions.length - 1];
    expect(await stub.snapshot("webfarm", current)).toBeNull();

    // a new instance on the same storage (what a restart of the object does) loads the same state
    const reloaded = await runInDurableObject(stub, async (_obj: HealthObject, state) => new HealthObject(state, env as unknown as EdgeEnv).snapshot("webfarm", 0));
    expect(reloaded!.version).toBe(current);
    expect(byName(reloaded, "a")).toMatchObject({ up: false, transitions: 1 });

    await a.setMode({ mode: "ok" });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(byName(await stub.snapshot("webfarm", 0), "a").up).toBe(false);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(byName(await stub.snapshot("webfarm", 0), "a")).toMatchObject({ up: true, transitions: 2 });
  });

  it("the alarm re-arms itself after every run, also when a check throws", async () => {
    const stub = env.HEALTH.getByName("webfarm");
    await stub.snapshot("webfarm", 0);
    await a.setMode({ mode: "hang" }); // the check times out (1 s)
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const s = await stub.snapshot("webfarm", 0);
    expect(byName(s, "a").lastCheck).toMatchObject({ ok: false, detail: "timeout after 1000ms" });
    await a.setMode({ mode: "ok" });
    const next = await runInDurableObject(stub, (_obj: HealthObject, state) => state.storage.getAlarm());
    expect(next).not.toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
  });

  it("record() ejects an origin on a refused connection; admin() drains; unknown origins are refused", async () => {
    const stub = env.HEALTH.getByName("webfarm");
    const before = (await stub.snapshot("webfarm", 0))!;
    const v = await stub.record("webfarm", [{ origin: 1, kind: "refused", at: Date.now() }]);
    expect(v).toBeGreaterThan(before.version);
    const s = (await stub.snapshot("webfarm", 0))!;
    expect(byName(s, "b").ejectionsTotal).toBe(1);
    expect(byName(s, "b").ejectedUntil).toBeGreaterThan(Date.now());
    expect(await stub.admin("webfarm", { origin: "c", admin: "drain" })).toBeGreaterThan(v);
    expect(byName(await stub.snapshot("webfarm", 0), "c").admin).toBe("drain");
    expect(await stub.admin("webfarm", { origin: "nope", admin: "drain" })).toBeNull();
    let err: unknown = null;
    try {
      await stub.snapshot("no-such-pool", 0);
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/no pool named "no-such-pool"/);
  });
});
