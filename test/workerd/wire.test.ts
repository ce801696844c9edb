// The Worker build as the world sees it: the bundle `npm run build:worker` wrote to dist/ (what
// `wrangler deploy` uploads), served by bare `workerd serve` (as bench/run.sh does), with real
// origins on 127.0.0.1 and raw HTTP on both sides. The tests inside workerd (test/worker) call
// the handler in-process and never see the bytes a client gets; these do. They also pin the
// runtime fact worker/forward.ts relies on to return an origin's response without copying it:
// workerd's HTTP server removes the connection-level headers of a Worker's response itself.
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STRIPPED_ON_WIRE } from "../../worker/wire.ts";
import { serveUnderWorkerd } from "../support/workerd.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One raw HTTP/1.1 exchange: the response head as [name, value] pairs (names lower-cased) and the body. */
function raw(port: number, head: string): Promise<{ status: number; headers: [string, string][]; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.end(head));
    let got = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => (got += d));
    s.setTimeout(5000, () => s.destroy(new Error("no answer in 5 s")));
    s.on("error", reject);
    s.on("close", () => {
      const [h, ...rest] = got.split("\r\n\r\n");
      const lines = h.split("\r\n");
      const headers = lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()] as [string, string]);
      resolve({ status: Number(lines[0].split(" ")[1]), headers, body: rest.join("\r\n\r\n") });
    });
  });
}

const serveWorker = (dir: string, modules: string[], config: unknown) => serveUnderWorkerd(dir, modules, config);

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once("exit", () => r());
    process.kill(child.pid!, "SIGKILL");
  });
}

/** An origin that records the raw request headers it got and answers with `extra` response headers. */
function origin(name: string, extra: Record<string, string>) {
  const seen: string[][] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.rawHeaders);
    const body = `hello from ${name}\n`;
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length), "x-origin": name, ...extra });
    res.end(body);
  });
  return { server, seen, listen: () => new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port))) };
}

describe("the Worker build on the wire (dist/ under bare workerd)", () => {
  let dir = "";
  const children: ChildProcess[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "edgelb-wire-"));
  });
  afterAll(async () => {
    for (const c of children) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  });

  it("workerd's HTTP server removes exactly STRIPPED_ON_WIRE from a Worker's response; Proxy-* and Connection-listed names pass", async () => {
    const sub = join(dir, "probe");
    (await import("node:fs")).mkdirSync(sub);
    const hop: Record<string, string> = { connection: "keep-alive, x-listed", "keep-alive": "timeout=7", te: "trailers", trailer: "x-t", upgrade: "h2c", "proxy-connection": "keep-alive", "x-listed": "1" };
    writeFileSync(
      join(sub, "index.js"),
      `export default { fetch() { return new Response("x", { headers: ${JSON.stringify(hop)} }); } };\n`,
    );
    const w = await serveWorker(sub, ["index.js"], {});
    children.push(w.child);
    const r = await raw(w.port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    expect(r.status).toBe(200);
    const names = new Map(r.headers);
    for (const name of STRIPPED_ON_WIRE) if (name in hop) expect([name, names.get(name)]).not.toEqual([name, hop[name]]);
    expect(names.get("connection") ?? "").not.toContain("x-listed");
    expect(names.get("keep-alive")).toBeUndefined();
    expect(names.get("upgrade")).toBeUndefined();
    expect(names.get("trailer")).toBeUndefined();
    expect(names.get("te")).toBeUndefined();
    // what the runtime leaves to us: forward.ts must drop these itself
    expect(names.get("proxy-connection")).toBe("keep-alive");
    expect(names.get("x-listed")).toBe("1");
    await stop(w.child);
  });

  it("edgelb's bundle: round-robin over real origins, hop-by-hop headers gone both ways, X-Forwarded-* ours", async () => {
    const bundle = join(ROOT, "dist/index.js");
    if (!existsSync(bundle)) throw new Error("dist/index.js is missing: `npm test` builds it first (npm run build:worker)");
    const a = origin("a", { connection: "keep-alive", "keep-alive": "timeout=7" });
    const b = origin("b", { connection: "x-secret", "x-secret": "1", "proxy-authenticate": "Basic" });
    const [pa, pb] = [await a.listen(), await b.listen()];
    try {
      const sub = join(dir, "edgelb");
      (await import("node:fs")).mkdirSync(sub);
      copyFileSync(bundle, join(sub, "index.js"));
      const w = await serveWorker(sub, ["index.js"], {
        listen: { port: 0 },
        pools: { web: { origins: [{ name: "a", url: `http://127.0.0.1:${pa}` }, { name: "b", url: `http://127.0.0.1:${pb}` }], check: { path: "/" } } },
      });
      children.push(w.child);
      const served: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await raw(
          w.port,
          "GET /p?q=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: close, x-drop\r\nX-Drop: 1\r\nKeep-Alive: 300\r\nProxy-Authorization: Basic eA==\r\n" +
            "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nCF-Connecting-IP: 192.0.2.7\r\n\r\n",
        );
        expect(r.status).toBe(200);
        const h = new Map(r.headers);
        served.push(h.get("x-origin")!);
        // the body as the origin sent it, its length kept (also when the headers had to be copied)
        expect(r.body).toBe(`hello from ${h.get("x-origin")}\n`);
        expect(h.get("content-length")).toBe(String(r.body.length));
        expect(h.has("keep-alive")).toBe(false);
        expect(h.has("x-secret")).toBe(false);
        expect(h.has("proxy-authenticate")).toBe(false);
      }
      expect(served.sort()).toEqual(["a", "a", "b", "b"]);
      // what the origins received: none of the client's hop-by-hop or listed headers, our X-Forwarded-*
      const got = [...a.seen, ...b.seen].filter((h) => h.includes("shop.example") || h.some((v) => v.includes("shop.example")));
      expect(got).toHaveLength(4);
      for (const rawHeaders of got) {
        const names = rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        const get = (n: string) => rawHeaders[rawHeaders.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === n) + 1];
        for (const n of ["x-drop", "keep-alive", "proxy-authorization", "cf-connecting-ip"]) expect(names).not.toContain(n);
        expect(get("x-forwarded-for")).toBe("192.0.2.7");
        expect(get("x-forwarded-host")).toBe("shop.example");
        expect(get("x-forwarded-proto")).toBe("http");
      }
      await stop(w.child);
    } finally {
      a.server.close();
      b.server.close();
    }
  });
});
