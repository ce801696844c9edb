import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import { killOrigins, load, poolOf, send, startBalancer, startOrigin, waitFor } from "../support/harness.ts";

afterEach(killOrigins);

/** A raw TCP "origin" that answers every connection with `bytes` (for responses no HTTP server would send). */
async function rawOrigin(bytes: string): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.once("data", () => s.end(bytes));
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

describe("limits and deadlines (Node build)", () => {
  it("maxconn: excess requests wait in the queue and are served in turn; past timeouts.queue they get 503", async () => {
    const [web01] = await Promise.all([startOrigin("web01")]);
    await web01.setMode({ mode: "ok", delayMs: 150 });
    const b = await startBalancer({
      pools: { webfarm: { origins: [{ name: "web01", url: web01.url, maxconn: 1 }], check: { enabled: false }, timeouts: { queue: "1s" } } },
    });
    try {
      let peak = 0;
      const t0 = Date.now();
      const rs = await load(b.url, 4, 4, () => ({}), () => (peak = Math.max(peak, b.stats().queued)));
      expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      // one at a time: 4 x 150 ms
      expect(Date.now() - t0).toBeGreaterThanOrEqual(4 * 150 - 20);
      expect(b.stats().origins[0].tries).toBe(4);
      await web01.setMode({ mode: "ok", delayMs: 700 });
      const slow = await load(b.url, 3, 3);
      // the first takes the slot (700 ms), the second waits 700 ms (< 1 s) and is served, the third times out in the queue
      const statuses = slow.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 503]);
      expect(b.stats().queueTimeouts).toBe(1);
    } finally {
      await b.close();
    }
  });

  it("a request whose client leaves the queue gives its place up at once; a freed slot goes to the oldest waiter, not to a newcomer", async () => {
    const web01 = await startOrigin("web01");
    await web01.setMode({ mode: "ok", delayMs: 300 });
    const b = await startBalancer({
      pools: { webfarm: { origins: [{ name: "web01", url: web01.url, maxconn: 1 }], check: { enabled: false }, timeouts: { queue: "3s" } } },
    });
    const gone = new net.Socket();
    try {
      const a = send(b.url, { headers: { "x-request-id": "a" } });
      await waitFor(() => b.stats().origins[0].inflight === 1, 2000);
      // b waits in the queue, then its client goes away
      const u = new URL(b.url);
      gone.on("error", () => {});
      gone.connect(Number(u.port), u.hostname, () => gone.write("GET / HTTP/1.1\r\nhost: x\r\nx-request-id: b\r\n\r\n"));
      await waitFor(() => b.stats().queued === 1, 2000);
      const c = send(b.url, { headers: { "x-request-id": "c" } });
      await waitFor(() => b.stats().queued === 2, 2000);
      gone.destroy();
      await waitFor(() => b.stats().queued === 1, 2000);
      // a's answer frees the slot: c (waiting since before) takes it; d, arriving now, waits behind c
      expect((await a).status).toBe(200);
      const d = send(b.url, { headers: { "x-request-id": "d" } });
      const [rc, rd] = await Promise.all([c, d]);
      expect([rc.status, rd.status]).toEqual([200, 200]);
      await web01.sync();
      expect(web01.requests.map((r) => r.id)).toEqual(["a", "c", "d"]);
      expect(b.stats().queueTimeouts).toBe(0);
      expect(b.stats().queued).toBe(0);
    } finally {
      gone.destroy();
      await b.close();
    }
  });

  it("a reload that replaces the pool keeps the requests waiting in its queue: each is served, none gets 503", async () => {
    const web01 = await startOrigin("web01");
    await web01.setMode({ mode: "ok", delayMs: 100 });
    const pool = (weight: number) => ({ origins: [{ name: "web01", url: web01.url, maxconn: 2, weight }], check: { enabled: false }, timeouts: { queue: "5s" } });
    const b = await startBalancer({ pools: { webfarm: pool(1) } });
    try {
      let peak = 0, reloaded = false;
      const rs = await load(b.url, 12, 12, () => ({}), () => {
        peak = Math.max(peak, b.stats().queued);
        if (reloaded) return;
        reloaded = true;
        // the first answer came back while 10 wait in the queue: swap the pool's config now
        const next = parseConfig({ listen: { host: "127.0.0.1", port: 0 }, pools: { webfarm: pool(2) } });
        if (!next.ok) throw new Error("config");
        b.lb.reload(next.config);
      });
      expect(reloaded).toBe(true);
      expect(peak).toBeGreaterThan(0);
      expect(rs.map((r) => r.status)).toEqual(Array(12).fill(200));
      // the new pool took over for new requests
      expect(b.stats().origins[0].weight.configured).toBe(2);
    } finally {
      await b.close();
    }
  });

  it("an invalid upstream response is answered 502 (and counts toward the origin's 5xx run)", async () => {
    const bad = await rawOrigin("HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok");
    const b = await startBalancer({ pools: { webfarm: { origins: [{ name: "bad", url: bad.url }], check: { enabled: false } } } });
    try {
      const r = await send(b.url);
      expect(r.status).toBe(502);
      expect(b.stats().origins[0].failures["bad-response"]).toBe(1);
    } finally {
      await b.close();
      await bad.close();
    }
  });

  it("a response with two different Content-Length values is answered 502, never passed on", async () => {
    const bad = await rawOrigin("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\nhello");
    const b = await startBalancer({ pools: { webfarm: { origins: [{ name: "bad", url: bad.url }], check: { enabled: false } } } });
    try {
      const r = await send(b.url);
      expect(r.status).toBe(502);
    } finally {
      await b.close();
      await bad.close();
    }
  });

  it("idle timeout: a body that goes silent longer than timeouts.idle is cut (the client sees a truncated response)", async () => {
    const [web01] = await Promise.all([startOrigin("web01")]);
    await web01.setMode({ mode: "trickle", everyMs: 400 });
    const b = await startBalancer({ pools: { webfarm: { origins: [{ name: "web01", url: web01.url }], check: { enabled: false }, timeouts: { idle: "150ms" } } } });
    try {
      const t0 = Date.now();
      const r = await send(b.url, { path: "/trickle" });
      expect(r.status === 0 || r.error !== null).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(b.stats().origins[0].failures["body-error"]).toBe(1);
    } finally {
      await b.close();
    }
  });

  it("header and idle deadlines of one length: the head restarts the deadline as the idle one, and every chunk restarts it again", async () => {
    // an origin that sends its head 300 ms after the request and a chunk every 300 ms after that:
    // each gap is under 400 ms, the head and the first chunk each come 600 ms after what came before them
    const sockets = new Set<net.Socket>();
    const slow = net.createServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
      s.once("data", () => {
        let sent = 0;
        const t = setInterval(() => s.write(sent++ === 0 ? "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" : "1\r\n.\r\n"), 300);
        s.on("close", () => clearInterval(t));
      });
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`;
    const b = await startBalancer({ pools: { webfarm: { origins: [{ name: "slow", url }], check: { enabled: false }, timeouts: { header: "400ms", idle: "400ms" } } } });
    try {
      const { port } = new URL(b.url);
      const seen = await new Promise<{ status: number; chunks: number; cut: boolean }>((resolve) => {
        const s = net.connect(Number(port), "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
        let text = "";
        let cut = false;
        s.setEncoding("latin1");
        s.on("data", (d: string) => (text += d));
        s.on("close", () => (cut = true));
        setTimeout(() => {
          s.destroy();
          const body = text.slice(text.indexOf("\r\n\r\n") + 4);
          resolve({ status: Number(text.slice(9, 12)), chunks: (body.match(/\./g) ?? []).length, cut });
        }, 1700);
      });
      expect(seen.status).toBe(200);
      expect(seen.cut).toBe(false);
      expect(seen.chunks).toBeGreaterThanOrEqual(3);
      expect(b.stats().origins[0].failures["body-error"]).toBe(0);
    } finally {
      await b.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => slow.close(r));
    }
  });

  it("total deadline: a trickling response is cut at timeouts.total", async () => {
    const [web01] = await Promise.all([startOrigin("web01")]);
    await web01.setMode({ mode: "trickle", everyMs: 50 });
    const b = await startBalancer({ pools: { webfarm: { origins: [{ name: "web01", url: web01.url }], check: { enabled: false }, timeouts: { total: "600ms" } } } });
    try {
      const t0 = Date.now();
      const r = await send(b.url, { path: "/trickle" });
      const ms = Date.now() - t0;
      expect(r.error).not.toBeNull();
      expect(ms).toBeGreaterThanOrEqual(550);
      expect(ms).toBeLessThan(1600);
    } finally {
      await b.close();
    }
  });

  it("a client that sends its headers too slowly is disconnected at client.headerTimeout", async () => {
    const [web01] = await Promise.all([startOrigin("web01")]);
    const b = await startBalancer({ pools: { webfarm: poolOf([web01], { check: { enabled: false } }) }, client: { headerTimeout: "1s" } });
    try {
      const { port } = new URL(b.url);
      const t0 = Date.now();
      const out = await new Promise<string>((resolve) => {
        const s = net.connect(Number(port), "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: a\r\n"));
        let got = "";
        const drip = setInterval(() => s.writable && s.write("X-Slow: 1\r\n"), 200);
        s.on("data", (d) => (got += d));
        s.on("close", () => {
          clearInterval(drip);
          resolve(got);
        });
        s.on("error", () => {});
      });
      const ms = Date.now() - t0;
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(3500);
      expect(out === "" || /^HTTP\/1\.1 408 /.test(out)).toBe(true);
      expect(b.stats().origins[0].tries).toBe(0);
    } finally {
      await b.close();
    }
  });
});
