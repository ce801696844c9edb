import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countBy, killOrigins, synced, load, poolOf, send, startBalancer, startOrigin, type TestBalancer, type TestOrigin } from "../support/harness.ts";
import net from "node:net";

let web01: TestOrigin, web02: TestOrigin;
beforeAll(async () => {
  [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
});
afterAll(killOrigins);

/** Raw bytes in, raw bytes out: for what an HTTP client library would refuse to send. */
function raw(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), "127.0.0.1", () => s.write(bytes));
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("end", () => resolve(out));
    s.on("close", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => {
      s.destroy();
      resolve(out);
    }, 3000);
  });
}

describe("forwarding (Node build)", () => {
  let b: TestBalancer;
  beforeAll(async () => {
    b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) } });
  });
  afterAll(() => b.close());

  it("alternates web01 / web02", async () => {
    const seq: (string | null)[] = [];
    for (let i = 0; i < 6; i++) seq.push((await send(b.url)).origin);
    expect(seq).toEqual(["web01", "web02", "web01", "web02", "web01", "web02"]);
    const body = await send(b.url, { path: "/x?y=1" });
    expect(body.status).toBe(200);
    expect(body.body).toMatch(/^origin web0[12]\n$/);
  });

  it("passes the path and query byte for byte; //evil stays a path on the configured origin", async () => {
    await synced(web01, web02);
    const n = web01.requests.length + web02.requests.length;
    await send(b.url, { path: "//evil.example/x?a=%2F&b" });
    await synced(web01, web02);
    const all = [...web01.requests, ...web02.requests];
    expect(all.length).toBe(n + 1);
    expect(all.some((r) => r.url === "//evil.example/x?a=%2F&b")).toBe(true);
  });

  it("sets X-Forwarded-* from the socket and discards the client's", async () => {
    await synced(web01, web02);
    const before = web01.requests.length + web02.requests.length;
    const out = await raw(
      b.url,
      "GET /xff HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nForwarded: for=6.6.6.6\r\n" +
        "Keep-Alive: timeout=5\r\nX-Drop: 1\r\nConnection: close, x-drop\r\n\r\n",
    );
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    await synced(web01, web02);
    const r = [...web01.requests, ...web02.requests].find((q) => q.url === "/xff")!;
    expect(web01.requests.length + web02.requests.length).toBe(before + 1);
    const h: Record<string, string[]> = {};
    for (let i = 0; i < r.headers.length; i += 2) (h[r.headers[i].toLowerCase()] ??= []).push(r.headers[i + 1]);
    expect(h["x-forwarded-for"]).toEqual(["127.0.0.1"]);
    expect(h["x-forwarded-proto"]).toEqual(["http"]);
    expect(h["x-forwarded-host"]).toEqual(["shop.example"]);
    expect(h["host"]).toEqual(["shop.example"]);
    expect(h["forwarded"]).toBeUndefined();
    expect(h["keep-alive"]).toBeUndefined();
    expect(h["x-drop"]).toBeUndefined();
  });

  it("refuses Connection naming Host/Content-Length/Transfer-Encoding/Authorization with 400 and a close", async () => {
    for (const name of ["Host", "Content-Length", "Transfer-Encoding", "Authorization"]) {
      const before = web01.requests.length + web02.requests.length;
      const out = await raw(b.url, `GET /c HTTP/1.1\r\nHost: a\r\nConnection: close, ${name}\r\n\r\n`);
      expect(out).toMatch(/^HTTP\/1\.1 400 /);
      expect(out.toLowerCase()).toContain("connection: close");
      await synced(web01, web02);
      expect(web01.requests.length + web02.requests.length).toBe(before);
    }
  });

  it("refuses two Host headers and an absolute-form target for another host", async () => {
    const before = web01.requests.length + web02.requests.length;
    expect(await raw(b.url, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(b.url, "GET http://evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    await synced(web01, web02);
    expect(web01.requests.length + web02.requests.length).toBe(before);
  });

  it("forwards a POST body and strips hop-by-hop response headers", async () => {
    const r = await send(b.url, { method: "POST", path: "/post", body: "hello world" });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/got 11 bytes/);
    expect(r.headers["keep-alive"]).not.toBe("timeout=10");
  });

  it("serves healthz and stats JSON on the same port", async () => {
    expect((await send(b.url, { path: "/__edgelb/healthz" })).body).toBe("ok\n");
    const s = JSON.parse((await send(b.url, { path: "/__edgelb/stats?format=json" })).body);
    expect(s.pools[0].name).toBe("webfarm");
    expect(s.pools[0].origins.map((o: { name: string }) => o.name)).toEqual(["web01", "web02"]);
    expect(s.pools[0].origins[0].status["2xx"]).toBeGreaterThan(0);
  });
});

describe("weights", () => {
  it("follows weights 3:1 over 400 requests within 2 %", async () => {
    const b = await startBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }, [3, 1]) } });
    try {
      const rs = await load(b.url, 400, 8);
      const by = countBy(rs, (r) => r.origin ?? String(r.error));
      expect(Math.abs(by.web01 / 400 - 0.75)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(by.web02 / 400 - 0.25)).toBeLessThanOrEqual(0.02);
      expect(b.stats().origins.map((o) => o.tries)).toEqual([by.web01, by.web02]);
    } finally {
      await b.close();
    }
  });

  it("sends no new requests to weight 0 and uses a backup only when no primary is left", async () => {
    const b = await startBalancer({
      pools: {
        webfarm: {
          origins: [
            { name: "web01", url: web01.url, weight: 0 },
            { name: "web02", url: web02.url, backup: true },
          ],
          check: { enabled: false },
        },
      },
    });
    try {
      // web01 has weight 0 and web02 is a backup: the backup serves
      const rs = await load(b.url, 20, 4);
      expect(countBy(rs, (r) => r.origin ?? "err")).toEqual({ web02: 20 });
    } finally {
      await b.close();
    }
  });
});
