// Request logs (HAProxy httplog fields and termination states) and health changes at warn, on the
// real Node balancer in front of real origins; the logger itself writing to a file and to a pipe.
import { spawn } from "node:child_process";
import { readFileSync, renameSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpLogLine } from "../../core/log/httplog.ts";
import { createLogger } from "../../node/log.ts";
import { killOrigins, poolOf, send, startBalancer, startOrigin, waitFor, type TestBalancer } from "../support/harness.ts";
import { tempDir } from "../support/tmp.ts";

afterEach(killOrigins);

/** Sends raw bytes on a fresh connection; resolves with everything read until the peer closes (or `closeAfterMs`). */
function raw(url: string, bytes: string, closeAfterMs = 0): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), "127.0.0.1");
    let got = "";
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve(got));
    s.on("connect", () => {
      if (bytes) s.write(bytes);
      if (closeAfterMs > 0) setTimeout(() => s.destroy(), closeAfterMs);
    });
  });
}

/** The request line of `path`, once the balancer wrote it. */
async function lineFor(b: TestBalancer, path: string): Promise<HttpLogLine> {
  await waitFor(() => b.log.requests.some((l) => l.path === path), 5000);
  return b.log.requests.find((l) => l.path === path)!;
}

async function withBalancer(cfg: Record<string, unknown>, f: (b: TestBalancer) => Promise<void>): Promise<void> {
  const b = await startBalancer(cfg);
  try {
    await f(b);
  } finally {
    await b.close();
  }
}

describe("request log lines (HAProxy httplog fields)", () => {
  it("a normal exchange: every field, bytes as the client received them, timers that add up", async () => {
    const web01 = await startOrigin("web01");
    await web01.setMode({ mode: "ok", delayMs: 150 });
    await withBalancer({ pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } }, async (b) => {
      const got = await raw(b.url, "GET /slow?q=1 HTTP/1.1\r\nHost: shop.example.no\r\nConnection: close\r\n\r\n");
      const l = await lineFor(b, "/slow?q=1");
      expect(l).toMatchObject({
        event: "request",
        pool: "webfarm",
        origin: "web01",
        Tw: 0,
        status: 200,
        retries: 0,
        redispatched: false,
        termination: "--",
        method: "GET",
      });
      expect(l.client).toMatch(/^127\.0\.0\.1:\d+$/);
      // what the client read, head included
      expect(l.bytes).toBe(Buffer.byteLength(got, "latin1"));
      expect(l.Tr).toBeGreaterThanOrEqual(140);
      expect(l.Tc).toBeGreaterThanOrEqual(0);
      expect(l.Tq).toBeGreaterThanOrEqual(0);
      expect(l.Tt).toBeGreaterThanOrEqual(l.Tq + l.Tw + l.Tc + l.Tr - 2);
      // events stay in `lines`, request lines in `requests`
      expect(b.log.lines.some((x) => x.event === "request")).toBe(false);
    });
  });

  it("a retry on another origin: retries 1, redispatched, the origin that answered", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    await web01.kill();
    await withBalancer({ pools: { webfarm: poolOf([web01, web02], { check: { enabled: false }, passive: { enabled: false } }) } }, async (b) => {
      for (let i = 0; i < 4; i++) expect((await send(b.url, { path: `/r${i}` })).status).toBe(200);
      await waitFor(() => b.log.requests.length === 4, 2000);
      const retried = b.log.requests.filter((l) => l.retries > 0);
      expect(retried.length).toBeGreaterThan(0);
      for (const l of retried) expect(l).toMatchObject({ origin: "web02", retries: 1, redispatched: true, termination: "--", status: 200 });
    });
  });

  it("termination states: SC (refused, no retry left), SC <NOSRV>, sQ, CH, sH, SD, sD, PH", async () => {
    const [dead, hang, reset, trickle] = await Promise.all([startOrigin("dead"), startOrigin("hang"), startOrigin("reset"), startOrigin("trickle")]);
    await dead.kill();
    await hang.setMode({ mode: "hang" });
    await reset.setMode({ mode: "reset-mid-body", bytes: 1000 });
    await trickle.setMode({ mode: "trickle", everyMs: 1000 });
    // an origin that answers with garbage
    const bad = net.createServer((s) => s.once("data", () => s.end("HTTP/1.1 abc\r\n\r\n")));
    await new Promise<void>((r) => bad.listen(0, "127.0.0.1", r));
    const badUrl = `http://127.0.0.1:${(bad.address() as net.AddressInfo).port}`;
    const one = (name: string, url: string, extra: Record<string, unknown> = {}) => ({
      origins: [{ name, url, ...(extra.origin as object) }],
      check: { enabled: false },
      passive: { enabled: false },
      retries: 0,
      ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== "origin")),
    });
    const hosts = ["dead", "nosrv", "queue", "hang", "reset", "trickle", "bad"];
    const cfg = {
      pools: {
        dead: one("dead", dead.url),
        nosrv: one("zero", hang.url, { origin: { weight: 0 } }),
        queue: one("hang", hang.url, { origin: { maxconn: 1 }, timeouts: { queue: "200ms" } }),
        hang: one("hang", hang.url, { timeouts: { header: "200ms" } }),
        reset: one("reset", reset.url),
        trickle: one("trickle", trickle.url, { timeouts: { idle: "200ms" } }),
        bad: one("bad", badUrl),
      },
      routes: hosts.map((h) => ({ host: [`${h}.test`], pool: h })),
      defaultPool: "dead",
    };
    try {
      await withBalancer(cfg, async (b) => {
        const get = (host: string, path: string) => send(b.url, { path, headers: { host: `${host}.test` } });
        expect((await get("dead", "/dead")).status).toBe(503);
        expect((await get("nosrv", "/nosrv")).status).toBe(503);
        // one request holds the only slot (and is abandoned by its client: CH), the next waits in the queue
        const holding = raw(b.url, "GET /held HTTP/1.1\r\nHost: queue.test\r\n\r\n", 600);
        await new Promise((r) => setTimeout(r, 100));
        expect((await get("queue", "/queued")).status).toBe(503);
        await holding;
        expect((await get("hang", "/hang")).status).toBe(504);
        const cut = await get("reset", "/reset");
        expect(cut.error ?? cut.status).not.toBe(200);
        await get("trickle", "/trickle");
        expect((await get("bad", "/bad")).status).toBe(502);

        const term = async (path: string) => (await lineFor(b, path)).termination;
        expect(await term("/dead")).toBe("SC");
        expect(await lineFor(b, "/dead")).toMatchObject({ status: 503, origin: "dead", Tc: -1, Tr: -1 });
        expect(await lineFor(b, "/nosrv")).toMatchObject({ termination: "SC", status: 503, origin: null, Tc: -1 });
        const queued = await lineFor(b, "/queued");
        expect(queued).toMatchObject({ termination: "sQ", status: 503, origin: null });
        expect(queued.Tw).toBeGreaterThanOrEqual(190);
        expect(await lineFor(b, "/held")).toMatchObject({ termination: "CH", status: -1, origin: "hang", Tr: -1 });
        expect(await lineFor(b, "/hang")).toMatchObject({ termination: "sH", status: 504, Tr: -1 });
        expect(await lineFor(b, "/reset")).toMatchObject({ termination: "SD", status: 200 });
        expect(await lineFor(b, "/trickle")).toMatchObject({ termination: "sD", status: 200 });
        expect(await lineFor(b, "/bad")).toMatchObject({ termination: "PH", status: 502 });
      });
    } finally {
      bad.close();
    }
  });

  it("refused requests (PR), control routes (LR), Node parser errors as <BADREQ> lines; no line for a connection that sent nothing", async () => {
    const web01 = await startOrigin("web01");
    await withBalancer({ pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } }, async (b) => {
      await raw(b.url, "GET /smuggle HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
      expect(await lineFor(b, "/smuggle")).toMatchObject({ termination: "PR", status: 400, pool: null, origin: null, Tw: -1 });
      expect((await send(b.url, { path: "/__edgelb/healthz" })).status).toBe(200);
      expect(await lineFor(b, "/__edgelb/healthz")).toMatchObject({ termination: "LR", status: 200, pool: null });
      const before = b.log.requests.length;
      // a bad header line: Node's parser refuses it before any request exists
      const answer = await raw(b.url, "GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n");
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
      await waitFor(() => b.log.requests.length === before + 1, 2000);
      expect(b.log.requests.at(-1)).toMatchObject({ termination: "PR", status: 400, method: null, path: null });
      expect(b.log.requests.at(-1)!.bytes).toBe(Buffer.byteLength(answer, "latin1"));
      // connect, send nothing, leave: dontlognull (the default) keeps it out of the log
      await raw(b.url, "", 100);
      await new Promise((r) => setTimeout(r, 100));
      expect(b.log.requests.length).toBe(before + 1);
    });
  });

  it("log.dontlognull false: a connection that sent nothing gets a CR line; log.requests false: no request lines at all", async () => {
    const web01 = await startOrigin("web01");
    await withBalancer({ log: { dontlognull: false }, pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } }, async (b) => {
      await raw(b.url, "", 100);
      await waitFor(() => b.log.requests.length === 1, 2000);
      expect(b.log.requests[0]).toMatchObject({ termination: "CR", status: -1, method: null, bytes: 0, origin: null });
      // a connection with a request is not a null one
      expect((await send(b.url, { path: "/one" })).status).toBe(200);
      await lineFor(b, "/one");
    });
    await withBalancer({ log: { requests: false }, pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } }, async (b) => {
      for (let i = 0; i < 5; i++) expect((await send(b.url, { path: `/q${i}` })).status).toBe(200);
      await raw(b.url, "GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n");
      await new Promise((r) => setTimeout(r, 100));
      expect(b.log.requests).toEqual([]);
    });
  });

  it("health changes at warn with their reason: down by checks, admin drain", async () => {
    const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
    process.env.EDGELB_TEST_LOGS_ADMIN = "logs-admin-token";
    await withBalancer(
      {
        admin: { auth: { bearerEnv: "EDGELB_TEST_LOGS_ADMIN" } },
        pools: { webfarm: poolOf([web01, web02], { check: { interval: "100ms", timeout: "80ms", rise: 1, fall: 1 } }) },
      },
      async (b) => {
        await web01.kill();
        await waitFor(() => b.log.lines.some((l) => l.event === "health" && l.kind === "down"), 3000);
        expect(b.log.lines.find((l) => l.event === "health" && l.kind === "down")).toMatchObject({
          level: "warn",
          pool: "webfarm",
          origin: "web01",
          from: "UP",
          to: "DOWN",
          reason: expect.stringMatching(/^check failed: /),
        });
        const r = await send(b.url, { method: "POST", path: "/__edgelb/admin/webfarm/web02/drain", headers: { authorization: "Bearer logs-admin-token" } });
        expect(r.status).toBe(200);
        expect(b.log.lines.find((l) => l.event === "health" && l.kind === "admin")).toMatchObject({ level: "warn", origin: "web02", from: "ready", to: "drain", reason: "admin" });
      },
    );
  });
});

describe("createLogger", () => {
  it("writes JSON lines with level, ISO time and pid to a file; reopen() after a rename (logrotate) starts a new file", async () => {
    const dir = tempDir("edgelb-log-");
    const file = join(dir, "sub", "edgelb.log");
    const log = createLogger(file);
    log.info({ event: "one" });
    log.warn({ event: "two", n: 2 });
    await waitFor(() => {
      try {
        return readFileSync(file, "utf8").split("\n").length === 3;
      } catch {
        return false;
      }
    }, 2000);
    renameSync(file, `${file}.1`);
    log.reopen();
    log.error({ event: "three" });
    log.request({ event: "request", client: "1.2.3.4:5", pool: "p", origin: "o", Tq: 0, Tw: 0, Tc: 0, Tr: 1, Tt: 1, status: 200, bytes: 10, retries: 0, redispatched: false, termination: "--", method: "GET", path: "/" });
    await waitFor(() => {
      try {
        return readFileSync(file, "utf8").split("\n").length === 3;
      } catch {
        return false;
      }
    }, 2000);
    log.flush();
    const parse = (f: string) => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const old = parse(`${file}.1`), now = parse(file);
    expect(old.map((l) => [l.level, l.event])).toEqual([["info", "one"], ["warn", "two"]]);
    expect(now.map((l) => [l.level, l.event])).toEqual([["error", "three"], ["info", "request"]]);
    for (const l of [...old, ...now]) {
      expect(l.pid).toBe(process.pid);
      expect(new Date(String(l.time)).toISOString()).toBe(l.time);
    }
    expect(now[1]).toMatchObject({ termination: "--", Tr: 1, path: "/" });
  });

  it("a pipe that falls behind (non-blocking, full): every line arrives, whole and in order", async () => {
    const N = 20_000; // ~4.6 MB through a 64 KiB pipe
    const child = spawn(process.execPath, [fileURLToPath(new URL("../support/log-child.ts", import.meta.url)), String(N)], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 700)); // the writer meets a full pipe
    let out = "", err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout.resume();
    await new Promise((r) => child.once("exit", r));
    const lines = out.trimEnd().split("\n").map((l) => JSON.parse(l) as { i: number; pad: string; level: string });
    expect(err).toBe("");
    expect(lines.length).toBe(N);
    expect(lines.every((l, i) => l.i === i && l.pad.length === 200 && l.level === "info")).toBe(true);
  });
});
