import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector, cpuCount, loadAvg1, memAvailablePct, probeApp, psiSome10, pswpin, Rate } from "../../origin-agent/collect.ts";
import { tempDir, writeAtomic, writeProc } from "./helpers.ts";

describe("collectors on a fake /proc", () => {
  it("read every file that is there", async () => {
    const root = tempDir("proc");
    writeProc(root, { load: 3, cpus: 2, memTotalKb: 4_000_000, memAvailableKb: 1_000_000, pswpin: 500, psi: { cpu: 12.5, memory: 3.25, io: 0.5 } });
    expect(cpuCount(root)).toBe(2);
    expect(loadAvg1(root)).toBe(3);
    expect(memAvailablePct(root)).toBe(25);
    expect(pswpin(root)).toBe(500);
    expect([psiSome10(root, "cpu"), psiSome10(root, "memory"), psiSome10(root, "io")]).toEqual([12.5, 3.25, 0.5]);

    const c = new Collector(root, null);
    expect(await c.sample(0)).toEqual({ loadPerCpu: 1.5, cpus: 2, memAvailablePct: 25, swapInPerSec: null, psi: { cpu: 12.5, memory: 3.25, io: 0.5 }, app: null });
    writeProc(root, { load: 3, cpus: 2, memTotalKb: 4_000_000, memAvailableKb: 1_000_000, pswpin: 1500, psi: { cpu: 12.5, memory: 3.25, io: 0.5 } });
    // 1000 pages in 2 s
    expect((await c.sample(2000)).swapInPerSec).toBe(500);
  });

  it("an empty folder: every reading null, never 0", async () => {
    const root = tempDir("empty");
    expect(await new Collector(root, null).sample(0)).toEqual({ loadPerCpu: null, cpus: null, memAvailablePct: null, swapInPerSec: null, psi: null, app: null });
    expect(await new Collector(join(root, "no-such-dir"), null).sample(0)).toMatchObject({ loadPerCpu: null, memAvailablePct: null });
  });

  it("a kernel without MemAvailable, PSI or a pswpin line gives null for those alone", async () => {
    const root = tempDir("old");
    writeProc(root, { load: 1, cpus: 4, memAvailableKb: null });
    writeAtomic(join(root, "vmstat"), "nr_free_pages 1\n");
    const r = await new Collector(root, null).sample(0);
    expect(r).toEqual({ loadPerCpu: 0.25, cpus: 4, memAvailablePct: null, swapInPerSec: null, psi: null, app: null });
  });

  it("PSI for some resources only: the others are null", async () => {
    const root = tempDir("psi");
    writeProc(root, { psi: { cpu: 7 } });
    expect((await new Collector(root, null).sample(0)).psi).toEqual({ cpu: 7, memory: null, io: null });
  });

  it("CPUs from /proc/cpuinfo when /proc/stat is missing; load per CPU null without a CPU count", () => {
    const root = tempDir("cpuinfo");
    writeProc(root, { load: 2, cpus: 1 });
    rmSync(join(root, "stat"));
    expect(cpuCount(root)).toBeNull();
    writeFileSync(join(root, "cpuinfo"), "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n\n");
    expect(cpuCount(root)).toBe(2);
  });

  it("garbage in the files gives null", () => {
    const root = tempDir("garbage");
    writeFileSync(join(root, "loadavg"), "not numbers\n");
    writeFileSync(join(root, "meminfo"), "MemTotal: 0 kB\nMemAvailable: 5 kB\n");
    writeAtomic(join(root, "pressure", "cpu"), "full avg10=3.00\n");
    expect([loadAvg1(root), memAvailablePct(root), psiSome10(root, "cpu")]).toEqual([null, null, null]);
  });

  it("swap-in rate: null on the first sample, after a counter reset and when the counter vanishes", () => {
    const r = new Rate();
    expect([r.next(100, 0), r.next(300, 1000), r.next(300, 2000), r.next(50, 3000), r.next(150, 4000), r.next(null, 5000), r.next(200, 6000)]).toEqual([
      null, 200, 0, null, 100, null, null,
    ]);
  });

  it("the real /proc of this machine gives numbers", async () => {
    const r = await new Collector("/proc", null).sample(0);
    expect(r.cpus).toBeGreaterThan(0);
    expect(r.loadPerCpu).toBeGreaterThanOrEqual(0);
    expect(r.memAvailablePct).toBeGreaterThan(0);
  });
});

describe("the app health URL", () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/ok") res.end("ok");
      else if (req.url === "/sick") (res.statusCode = 503), res.end("no");
      // /hang: never answers
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it("status and latency", async () => {
    const ok = await probeApp(`${base}/ok`, 1000);
    expect(ok.status).toBe(200);
    expect(ok.ms).toBeGreaterThanOrEqual(0);
    expect(ok.ms).toBeLessThan(1000);
    expect((await probeApp(`${base}/sick`, 1000)).status).toBe(503);
  });

  it("no answer within the timeout: status 0 after about the timeout", async () => {
    const t = Date.now();
    const r = await probeApp(`${base}/hang`, 300);
    expect(r.status).toBe(0);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it("refused: status 0 at once", async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    expect((await probeApp(`http://127.0.0.1:${port}/`, 1000)).status).toBe(0);
  });

  it("reads the status line however it arrives; what is not HTTP is no answer", async () => {
    const raw = net.createServer((sock) => {
      sock.once("data", (d) => {
        const path = String(d).split(" ")[1];
        if (path === "/split") {
          sock.write("HTTP/1.0 2");
          setTimeout(() => sock.end("04 No Content\r\n\r\n"), 30);
        } else if (path === "/big") {
          // a large body after the status: the answer does not wait for it
          sock.write("HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n");
          sock.end(Buffer.alloc(1_000_000, 97));
        } else sock.end("SSH-2.0-OpenSSH_9.2\r\n");
      });
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const at = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    try {
      expect((await probeApp(`${at}/split`, 1000)).status).toBe(204);
      expect((await probeApp(`${at}/big`, 1000)).status).toBe(200);
      expect((await probeApp(`${at}/ssh`, 1000)).status).toBe(0);
    } finally {
      await new Promise((r) => raw.close(r));
    }
  });

  it("sends a plain GET with Host and Connection: close", async () => {
    let seen = "";
    const raw = net.createServer((sock) => sock.once("data", (d) => ((seen = String(d)), sock.end("HTTP/1.1 200 OK\r\n\r\n"))));
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const port = (raw.address() as AddressInfo).port;
    try {
      await probeApp(`http://127.0.0.1:${port}/health?deep=1`, 1000);
      expect(seen).toBe(`GET /health?deep=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: edgelb-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    } finally {
      await new Promise((r) => raw.close(r));
    }
  });

  it("is part of the sample", async () => {
    const root = tempDir("app");
    writeProc(root, {});
    expect((await new Collector(root, { url: `${base}/sick`, timeout: 500 }).sample(0)).app).toMatchObject({ status: 503 });
  });
});
