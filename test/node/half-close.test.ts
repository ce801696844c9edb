// A client that half-closes (sends its FIN) right after its requests, as `nc -N`, shell scripts and
// some checkers do, on the Node build. By default (`client.halfClose: "abort"`, as nginx) the FIN
// is the client leaving: what it asked is aborted and its origin slot freed. With "answer"
// (HAProxy's default) it gets its answers, then the connection closes; a request still waiting for
// an origin slot when the FIN comes is dropped as if the client had left (HAProxy's `option
// abortonclose`), and a body the FIN cut short ends the connection at once. Real origins
// (harness), raw sockets on 127.0.0.1.
import net from "node:net";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { formatIssue, parseConfig } from "../../core/config/parse.ts";
import { Balancer } from "../../node/balancer.ts";
import { memoryLogger } from "../../node/log.ts";
import { loadAllCertificates } from "../../node/tls.ts";
import { killOrigins, send, startBalancer, startOrigin, synced, type TestOrigin } from "../support/harness.ts";
import { makeCa } from "../support/tls-ca.ts";

afterEach(killOrigins);

/** Writes `raw` on a new connection and half-closes it; resolves with all it read once the connection ends, and when. */
function halfClosed(url: string, raw: string, timeoutMs = 5000, ca?: Buffer): Promise<{ text: string; ms: number; timedOut: boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = ca ? tls.connect({ port: Number(port), host: "127.0.0.1", ca, servername: "shop.test", ALPNProtocols: ["http/1.1"] }) : net.connect(Number(port), "127.0.0.1");
    let text = "";
    const done = (timedOut: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, ms: performance.now() - t0, timedOut });
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    s.setEncoding("latin1");
    s.on("data", (d: string) => (text += d));
    s.on(ca ? "secureConnect" : "connect", () => s.end(raw));
    s.on("error", () => done(false));
    s.on("close", () => done(false));
  });
}

const get = (path: string, id: string) => `GET ${path} HTTP/1.1\r\nHost: shop.test\r\nx-request-id: ${id}\r\n\r\n`;
const statuses = (text: string) => [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
const ANSWER = { halfClose: "answer" };
const oneSlot = (o: TestOrigin) => ({ origins: [{ name: o.name, url: o.url, maxconn: 1 }], check: { enabled: false }, timeouts: { queue: "5s" } });

describe("a client that half-closes after its request (Node build)", () => {
  it("by default the FIN is the client leaving: no answer, the request in flight aborted at once and counted as a client abort", async () => {
    const o = await startOrigin("web01");
    await o.setMode({ mode: "ok", delayMs: 800 });
    const b = await startBalancer({ pools: { web: oneSlot(o) } });
    try {
      const r = await halfClosed(b.url, get("/a", "abort-1"));
      expect(r.timedOut).toBe(false);
      expect(r.text).toBe("");
      expect(r.ms).toBeLessThan(500);
      // the one slot is free long before the origin would have answered
      expect(b.stats().origins[0].clientAborts).toBe(1);
      expect(b.stats().origins[0].inflight).toBe(0);
    } finally {
      await b.close();
    }
  });

  it("a reload that changes client.halfClose says it takes effect on restart, and the running behaviour stays", async () => {
    const o = await startOrigin("web01");
    await o.setMode({ mode: "ok", delayMs: 300 });
    const pools = { web: { origins: [{ name: o.name, url: o.url }], check: { enabled: false } } };
    const b = await startBalancer({ client: ANSWER, pools });
    try {
      const next = parseConfig({ listen: { host: "127.0.0.1", port: 0 }, client: { halfClose: "abort" }, pools });
      if (!next.ok) throw new Error(next.issues.map(formatIssue).join("\n"));
      b.lb.reload(next.config);
      expect(b.log.lines.filter((l) => l.event === "reload" && l.note === "client changes take effect on restart only")).toHaveLength(1);
      expect(b.lb.config.client.halfClose).toBe("answer");
      const r = await halfClosed(b.url, get("/a", "reload-1"));
      expect(statuses(r.text)).toEqual([200]);
    } finally {
      await b.close();
    }
  });

  it('client.halfClose takes "abort" or "answer"; another value is refused, naming the path and the value', () => {
    const r = parseConfig({ client: { halfClose: "maybe" }, pools: { web: { origins: [{ name: "a", url: "http://127.0.0.1:1" }] } } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map(formatIssue).join("\n")).toMatch(/client\.halfClose.*must be abort or answer.*maybe/);
    const ok = parseConfig({ listen: { port: 8080 }, client: { halfClose: "answer" }, pools: { web: { origins: [{ name: "a", url: "http://127.0.0.1:1" }] } } });
    expect(ok.ok && ok.config.client.halfClose).toBe("answer");
    const dflt = parseConfig({ listen: { port: 8080 }, pools: { web: { origins: [{ name: "a", url: "http://127.0.0.1:1" }] } } });
    expect(dflt.ok && dflt.config.client.halfClose).toBe("abort");
  });

  it("is answered, then the connection closes; pipelined requests before the FIN are answered in turn", async () => {
    const o = await startOrigin("web01");
    // the FIN reaches the balancer well before the origin answers
    await o.setMode({ mode: "ok", delayMs: 300 });
    const b = await startBalancer({ client: ANSWER, pools: { web: { origins: [{ name: o.name, url: o.url }], check: { enabled: false } } } });
    try {
      const one = await halfClosed(b.url, get("/a", "hc-1"));
      expect(one.timedOut).toBe(false);
      expect(statuses(one.text)).toEqual([200]);
      expect(one.text).toMatch(/\r\nx-origin: web01\r\n/i);
      expect(one.text).toMatch(/origin web01\n$/);
      const two = await halfClosed(b.url, get("/a", "hc-2") + get("/b", "hc-3"));
      expect(two.timedOut).toBe(false);
      expect(statuses(two.text)).toEqual([200, 200]);
      await synced(o);
      expect(o.requests.map((q) => q.id)).toEqual(["hc-1", "hc-2", "hc-3"]);
      expect(b.stats().status["2xx"]).toBe(3);
    } finally {
      await b.close();
    }
  });

  it("one still waiting for an origin slot is dropped at the FIN (CQ): the slot goes on, the origin never sees it", async () => {
    const o = await startOrigin("web01");
    await o.setMode({ mode: "ok", delayMs: 600 });
    const b = await startBalancer({ client: ANSWER, log: { requests: true }, pools: { web: oneSlot(o) } });
    try {
      // the one slot is busy for 600 ms
      const first = send(b.url, { path: "/first", headers: { "x-request-id": "busy-1" } });
      await new Promise((r) => setTimeout(r, 100));
      const dropped = await halfClosed(b.url, get("/queued", "queued-1"));
      // closed at once, unanswered, while the first request still held the slot
      expect(dropped.timedOut).toBe(false);
      expect(dropped.text).toBe("");
      expect(dropped.ms).toBeLessThan(400);
      const r = await first;
      expect(r.status).toBe(200);
      // the slot serves the next request at once
      const after = await send(b.url, { path: "/after", headers: { "x-request-id": "after-1" } });
      expect(after.status).toBe(200);
      await synced(o);
      expect(o.requests.map((q) => q.id)).toEqual(["busy-1", "after-1"]);
      const line = b.log.requests.find((l) => l.path === "/queued");
      expect(line?.termination).toBe("CQ");
    } finally {
      await b.close();
    }
  });

  it("a body the FIN cut short ends the connection at once (it can never complete)", async () => {
    const o = await startOrigin("web01");
    const b = await startBalancer({ client: ANSWER, pools: { web: { origins: [{ name: o.name, url: o.url }], check: { enabled: false }, timeouts: { header: "10s", idle: "10s" } } } });
    try {
      const r = await halfClosed(b.url, "POST /order HTTP/1.1\r\nHost: shop.test\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nitem=1", 4000);
      expect(r.timedOut).toBe(false);
      expect(statuses(r.text)).toEqual([]);
      expect(r.ms).toBeLessThan(2000);
      // the balancer goes on serving
      expect((await send(b.url)).status).toBe(200);
    } finally {
      await b.close();
    }
  });

  it("over TLS too: answered after the client's FIN", async () => {
    const o = await startOrigin("web01");
    await o.setMode({ mode: "ok", delayMs: 300 });
    const ca = makeCa("half-close CA");
    const r = parseConfig({
      listen: { host: "127.0.0.1", port: 0, tls: { certificates: [ca.issue("hc-shop", ["shop.test"])] } },
      client: ANSWER,
      pools: { web: { origins: [{ name: o.name, url: o.url }], check: { enabled: false } } },
    });
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    const certs = loadAllCertificates(r.config);
    if (!certs.ok) throw new Error(certs.problems.join("\n"));
    const b = new Balancer(r.config, memoryLogger(), certs.byListener);
    try {
      const { port } = await b.listen();
      const one = await halfClosed(`https://127.0.0.1:${port}`, get("/a", "tls-1"), 5000, ca.ca);
      expect(one.timedOut).toBe(false);
      expect(statuses(one.text)).toEqual([200]);
      expect(one.text).toMatch(/origin web01\n$/);
    } finally {
      await b.close(1000);
    }
  });
});
