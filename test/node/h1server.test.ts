import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startBalancer, type TestBalancer } from "../support/harness.ts";
import { parsers } from "../../node/parsers.ts";

// The client side of the Node build is node/h1server.ts, not http.Server: what node:http did for
// us (answers in order, framing, Expect, deadlines) is asserted here on raw sockets.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A real origin: answers `/slow...` after 150 ms, `/chunked` without a length, `/close` delimited by the close; echoes path and body. */
async function origin(): Promise<string> {
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = `${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`;
      const answer = () => {
        if (req.url === "/chunked") {
          res.writeHead(200, { "content-type": "text/plain" });
          res.write("part one, ");
          setTimeout(() => res.end("part two"), 20);
          return;
        }
        res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
        res.end(body);
      };
      if (req.url?.startsWith("/slow")) setTimeout(answer, 150);
      else answer();
    });
  });
  srv.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => (srv.closeAllConnections(), srv.close(r))));
  return `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

/** A raw origin answering every request with `bytes`, then closing (a body delimited by the close). */
async function rawOrigin(bytes: string): Promise<string> {
  const srv = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => s.end(bytes));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => srv.close(r)));
  return `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

async function balancer(url: string, client: Record<string, unknown> = {}): Promise<TestBalancer> {
  const b = await startBalancer({ client, pools: { web: { origins: [{ name: "a", url }], check: { enabled: false } } } });
  closers.push(() => b.close());
  return b;
}

/** A raw client connection, once connected: what it received so far, and when the server closed it. */
async function raw(b: TestBalancer) {
  const port = Number(new URL(b.url).port);
  const s = net.connect(port, "127.0.0.1");
  const seen = { text: "", closedAt: 0 };
  s.on("data", (d: Buffer) => (seen.text += d.toString("latin1")));
  s.on("error", () => {});
  s.on("close", () => (seen.closedAt = Date.now()));
  closers.push(async () => void s.destroy());
  await new Promise<void>((r) => s.once("connect", () => r()));
  return { s, seen };
}

/** Writes `bytes` (ending in a head that stalls) and waits for the close: the statuses read, and the ms from the write to the close. */
async function stall(c: Awaited<ReturnType<typeof raw>>, bytes: string): Promise<{ statuses: number[]; ms: number }> {
  const t0 = Date.now();
  c.s.write(bytes);
  await until(() => c.seen.closedAt !== 0);
  return { statuses: responses(c.seen.text).map((r) => r.status), ms: c.seen.closedAt - t0 };
}

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Splits what a client read into responses: status, headers (lower-case), body; `head`: indexes of answers to HEAD (no body). */
function responses(text: string, head: number[] = []): { status: number; headers: Record<string, string>; body: string }[] {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) break;
    const [line, ...lines] = rest.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
    rest = rest.slice(end + 4);
    let body = "";
    if (head.includes(out.length)) {
      // no body, whatever Content-Length says
    } else if (headers["content-length"] !== undefined) {
      body = rest.slice(0, Number(headers["content-length"]));
      rest = rest.slice(body.length);
    } else if (headers["transfer-encoding"] === "chunked") {
      for (;;) {
        const nl = rest.indexOf("\r\n");
        const size = nl === -1 ? NaN : parseInt(rest.slice(0, nl), 16);
        // not all in yet
        if (Number.isNaN(size) || rest.length < nl + 2 + size + 2) return out;
        body += rest.slice(nl + 2, nl + 2 + size);
        rest = rest.slice(nl + 2 + size + 2);
        if (size === 0) break;
      }
    } else if (!line.includes(" 100 ")) {
      body = rest;
      rest = "";
    }
    out.push({ status: Number(line.split(" ")[1]), headers, body });
  }
  return out;
}

describe("the HTTP/1.1 server side (node/h1server.ts)", () => {
  it("pipelined requests are answered in the order they came, a slow first one included", async () => {
    const b = await balancer(await origin());
    const c = await raw(b);
    c.s.write("GET /slow-1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => responses(c.seen.text, [2]).length === 4 && responses(c.seen.text, [2])[3].body !== "");
    const rs = responses(c.seen.text, [2]);
    // HEAD: a Content-Length and no body, so the fourth response parses where it should
    expect(rs.map((r) => [r.status, r.body])).toEqual([
      [200, "GET /slow-1 "],
      [200, "GET /2 "],
      [200, ""],
      [200, "GET /4 "],
    ]);
    expect(rs[2].headers["content-length"]).toBe(String("HEAD /3 ".length));
    expect(c.seen.closedAt).toBe(0);
  });

  it("a response without a length is chunked to an HTTP/1.1 client and delimited by the close for HTTP/1.0", async () => {
    const b = await balancer(await origin());
    const c = await raw(b);
    c.s.write("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => c.seen.text.endsWith("0\r\n\r\n"));
    const [r] = responses(c.seen.text);
    expect(r.headers["transfer-encoding"]).toBe("chunked");
    expect(r.body).toBe("part one, part two");
    expect(c.seen.closedAt).toBe(0);

    const d = await raw(b);
    d.s.write("GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n");
    await until(() => d.seen.closedAt !== 0);
    const [r0] = responses(d.seen.text);
    expect(r0.headers["transfer-encoding"]).toBeUndefined();
    expect(r0.headers.connection).toBe("close");
    expect(r0.body).toBe("part one, part two");
  });

  it("an origin body delimited by its close reaches the client whole, framed for it", async () => {
    const b = await balancer(await rawOrigin("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the close"));
    const c = await raw(b);
    c.s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => responses(c.seen.text).length === 2 && c.seen.text.endsWith("0\r\n\r\n"));
    expect(responses(c.seen.text).map((r) => r.body)).toEqual(["until the close", "until the close"]);
  });

  it("Expect: 100-continue gets its 100 before the body is sent; any other expectation gets 417 and the close", async () => {
    const b = await balancer(await origin());
    const c = await raw(b);
    c.s.write("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    await until(() => c.seen.text.includes("100 Continue"));
    expect(c.seen.text).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    c.s.write("hello");
    await until(() => c.seen.text.includes("POST /up hello"));
    expect(responses(c.seen.text).map((r) => r.status)).toEqual([100, 200]);

    const d = await raw(b);
    d.s.write("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: gifts\r\n\r\nhello");
    await until(() => d.seen.closedAt !== 0);
    expect(responses(d.seen.text).map((r) => r.status)).toEqual([417]);
  });

  it("an idle keep-alive connection is closed after client.keepAlive; a head that stalls gets 408 after client.headerTimeout", async () => {
    const b = await balancer(await origin(), { keepAlive: "400ms", headerTimeout: "600ms" });
    const c = await raw(b);
    c.s.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => c.seen.text.includes("GET /a"));
    const answered = Date.now();
    await new Promise((r) => setTimeout(r, 250));
    expect(c.seen.closedAt, "open before its keep-alive time").toBe(0);
    await until(() => c.seen.closedAt !== 0);
    // 400 ms, give or take the 250 ms sweep
    expect(c.seen.closedAt - answered).toBeGreaterThanOrEqual(380);
    expect(c.seen.closedAt - answered).toBeLessThan(1200);

    const d = await stall(await raw(b), "GET /slowloris HTTP/1.1\r\nHost: x\r\n");
    expect(d.statuses).toEqual([408]);
    expect(d.ms).toBeGreaterThanOrEqual(580);
  });

  it("on a keep-alive connection the header deadline runs from a head's first bytes: after an idle spell, and pipelined behind a request", async () => {
    const b = await balancer(await origin(), { keepAlive: "3s", headerTimeout: "600ms" });
    // answered, idle a while, then a head that stalls: 408 at the header deadline, not the keep-alive one
    const c = await raw(b);
    c.s.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => c.seen.text.includes("GET /a"));
    await new Promise((r) => setTimeout(r, 300));
    const idle = await stall(c, "GET /b HTTP/1.1\r\nHost: x\r\n");
    expect(idle.statuses).toEqual([200, 408]);
    expect(idle.ms).toBeGreaterThanOrEqual(580);
    expect(idle.ms).toBeLessThan(2000);

    // a whole request and the start of the next in one write: the second's deadline runs from then
    const d = await raw(b);
    const piped = await stall(d, "GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n");
    expect(piped.statuses).toEqual([200, 408]);
    expect(d.seen.text).toContain("GET /c");
    expect(piped.ms).toBeGreaterThanOrEqual(580);
    expect(piped.ms).toBeLessThan(2000);

    // answered requests one after the other on one connection, each in one write: no 408, still open
    const e = await raw(b);
    for (const p of ["/e", "/f", "/g"]) {
      e.s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await until(() => e.seen.text.includes(`GET ${p}`));
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(responses(e.seen.text).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(e.seen.closedAt).toBe(0);
  });

  it("a malformed request behind one in progress: the first is answered whole, then 400 and the close", async () => {
    const b = await balancer(await origin());
    const c = await raw(b);
    c.s.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    await until(() => c.seen.closedAt !== 0);
    const rs = responses(c.seen.text);
    expect(rs.map((r) => [r.status, r.body])).toEqual([
      [200, "GET /slow "],
      [400, ""],
    ]);
  });

  it("a closed connection gives its parser back (their C++ side is never garbage-collected): 300 Connection: close requests leave none behind", async () => {
    const b = await balancer(await origin());
    const one = async () => {
      const c = await raw(b);
      c.s.write("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      await until(() => c.seen.closedAt !== 0);
      expect(responses(c.seen.text).map((r) => r.status)).toEqual([200]);
    };
    await one();
    const before = parsers.inUse;
    for (let i = 0; i < 300; i++) await one();
    // the origin side keeps its one keep-alive connection; every client connection is gone
    await until(() => parsers.inUse <= before);
    expect(parsers.inUse).toBeLessThanOrEqual(before);
  });

  it("a connection with nothing to read for two sweeps gives its parser back and takes one again for its next bytes", async () => {
    const b = await balancer(await origin());
    const conns = await Promise.all(Array.from({ length: 20 }, () => raw(b)));
    for (const c of conns) c.s.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => conns.every((c) => responses(c.seen.text).length === 1));
    expect(b.lb.server.parsing).toBe(20);
    const busy = parsers.inUse;
    // the sweep runs every 250 ms: after two with nothing read, the 20 client parsers are back
    await until(() => b.lb.server.parsing === 0, 2000);
    expect(parsers.inUse).toBe(busy - 20);
    // the next bytes of each: a pipelined GET and a POST with its body, answered in order
    for (const c of conns) c.s.write("GET /two HTTP/1.1\r\nHost: x\r\n\r\nPOST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    await until(() => conns.every((c) => responses(c.seen.text).length === 3));
    for (const c of conns) expect(responses(c.seen.text).map((r) => [r.status, r.body])).toEqual([[200, "GET /one "], [200, "GET /two "], [200, "POST /three hello"]]);
    // parked again, a client's FIN still ends its connection; a malformed head still gets its 400
    await until(() => b.lb.server.parsing === 0, 2000);
    conns[0].s.end();
    conns[1].s.write("GET / HTTP/1.1\r\nHost x\r\n\r\n");
    await until(() => conns[0].seen.closedAt !== 0 && conns[1].seen.closedAt !== 0);
    expect(responses(conns[1].seen.text).map((r) => r.status)).toEqual([200, 200, 200, 400]);
    expect(b.stats().origins[0].tries).toBe(60);
  });

  it("a request body cut short by the client's FIN is not forwarded and gets no answer", async () => {
    const b = await balancer(await origin());
    const d = await raw(b);
    d.s.end("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf");
    await until(() => d.seen.closedAt !== 0);
    expect(d.seen.text).toBe("");
    await until(() => b.stats().origins[0].inflight === 0 && b.lb.server.size === 0);
    expect(b.stats().origins[0].tries).toBe(0);
  });
});
