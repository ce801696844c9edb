// Webhook notifications of origin state changes: a real balancer, real origins, a real HTTP
// receiver that verifies each delivery with the agent ingest's own verification (core/agent/sign.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { verifySignature } from "../../core/agent/sign.ts";
import type { OriginEvent } from "../../core/notify/webhook.ts";
import { killOrigins, poolOf, send, startBalancer, startOrigin, waitFor, type TestBalancer } from "../support/harness.ts";

const SECRET = "whsec_" + Buffer.from("notify-test-secret-of-32-bytes!!").toString("base64");
process.env.EDGELB_TEST_WEBHOOK_SECRET = SECRET;
process.env.EDGELB_TEST_NOTIFY_ADMIN = "notify-admin-token";

interface Delivery {
  at: number;
  id: string;
  verified: boolean;
  why?: string;
  event: OriginEvent;
}

/** A webhook receiver on 127.0.0.1: verifies every POST, answers with `answer(n)` (n = deliveries so far, from 1). */
async function receiver(answer: (n: number) => number | "hang" = () => 204) {
  const got: Delivery[] = [];
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", async () => {
      const h = (n: string) => (req.headers[n] as string | undefined) ?? null;
      const v = await verifySignature({ id: h("webhook-id"), timestamp: h("webhook-timestamp"), signature: h("webhook-signature") }, body, [SECRET], Date.now());
      got.push({ at: Date.now(), id: h("webhook-id") ?? "", verified: v.ok, why: v.ok ? undefined : v.why, event: JSON.parse(body) as OriginEvent });
      const a = answer(got.length);
      if (a === "hang") return void hung.push(res);
      res.writeHead(v.ok ? a : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () => {
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

const admin = (b: TestBalancer, origin: string, action: string) =>
  send(b.url, { method: "POST", path: `/__edgelb/admin/webfarm/${origin}/${action}`, headers: { authorization: "Bearer notify-admin-token" } });

afterEach(killOrigins);

describe("webhooks on origin state changes (Node build)", () => {
  it("an origin killed: a signed DOWN event arrives and verifies; UP when it is back; kinds filter what a receiver gets", async () => {
    const all = await receiver();
    const downOnly = await receiver();
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({
      admin: { auth: { bearerEnv: "EDGELB_TEST_NOTIFY_ADMIN" } },
      notify: {
        webhooks: [
          { url: all.url, secretEnv: "EDGELB_TEST_WEBHOOK_SECRET" },
          { url: downOnly.url, secretEnv: "EDGELB_TEST_WEBHOOK_SECRET", events: ["down"] },
        ],
      },
      pools: { webfarm: poolOf([web01, web02], { check: { interval: "100ms", timeout: "80ms", rise: 1, fall: 1 } }) },
    });
    try {
      const killedAt = Date.now();
      await web01.kill();
      await waitFor(() => all.got.length >= 1, 5000);
      const [d] = all.got;
      expect(d.verified).toBe(true);
      expect(d.id).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(d.event).toMatchObject({ type: "origin.state", pool: "webfarm", origin: "web01", kind: "down", from: "UP", to: "DOWN", reason: expect.stringMatching(/^check failed/) });
      expect(Date.parse(d.event.at)).toBeGreaterThanOrEqual(killedAt - 5);
      expect(d.at - killedAt).toBeLessThan(2000);

      await web01.restart();
      await waitFor(() => all.got.some((x) => x.event.kind === "up"), 5000);
      expect(all.got.find((x) => x.event.kind === "up")).toMatchObject({ verified: true, event: { origin: "web01", from: "DOWN", to: "UP" } });
      expect((await admin(b, "web02", "drain")).status).toBe(200);
      await waitFor(() => all.got.some((x) => x.event.kind === "admin"), 5000);
      expect(all.got.find((x) => x.event.kind === "admin")?.event).toMatchObject({ origin: "web02", from: "ready", to: "drain", reason: "admin" });

      // the "down"-only receiver got the DOWN and nothing else
      await new Promise((r) => setTimeout(r, 200));
      expect(downOnly.got.map((x) => [x.event.kind, x.event.origin, x.verified])).toEqual([["down", "web01", true]]);
      expect(b.lb.notifier.stats()).toMatchObject({ queued: 0, failed: 0, dropped: 0 });
      expect(b.log.lines.filter((l) => l.event === "notify-sent").length).toBe(b.lb.notifier.stats().sent);
    } finally {
      await b.close();
      await all.close();
      await downOnly.close();
    }
  });

  it("a receiver answering 500 twice gets the event on the third try: same id, backoff between tries; a 401 is not retried", async () => {
    const flaky = await receiver((n) => (n <= 2 ? 500 : 200));
    const refusing = await receiver(() => 401);
    const web01 = await startOrigin("web01");
    const b = await startBalancer({
      admin: { auth: { bearerEnv: "EDGELB_TEST_NOTIFY_ADMIN" } },
      notify: {
        backoff: "200ms",
        webhooks: [
          { url: flaky.url, secretEnv: "EDGELB_TEST_WEBHOOK_SECRET" },
          { url: refusing.url, secretEnv: "EDGELB_TEST_WEBHOOK_SECRET" },
        ],
      },
      pools: { webfarm: poolOf([web01], { check: { enabled: false } }) },
    });
    try {
      expect((await admin(b, "web01", "maint")).status).toBe(200);
      await waitFor(() => b.lb.notifier.stats().sent === 1 && b.lb.notifier.stats().failed === 1, 5000);
      expect(flaky.got).toHaveLength(3);
      expect(new Set(flaky.got.map((x) => x.id)).size).toBe(1);
      expect(flaky.got.every((x) => x.verified && x.event.to === "maint")).toBe(true);
      // equal jitter: the 1st retry after 100-200 ms, the 2nd after 200-400 ms
      const gaps = [flaky.got[1].at - flaky.got[0].at, flaky.got[2].at - flaky.got[1].at];
      expect(gaps[0]).toBeGreaterThanOrEqual(95);
      expect(gaps[0]).toBeLessThan(1000);
      expect(gaps[1]).toBeGreaterThanOrEqual(195);
      expect(gaps[1]).toBeLessThan(1500);
      // the refusing receiver verified it (a 401 here means our status, not a bad signature) and got it once
      await new Promise((r) => setTimeout(r, 500));
      expect(refusing.got).toHaveLength(1);
      expect(b.lb.notifier.stats()).toMatchObject({ sent: 1, retried: 2, failed: 1, queued: 0 });
      expect(b.log.lines.find((l) => l.event === "notify-failed")).toMatchObject({ level: "warn", url: refusing.url, status: 401, attempt: 1 });
      expect(b.log.lines.filter((l) => l.event === "notify-retry").map((l) => l.attempt)).toEqual([1, 2]);
    } finally {
      await b.close();
      await flaky.close();
      await refusing.close();
    }
  });

  it("a receiver that never answers blocks nothing: requests stay fast, the queue is bounded (oldest dropped, counted, warned)", async () => {
    const stuck = await receiver(() => "hang");
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    const b = await startBalancer({
      admin: { auth: { bearerEnv: "EDGELB_TEST_NOTIFY_ADMIN" } },
      notify: { queue: 3, timeout: "10s", webhooks: [{ url: stuck.url, secretEnv: "EDGELB_TEST_WEBHOOK_SECRET", events: ["admin"] }] },
      pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) },
    });
    try {
      // 10 admin changes: 4 go in flight (and hang), 3 wait, 3 are dropped
      for (let i = 0; i < 10; i++) expect((await admin(b, "web02", i % 2 ? "ready" : "drain")).status).toBe(200);
      await waitFor(() => stuck.got.length === 4, 3000);
      expect(b.lb.notifier.stats()).toMatchObject({ queued: 3, dropped: 3, sent: 0 });
      const drops = b.log.lines.filter((l) => l.event === "notify-dropped");
      expect(drops.map((l) => l.dropped)).toEqual([1, 2, 3]);
      expect(drops[0]).toMatchObject({ level: "warn", url: stuck.url, kind: "admin" });
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) expect((await send(b.url, { path: `/p${i}` })).status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      await b.close();
      await stuck.close();
    }
    // the stop gave up on them and said so
    expect(b.log.lines.find((l) => l.event === "notify-unsent")).toMatchObject({ level: "warn", deliveries: 7 });
  });

  it("a webhook whose secret variable is unset: an error at start, nothing sent unsigned", async () => {
    const r = await receiver();
    const web01 = await startOrigin("web01");
    const b = await startBalancer({
      admin: { auth: { bearerEnv: "EDGELB_TEST_NOTIFY_ADMIN" } },
      notify: { webhooks: [{ url: r.url, secretEnv: "EDGELB_TEST_WEBHOOK_SECRET_UNSET" }] },
      pools: { webfarm: poolOf([web01], { check: { enabled: false } }) },
    });
    try {
      expect(b.log.lines.find((l) => l.event === "notify-config")).toMatchObject({ level: "error", url: r.url });
      expect((await admin(b, "web01", "drain")).status).toBe(200);
      await waitFor(() => b.lb.notifier.stats().failed === 1, 2000);
      expect(r.got).toEqual([]);
    } finally {
      await b.close();
      await r.close();
    }
  });
});
