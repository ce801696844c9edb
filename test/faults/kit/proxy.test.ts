// The fault kit does what it says: each toxic on real sockets, origin in its own process.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killOrigins, send, startFaultProxy, startOrigin, synced, type FaultProxy, type TestOrigin } from "./index.ts";

/** What a raw client saw: the bytes, how they arrived, and how the connection ended. */
interface Raw {
  text: string;
  chunks: number;
  /** ms from the request to the first byte, the last byte, and the end (FIN or error). */
  firstMs: number;
  lastMs: number;
  endMs: number;
  error: string | null;
}

/** One request over a fresh raw connection; resolves when the connection ends (or after `capMs`). */
function raw(port: number, head: string, capMs = 3000): Promise<Raw> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const r: Raw = { text: "", chunks: 0, firstMs: -1, lastMs: -1, endMs: -1, error: null };
    const s = net.connect(port, "127.0.0.1", () => s.write(head));
    const done = () => {
      clearTimeout(cap);
      r.endMs = performance.now() - t0;
      s.destroy();
      resolve(r);
    };
    const cap = setTimeout(() => ((r.error ??= "cap"), done()), capMs);
    s.on("data", (d) => {
      const now = performance.now() - t0;
      if (r.firstMs < 0) r.firstMs = now;
      r.lastMs = now;
      r.chunks++;
      r.text += d.toString("latin1");
    });
    s.on("error", (e: NodeJS.ErrnoException) => (r.error ??= e.code ?? String(e)));
    s.on("close", done);
  });
}

const GET = (id: string, extra = "") => `GET /k HTTP/1.1\r\nHost: t\r\nx-request-id: ${id}\r\n${extra}\r\n`;

describe("fault kit: the proxy's toxics on real sockets", () => {
  let origin: TestOrigin;
  let p: FaultProxy;
  beforeAll(async () => {
    origin = await startOrigin("kit01");
    await origin.setMode({ mode: "ok", bodyBytes: 2000 });
    p = await startFaultProxy(origin.url);
  });
  afterAll(async () => {
    await p.close();
    await killOrigins();
  });

  it("passes requests through and logs them by request id (proxy and origin)", async () => {
    p.set({});
    const r = await send(p.url, { path: "/a", headers: { "x-request-id": "pass-1" } });
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(2000);
    await synced(origin);
    expect(p.log.filter((q) => q.id === "pass-1").map((q) => [q.method, q.path, q.hung, q.answered])).toEqual([["GET", "/a", false, true]]);
    expect(origin.requests.filter((q) => q.id === "pass-1")).toHaveLength(1);
  });

  it("latency with jitter holds each response 150 +/- 30 ms; bandwidth caps the throughput", async () => {
    p.set({ latency: { ms: 150, jitterMs: 30 } });
    const lat = await Promise.all([1, 2, 3, 4].map((i) => raw(p.port, GET(`lat-${i}`, "connection: close\r\n"))));
    for (const r of lat) {
      expect(r.firstMs).toBeGreaterThanOrEqual(115);
      expect(r.firstMs).toBeLessThan(260);
    }
    // 2,000 body bytes + ~100 head at 4,000 B/s: about half a second, in 80-byte slices
    p.set({ bandwidth: { bytesPerSec: 4000 } });
    const bw = await raw(p.port, GET("bw-1", "connection: close\r\n"));
    expect(bw.text.endsWith("y".repeat(2000))).toBe(true);
    expect(bw.lastMs - bw.firstMs).toBeGreaterThanOrEqual(450);
    expect(bw.lastMs).toBeLessThan(1500);
    expect(bw.chunks).toBeGreaterThanOrEqual(20);
  });

  it("hang: the request is accepted and swallowed; the origin never sees it", async () => {
    p.set({ hang: true });
    const r = await raw(p.port, GET("hang-1"), 600);
    expect(r.error).toBe("cap");
    expect(r.text).toBe("");
    await synced(origin);
    expect(origin.requests.some((q) => q.id === "hang-1")).toBe(false);
    expect(p.log.find((q) => q.id === "hang-1")).toMatchObject({ hung: true, answered: false });
  });

  it("trickle: one byte every 3 ms, each in its own segment", async () => {
    await origin.setMode({ mode: "ok", bodyBytes: 40 });
    p.set({ trickle: { everyMs: 3 } });
    const r = await raw(p.port, GET("trickle-1", "connection: close\r\n"));
    const bytes = r.text.length;
    expect(r.text.endsWith("y".repeat(40))).toBe(true);
    // every byte arrived on its own (Nagle is off on both sides) and the whole took bytes x 3 ms
    expect(r.chunks).toBeGreaterThanOrEqual(bytes * 0.9);
    expect(r.lastMs - r.firstMs).toBeGreaterThanOrEqual((bytes - 1) * 3 * 0.9);
    await origin.setMode({ mode: "ok", bodyBytes: 2000 });
  });

  it("reset mid-headers and mid-body: the client gets the bytes before the cut, then ECONNRESET", async () => {
    p.set({ reset: { at: "headers", afterBytes: 12 } });
    const h = await raw(p.port, GET("reset-h"));
    expect(h.text).toBe("HTTP/1.1 200");
    expect(h.error).toBe("ECONNRESET");
    p.set({ reset: { at: "body", afterBytes: 100 } });
    const b = await raw(p.port, GET("reset-b"));
    const [head, body] = b.text.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/content-length: 2000/i);
    expect(body).toBe("y".repeat(100));
    expect(b.error).toBe("ECONNRESET");
    expect(p.counts.resets).toBeGreaterThanOrEqual(2);
  });

  it("slow close: the origin's FIN reaches the client 300 ms after the response", async () => {
    p.set({ slowClose: { ms: 300 } });
    const r = await raw(p.port, GET("slow-close", "connection: close\r\n"));
    expect(r.text.endsWith("y".repeat(2000))).toBe(true);
    expect(r.error).toBeNull();
    expect(r.endMs - r.lastMs).toBeGreaterThanOrEqual(280);
    p.set({});
    const quick = await raw(p.port, GET("quick-close", "connection: close\r\n"));
    expect(quick.endMs - quick.lastMs).toBeLessThan(100);
  });

  it("down refuses connections and resets open ones; up listens again on the same port", async () => {
    p.set({ hang: true });
    const open = raw(p.port, GET("down-open"));
    await new Promise((r) => setTimeout(r, 50));
    await p.down();
    expect((await open).error).toBe("ECONNRESET");
    expect((await raw(p.port, GET("down-1"))).error).toBe("ECONNREFUSED");
    p.set({});
    await p.up();
    expect((await send(p.url, { headers: { "x-request-id": "up-1" } })).status).toBe(200);
  });

  it("flap: down and up on a schedule, refusing only while down", async () => {
    p.set({});
    const f = p.flap(200, 200);
    const seen: { at: number; ok: boolean }[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < 950) {
      const r = await send(p.url, { headers: { "x-request-id": "flap" } });
      seen.push({ at: performance.now() - t0, ok: r.status === 200 });
      await new Promise((r) => setTimeout(r, 10));
    }
    await f.stop();
    expect(f.changes.map((c) => c.up)).toEqual([false, true, false, true]);
    for (const [i, c] of f.changes.entries()) expect(c.at - f.changes[0].at).toBeCloseTo(i * 200, -2);
    // served in the up windows, refused in the down windows (30 ms of slack at each edge)
    const during = (from: number, to: number) => seen.filter((s) => s.at > from + 30 && s.at < to - 30);
    for (const [from, to, ok] of [[0, 200, true], [200, 400, false], [400, 600, true], [600, 800, false]] as const) {
      expect(during(from, to).length).toBeGreaterThan(3);
      expect(during(from, to).every((s) => s.ok === ok)).toBe(true);
    }
    expect(p.isUp).toBe(true);
  });

  it("the origin answers a fixed sequence of statuses, cycled", async () => {
    p.set({});
    await origin.setMode({ mode: "ok", statuses: [502, 503, 504] });
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await send(p.url, { headers: { "x-request-id": `seq-${i}` } })).status);
    expect(got).toEqual([502, 503, 504, 502, 503]);
    await origin.setMode({ mode: "ok" });
  });
});
