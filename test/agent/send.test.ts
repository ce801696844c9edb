import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseReport } from "../../core/agent/report.ts";
import { sign, verifySignature } from "../../core/agent/sign.ts";
import { OriginAgent } from "../../origin-agent/agent.ts";
import { parseAgentConfig } from "../../origin-agent/config.ts";
import { backoffDelay } from "../../origin-agent/send.ts";
import { hmacKey, keyBytes, signSync } from "../../origin-agent/sign.ts";
import { sleep, tempDir, TEST_KEY, waitFor, writeProc } from "./helpers.ts";

describe("signSync (node:crypto) and core's sign (Web Crypto) give the same headers", () => {
  it.each([
    TEST_KEY,
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "a plain key, used as UTF-8: blåbærsyltetøy",
  ])("key %s", async (key) => {
    for (const [id, ts, body] of [
      ["rep_1", 1_700_000_000, "{}"],
      ["rep_2f0c", 1, JSON.stringify({ reason: "æøå \u2028 \"quoted\"", n: 1.5 })],
    ] as const) {
      expect(signSync(hmacKey(key), id, ts, body)).toEqual(await sign(key, id, ts, body));
    }
  });

  it("refuses what core refuses: nothing after whsec_, or no base64", async () => {
    expect(() => keyBytes("whsec_")).toThrow();
    expect(() => keyBytes("whsec_!!!")).toThrow();
    expect(() => keyBytes("")).toThrow();
    expect(() => hmacKey("whsec_")).toThrow();
    await expect(sign("whsec_", "x", 1, "")).rejects.toThrow();
    await expect(sign("whsec_!!!", "x", 1, "")).rejects.toThrow();
  });
});

describe("backoffDelay", () => {
  it.each([
    // failures, interval, max, rand -> ms
    [0, 1000, 30_000, 0.9, 1000],
    [1, 1000, 30_000, 0.9, 1000],
    [2, 1000, 30_000, 0, 1500],
    [2, 1000, 30_000, 1, 2000],
    [3, 1000, 30_000, 1, 4000],
    [6, 1000, 30_000, 1, 30_000],
    [60, 1000, 30_000, 1, 30_000],
    // never faster than the interval, even with a smaller cap
    [5, 1000, 200, 0, 1000],
  ])("%i failures, interval %i, max %i, rand %f -> %i", (f, interval, max, rand, ms) => {
    expect(backoffDelay(f, interval, max, rand)).toBe(ms);
  });
});

/** A receiver on 127.0.0.1 that records when each report arrived, and answers as `mode` says. */
async function receiver(mode: () => "ok" | "503" | "hang") {
  const hits: { at: number; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      hits.push({ at: Date.now(), headers: req.headers, body });
      const m = mode();
      if (m === "ok") res.end('{"ok":true}');
      else if (m === "503") (res.statusCode = 503), res.end("busy");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function agentFor(targets: string[], extra: Record<string, unknown> = {}) {
  const proc = tempDir("send");
  writeProc(proc, { load: 0.4, cpus: 4 });
  const r = parseAgentConfig({ pool: "webfarm", origin: "web01", targets, keyEnv: "UNUSED", interval: "100ms", jitter: "0", timeout: "300ms", backoffMax: "800ms", procRoot: proc, ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const lines: Record<string, unknown>[] = [];
  const agent = new OriginAgent(r.config, TEST_KEY, { now: Date.now, rand: Math.random, log: (_l, o) => void lines.push(o) });
  closers.unshift(() => agent.stop("test"));
  return { agent, lines, proc };
}

describe("the sender (in process, against receivers on 127.0.0.1)", () => {
  it("signs every report (Standard Webhooks), with a valid v1 body and a growing seq", async () => {
    const rx = await receiver(() => "ok");
    closers.push(rx.close);
    const { agent } = agentFor([rx.url]);
    await agent.start();
    await waitFor("5 reports", () => rx.hits.length, (n) => n >= 5, 5000);
    let lastSeq = 0;
    for (const h of rx.hits.slice(0, 5)) {
      const sig = await verifySignature(
        { id: String(h.headers["webhook-id"]), timestamp: String(h.headers["webhook-timestamp"]), signature: String(h.headers["webhook-signature"]) },
        h.body,
        [TEST_KEY],
        Date.now(),
      );
      expect(sig).toEqual({ ok: true });
      expect(h.headers["content-type"]).toBe("application/json");
      const p = parseReport(JSON.parse(h.body));
      if (!p.ok) throw new Error(p.problems.join("; "));
      expect(p.report).toMatchObject({ v: 1, pool: "webfarm", origin: "web01", interval: 100, health: "up", admin: "ready", weightPct: 100 });
      expect(p.report.seq).toBeGreaterThan(lastSeq);
      lastSeq = p.report.seq;
    }
    // unique ids
    expect(new Set(rx.hits.map((h) => h.headers["webhook-id"])).size).toBe(rx.hits.length);
    // one report per interval: arrival times wobble by the sampling and the first connection, the pace does not
    const span = rx.hits.at(-1)!.at - rx.hits[1].at;
    expect(span / (rx.hits.length - 2)).toBeGreaterThanOrEqual(90);
  });

  it("backs off exponentially from a failing target (never faster than the interval) while the others get every report, and recovers", async () => {
    let sick: "ok" | "503" | "hang" = "503";
    const good = await receiver(() => "ok");
    const bad = await receiver(() => sick);
    closers.push(good.close, bad.close);
    const { agent, lines } = agentFor([good.url, bad.url]);
    await agent.start();
    await sleep(3000);
    const goodN = good.hits.length, badN = bad.hits.length;
    // about 30 reports at 100 ms; the failing target: 100, ~200, ~400, 800, 800... -> about 6
    expect(goodN).toBeGreaterThanOrEqual(20);
    expect(badN).toBeLessThanOrEqual(10);
    const gaps = bad.hits.slice(1).map((h, i) => h.at - bad.hits[i].at);
    // measured where the reports arrive, so a little under the interval when one was late on the wire
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(75);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1500);
    expect(lines.filter((l) => l.event === "target-failed")).toHaveLength(1); // logged once, not every try

    // a hanging target: each try ends at the timeout, the next one waits its turn
    sick = "hang";
    await sleep(2500);
    const hangGaps = bad.hits.slice(badN).map((h, i, a) => (i ? h.at - a[i - 1].at : null)).filter((g): g is number => g !== null);
    for (const g of hangGaps) expect(g).toBeGreaterThanOrEqual(300);
    expect(lines.some((l) => l.event === "target-failed" && String(l.error).includes("timeout"))).toBe(true);

    sick = "ok";
    await waitFor("recovery", () => lines, (ls) => ls.some((l) => l.event === "target-ok"), 5000);
    const n = bad.hits.length;
    await sleep(1000);
    expect(bad.hits.length - n).toBeGreaterThanOrEqual(7);
  });

  it("stop() sends a last drain report to every target, backing off or not", async () => {
    const good = await receiver(() => "ok");
    const bad = await receiver(() => "503");
    closers.push(good.close, bad.close);
    const { agent } = agentFor([good.url, bad.url], { interval: "10s", backoffMax: "10m" });
    await agent.start();
    await waitFor("first report", () => bad.hits.length, (n) => n === 1, 3000);
    await agent.stop("SIGTERM");
    const last = (hits: typeof good.hits) => JSON.parse(hits.at(-1)!.body) as { admin: string; reason: string; seq: number };
    for (const rx of [good, bad]) {
      expect(rx.hits).toHaveLength(2);
      expect(last(rx.hits)).toMatchObject({ admin: "drain", reason: "agent stopping (SIGTERM)" });
    }
  });

  it("a report with readings out of the receiver's bounds never goes out: readings are clamped or null", async () => {
    const rx = await receiver(() => "ok");
    closers.push(rx.close);
    const { agent, proc } = agentFor([rx.url]);
    // more available than total (a broken kernel or a fake tree), PSI over 100
    writeProc(proc, { load: 0.4, cpus: 4, memTotalKb: 100, memAvailableKb: 500, psi: { cpu: 250 } });
    await agent.start();
    await waitFor("a report", () => rx.hits.length, (n) => n >= 1, 3000);
    const p = parseReport(JSON.parse(rx.hits[0].body));
    expect(p.ok).toBe(true);
  });

  it("the state file path is used for seq", async () => {
    const rx = await receiver(() => "ok");
    closers.push(rx.close);
    const state = join(tempDir("st"), "agent.state");
    const { agent } = agentFor([rx.url], { stateFile: state });
    await agent.start();
    await waitFor("a report", () => rx.hits.length, (n) => n >= 2, 3000);
    const saved = JSON.parse(readFileSync(state, "utf8")) as { seq: number };
    expect(saved.seq).toBeGreaterThanOrEqual((JSON.parse(rx.hits[1].body) as { seq: number }).seq);
  });
});
