// The request side of the runtime fact worker/wire.ts states for responses: workerd's fetch()
// removes the connection-level headers itself when it writes a subrequest, so the edge's request
// header rule (requestEditor with STRIPPED_ON_WIRE, worker/forward.ts) spends no call on them.
// Pinned here under bare `workerd serve` with a real origin on 127.0.0.1 that records the raw
// request headers it got, so that a runtime upgrade that changes it fails here first.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { STRIPPED_ON_WIRE } from "../../worker/wire.ts";
import { freePort } from "../support/harness.ts";
import { startEdgeUnderWorkerd, WORKERD } from "../support/workerd.ts";


describe("workerd's fetch on the wire", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgelb-wire-request-"));
  let child: ChildProcess | undefined;
  let server: http.Server | undefined;
  const others: { child?: ChildProcess; servers: http.Server[] } = { servers: [] };
  const kill = async (c: ChildProcess | undefined) => {
    if (c && c.exitCode === null && c.signalCode === null) {
      await new Promise<void>((r) => {
        c.once("exit", () => r());
        process.kill(c.pid!, "SIGKILL");
      });
    }
  };
  afterAll(async () => {
    await kill(child);
    await kill(others.child);
    server?.close();
    for (const s of others.servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("removes exactly STRIPPED_ON_WIRE from a subrequest's headers; Proxy-*, Expect and Connection-listed names pass", async () => {
    const seen: string[][] = [];
    server = http.createServer((req, res) => {
      seen.push(req.rawHeaders);
      res.end("ok");
    });
    const originPort = await new Promise<number>((r) => server!.listen(0, "127.0.0.1", () => r((server!.address() as net.AddressInfo).port)));
    const sent: Record<string, string> = {
      connection: "keep-alive, x-listed",
      "keep-alive": "timeout=7",
      te: "trailers",
      trailer: "x-t",
      upgrade: "h2c",
      "transfer-encoding": "chunked",
      "proxy-connection": "keep-alive",
      "proxy-authorization": "Basic eA==",
      expect: "100-continue",
      "x-listed": "1",
    };
    writeFileSync(
      join(dir, "index.js"),
      `export default { async fetch() {
        const r = await fetch("http://127.0.0.1:${originPort}/p", { headers: ${JSON.stringify(sent)}, redirect: "manual" });
        return new Response(await r.text());
      } };\n`,
    );
    const port = await freePort();
    writeFileSync(
      join(dir, "workerd.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w), (name = "net", network = (allow = ["public", "private", "local"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const w :Workerd.Worker = ( modules = [ (name = "index.js", esModule = embed "index.js") ], compatibilityDate = "2026-10-30", globalOutbound = "net" );
`,
    );
    child = spawn(WORKERD, ["serve", join(dir, "workerd.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    let body = "";
    for (let i = 0; i < 200 && body !== "ok"; i++) {
      if (child.exitCode !== null) throw new Error(`workerd exited: ${err}`);
      body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => "");
      if (body !== "ok") await new Promise((r) => setTimeout(r, 50));
    }
    expect(body).toBe("ok");
    expect(seen.length).toBeGreaterThan(0);
    const raw = seen[0];
    const got = new Map<string, string>();
    for (let i = 0; i < raw.length; i += 2) got.set(raw[i].toLowerCase(), raw[i + 1]);
    // the runtime's own: gone (or, for Connection, its own value, never the one we gave)
    for (const name of STRIPPED_ON_WIRE) expect([name, got.get(name)]).not.toEqual([name, sent[name]]);
    for (const name of ["keep-alive", "te", "trailer", "upgrade", "transfer-encoding"]) expect([name, got.has(name)]).toEqual([name, false]);
    expect(got.get("connection") ?? "").not.toContain("x-listed");
    // what the runtime leaves to us: requestEditor must drop these itself
    expect(got.get("proxy-connection")).toBe("keep-alive");
    expect(got.get("proxy-authorization")).toBe("Basic eA==");
    expect(got.get("expect")).toBe("100-continue");
    expect(got.get("x-listed")).toBe("1");
  });

  it("edgelb's bundle: a try left behind by the header timeout is redispatched, and its connection to the hung origin is closed when the request ends", async () => {
    const closedAt: number[] = [];
    const hung = http.createServer((req) => req.socket.once("close", () => closedAt.push(Date.now())));
    const good = http.createServer((_req, res) => res.end("good\n"));
    others.servers.push(hung, good);
    const listen = (s: http.Server) => new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as net.AddressInfo).port)));
    const [ph, pg] = [await listen(hung), await listen(good)];
    // the hung origin first in the round-robin order is not guaranteed: every request is sent until one was redispatched
    const edge = await startEdgeUnderWorkerd(join(dir, "edgelb"), {
      listen: { port: 0 },
      pools: { web: { origins: [{ name: "hung", url: `http://127.0.0.1:${ph}` }, { name: "good", url: `http://127.0.0.1:${pg}` }], check: { path: "/", interval: "60s" }, timeouts: { header: "300ms" } } },
    });
    others.child = edge.child;
    const port = edge.port;
    let redispatched = false;
    for (let i = 0; i < 4 && !redispatched; i++) {
      const t0 = Date.now();
      const r = await fetch(`http://127.0.0.1:${port}/x`);
      expect(await r.text()).toBe("good\n");
      const ended = Date.now();
      if (ended - t0 < 250) continue; // served by the good origin at once
      redispatched = true;
      // the hung origin's connection is closed by the runtime when the request ends, not left open
      for (let k = 0; k < 40 && closedAt.length === 0; k++) await new Promise((res) => setTimeout(res, 25));
      expect(closedAt.length).toBe(1);
      expect(closedAt[0] - ended).toBeLessThan(500);
    }
    expect(redispatched).toBe(true);
  });
});
