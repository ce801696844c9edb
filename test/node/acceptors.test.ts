import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import { Balancer } from "../../node/balancer.ts";
import { memoryLogger } from "../../node/log.ts";
import { freePort, killOrigins, poolOf, send, startBalancer, startOrigin } from "../support/harness.ts";

afterEach(killOrigins);

/** Listening TCP sockets on 127.0.0.1:port, as the kernel lists them (/proc/net/tcp, state 0A). */
function listening(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === `0100007F:${hex}` && f[3] === "0A";
    }).length;
}

describe.runIf(process.platform === "linux")("listen.acceptors (Node build)", () => {
  it("N listening sockets share the port and every connection is served whichever took it; a second instance still gets EADDRINUSE; close() closes them all", async () => {
    const o = await startOrigin("web01");
    const port = await freePort();
    const b = await startBalancer({ listen: { host: "127.0.0.1", port, acceptors: 4 }, pools: { web: poolOf([o]) } });
    try {
      await b.lb.acceptorsBound();
      expect(listening(port)).toBe(4);
      // 200 connections, each from its own source port: the kernel spreads them over the 4 sockets
      const rs = await Promise.all(Array.from({ length: 200 }, () => send(b.url, { headers: { connection: "close" } })));
      expect(rs.filter((r) => r.status === 200 && r.origin === "web01").length).toBe(200);
      // another instance on the same port, with one socket or several, is refused as before
      for (const acceptors of [1, 2]) {
        const r = parseConfig({ listen: { host: "127.0.0.1", port, acceptors }, pools: { web: poolOf([o]) } });
        if (!r.ok) throw new Error("config");
        const second = new Balancer(r.config, memoryLogger());
        await expect(second.listen()).rejects.toMatchObject({ code: "EADDRINUSE" });
        await second.close(0);
      }
      expect(listening(port)).toBe(4);
    } finally {
      await b.close();
    }
    expect(listening(port)).toBe(0);
  });

  it("listen() resolves with one socket listening; the others are bound in later event-loop turns, serving meanwhile; close() during the binding leaves none", async () => {
    const o = await startOrigin("web01");
    const port = await freePort();
    const b = await startBalancer({ listen: { host: "127.0.0.1", port, acceptors: 64 }, pools: { web: poolOf([o]) } });
    try {
      // what a cold start waits for: one socket (binding 255 more took ~20 ms of one here)
      expect(listening(port)).toBe(1);
      const r = await send(b.url);
      expect(r.status).toBe(200);
      expect(r.origin).toBe("web01");
      await b.lb.acceptorsBound();
      expect(listening(port)).toBe(64);
    } finally {
      await b.close();
    }
    expect(listening(port)).toBe(0);
    // closed while binding: what was bound is closed, and nothing is bound after
    const c = await startBalancer({ listen: { host: "127.0.0.1", port, acceptors: 64 }, pools: { web: poolOf([o]) } });
    await new Promise((r) => setImmediate(r));
    const part = listening(port);
    expect(part).toBeGreaterThan(1);
    expect(part).toBeLessThan(64);
    await c.close();
    expect(listening(port)).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(listening(port)).toBe(0);
    expect(c.log.lines.filter((e) => e.event === "listener-error")).toEqual([]);
  });

  it("a reload that changes acceptors says it takes effect on restart; the sockets stay as they are", async () => {
    const o = await startOrigin("web01");
    const port = await freePort();
    const cfg = (acceptors: number) => {
      const r = parseConfig({ listen: { host: "127.0.0.1", port, acceptors }, pools: { web: poolOf([o]) } });
      if (!r.ok) throw new Error("config");
      return r.config;
    };
    const b = await startBalancer({ listen: { host: "127.0.0.1", port, acceptors: 2 }, pools: { web: poolOf([o]) } });
    try {
      await b.lb.acceptorsBound();
      const warned = () => b.log.lines.filter((l) => l.event === "reload" && /listen changes take effect on restart only/.test(String(l.note))).length;
      b.lb.reload(cfg(2));
      expect(warned()).toBe(0);
      b.lb.reload(cfg(4));
      expect(warned()).toBe(1);
      expect(listening(port)).toBe(2);
      expect((await send(b.url)).status).toBe(200);
    } finally {
      await b.close();
    }
  });

  it("acceptors > 1 with client.maxConnections is refused, naming the path (the limit would count per socket)", () => {
    const r = parseConfig({ listen: { host: "127.0.0.1", port: 8080, acceptors: 2 }, client: { maxConnections: 100 }, pools: { web: { origins: [{ name: "a", url: "http://127.0.0.1:1" }] } } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => `${i.path}: ${i.message}`).join("\n")).toMatch(/listen\.acceptors: must be 1 when client\.maxConnections is set/);
  });
});
