// The edge's header deadlines shared between requests (worker/deadlines.ts), under bare `workerd
// serve` with edgelb's bundle and real origins on 127.0.0.1: the vitest pool for workerd runs with
// handle_cross_request_promise_resolution off, and the shared slots rely on it (a promise settled
// from another request's context continues in its own), so they are tested where the flag is as in
// production. A slot's timer belongs to the request that opened it; here that request is answered
// and over long before the others' deadlines, and only its waitUntil keeps the timer alive.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SLOT_MS } from "../../worker/deadlines.ts";
import { startEdgeUnderWorkerd } from "../support/workerd.ts";

/** Example token for this test only. */
const STATS_TOKEN = "example-stats-token-test-only";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("edge header deadlines shared by concurrent tries (bare workerd)", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgelb-deadlines-"));
  let child: ChildProcess | undefined;
  const servers: net.Server[] = [];
  const held: net.Socket[] = [];
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((r) => {
        child!.once("exit", () => r());
        process.kill(child!.pid!, "SIGKILL");
      });
    }
    for (const s of held) s.destroy();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("hung tries time out through the slot timer of a request answered and ended first, are redispatched, and no try arms a timer of its own", async () => {
    const listen = (s: net.Server) => new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as net.AddressInfo).port)));
    // c answers after 300 ms, b at once, h takes the connection and never answers
    const c = http.createServer((_q, res) => void setTimeout(() => res.end("origin c\n"), 300));
    const b = http.createServer((_q, res) => res.end("origin b\n"));
    const hungSeen: string[] = [];
    const h = net.createServer((s) => {
      held.push(s);
      s.once("data", (d) => hungSeen.push(String(d).split(" ")[1]));
    });
    servers.push(c, b, h);
    const [pc, pb, ph] = [await listen(c), await listen(b), await listen(h)];
    const url = (p: number) => `http://127.0.0.1:${p}`;
    const noChecks = { check: { enabled: false } };
    const edge = await startEdgeUnderWorkerd(
      join(dir, "edgelb"),
      {
        listen: { port: 0 },
        pools: {
          fast: { origins: [{ name: "c", url: url(pc) }], timeouts: { header: "1s" }, ...noChecks },
          // every first try goes to h (b is a backup), and h stays in the rotation
          hung: { origins: [{ name: "h", url: url(ph) }, { name: "b", url: url(pb), backup: true }], timeouts: { header: "1s" }, passive: { enabled: false }, ...noChecks },
        },
        defaultPool: "fast",
        routes: [{ host: ["hung.test"], pool: "hung" }],
        stats: { auth: { bearerEnv: "EDGELB_STATS_TOKEN" } },
      },
      { EDGELB_STATS_TOKEN: STATS_TOKEN },
    );
    child = edge.child;
    const port = edge.port;
    // node:http, not fetch: fetch does not send a Host of our choosing
    const get = (path: string, host = `127.0.0.1:${port}`) =>
      new Promise<readonly [number, string]>((resolve, reject) => {
        const q = http.get({ host: "127.0.0.1", port, path, headers: { host }, agent: false }, (res) => {
          let body = "";
          res.setEncoding("latin1").on("data", (d) => (body += d)).on("end", () => resolve([res.statusCode!, body] as const));
        });
        q.on("error", reject);
      });
    const timers = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/__edgelb/stats?format=json`, { headers: { authorization: `Bearer ${STATS_TOKEN}` } });
      expect(r.status).toBe(200);
      return ((await r.json()) as { headerTimers: { shared: number; own: number } }).headerTimers;
    };
    expect((await get("/warm"))[0]).toBe(200);
    // the hung pool warm too (a cold pool waits for its first health snapshot); its try on h times out
    expect(await get("/warm-hung", "hung.test")).toEqual([200, "origin b\n"]);
    const before = await timers();
    // just after a slot boundary, so the five tries below (a few ms apart) fall in one slot
    while (Date.now() % SLOT_MS > 5) await sleep(1);
    const t0 = Date.now();
    const owner = get("/owner");
    await sleep(5);
    const members = Array.from({ length: 4 }, (_, i) => get(`/member-${i}`, "hung.test"));
    await sleep(100);
    // one slot, opened by the owner's try: the members joined it
    expect(await timers()).toEqual({ shared: before.shared + 1, own: before.own });
    expect(await owner).toEqual([200, "origin c\n"]);
    const ownerDone = Date.now() - t0;
    const bound = sleep(5000).then(() => "the hung tries were never timed out");
    expect(await Promise.race([Promise.all(members), bound])).toEqual(Array.from({ length: 4 }, () => [200, "origin b\n"]));
    const membersDone = Date.now() - t0;
    // the owner's request was over at about 300 ms; the members waited for their 1 s deadline
    // (a slot fires up to SLOT_MS early)
    expect(ownerDone).toBeLessThan(900);
    expect(membersDone).toBeGreaterThanOrEqual(1000 - SLOT_MS - 10);
    expect(hungSeen.filter((p) => p.startsWith("/member-")).sort()).toEqual(["/member-0", "/member-1", "/member-2", "/member-3"]);
    // the retries to b shared slots too: still no timer of a try's own
    const after = await timers();
    expect(after.own).toBe(before.own);
    expect(after.shared).toBeGreaterThanOrEqual(before.shared + 2);
    expect(edge.stderr()).not.toContain("different request");
  }, 30_000);
});
