// node/h1.ts, the keep-alive HTTP/1.1 client to plain-http origins, on the wire: a raw node:net
// origin sees every byte and every connection. Reuse and its limits (Connection: close,
// Keep-Alive: timeout, an origin closing an idle connection), Host for HTTP/1.0 clients, HEAD,
// 1xx, bodies delimited by the close, many headers, request bodies sent with a length or chunked.
import net from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolOf, send, startBalancer, type TestBalancer } from "../support/harness.ts";

interface Seen {
  conn: number;
  head: string;
  body: Buffer;
}

/** A raw origin: parses request heads and bodies (length or chunked), answers with `answer(path)` bytes. */
async function rawOrigin(answer: (path: string, s: Seen, sock: net.Socket) => string | null) {
  const seen: Seen[] = [];
  let conns = 0;
  const server = net.createServer((sock) => {
    const conn = ++conns;
    let buf = Buffer.alloc(0);
    sock.on("error", () => {});
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buf.subarray(0, end).toString("latin1");
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        let bodyEnd = end + 4;
        if (cl) bodyEnd += Number(cl[1]);
        else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const z = buf.indexOf("\r\n0\r\n\r\n", end);
          if (z === -1) return;
          bodyEnd = z + 7;
        }
        if (buf.length < bodyEnd) return;
        const s = { conn, head, body: buf.subarray(end + 4, bodyEnd) };
        buf = buf.subarray(bodyEnd);
        seen.push(s);
        const out = answer(head.split(" ")[1], s, sock);
        if (out !== null) sock.write(out);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}`, seen, conns: () => conns, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const ok = (body = "ok", extra = "") => `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-origin: raw\r\n${extra}\r\n${body}`;

let origin: Awaited<ReturnType<typeof rawOrigin>>;
/** Bytes the origin has handed to its socket for /big (it writes only when the socket takes more). */
let bigWritten = 0;
const BIG = 64 << 20;
let lb: TestBalancer;

beforeAll(async () => {
  origin = await rawOrigin((path, _s, sock) => {
    if (path.startsWith("/close")) return ok("closing", "connection: close\r\n");
    if (path.startsWith("/ka1")) return ok("short", "keep-alive: timeout=1\r\n");
    if (path.startsWith("/head")) return "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
    if (path.startsWith("/early")) return `HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n${ok("final")}`;
    if (path.startsWith("/eof")) {
      sock.end("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nread to the end");
      return null;
    }
    if (path.startsWith("/many")) {
      let h = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n";
      for (let i = 0; i < 40; i++) h += `x-h${i}: v${i}\r\n`;
      return `${h}\r\nok`;
    }
    if (path.startsWith("/big")) {
      // 64 MiB, written only as fast as the socket drains: what the proxy does not read stays here
      sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${BIG}\r\n\r\n`);
      const chunk = Buffer.alloc(1 << 16, "z");
      bigWritten = 0;
      const pump = () => {
        while (bigWritten < BIG) {
          bigWritten += chunk.length;
          if (!sock.write(chunk)) return void sock.once("drain", pump);
        }
      };
      pump();
      return null;
    }
    if (path.startsWith("/drop")) {
      // answers with keep-alive, then closes the idle connection (an origin's keep-alive timeout)
      setTimeout(() => sock.destroy(), 30);
      return ok("dropped later");
    }
    return ok(`body of ${path}`);
  });
  lb = await startBalancer({ pools: { raw: poolOf([{ name: "raw", url: origin.url } as never], { check: { enabled: false }, replayBufferBytes: 1024 }) } });
});
afterAll(async () => {
  await lb.close();
  await origin.close();
});

const connsOf = (prefix: string) => new Set(origin.seen.filter((s) => s.head.split(" ")[1].startsWith(prefix)).map((s) => s.conn));

describe("node/h1.ts: the HTTP/1.1 client to http origins", () => {
  it("sequential requests share one kept-alive connection", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await send(lb.url, { path: `/seq-${i}` });
      expect([r.status, r.body]).toEqual([200, `body of /seq-${i}`]);
    }
    expect(connsOf("/seq-").size).toBe(1);
  });

  it("Connection: close from the origin: the connection is not reused, and no request fails", async () => {
    for (let i = 0; i < 3; i++) expect((await send(lb.url, { path: `/close-${i}` })).status).toBe(200);
    expect(connsOf("/close-").size).toBe(3);
  });

  it("Keep-Alive: timeout=1 from the origin: the connection is not kept (its idle timeout less a second is 0)", async () => {
    for (let i = 0; i < 2; i++) expect((await send(lb.url, { path: `/ka1-${i}` })).status).toBe(200);
    expect(connsOf("/ka1-").size).toBe(2);
  });

  it("an idle connection the origin closes is dropped: the next request opens another, without an error", async () => {
    expect((await send(lb.url, { path: "/drop-1" })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    const r = await send(lb.url, { path: "/drop-2" });
    expect([r.status, r.error]).toEqual([200, null]);
    expect(connsOf("/drop-").size).toBe(2);
  });

  it("an HTTP/1.0 client without Host: the origin gets HTTP/1.1 with Host naming the origin", async () => {
    const port = new URL(lb.url).port;
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(port), "127.0.0.1", () => s.write("GET /http10 HTTP/1.0\r\n\r\n"));
      let out = "";
      s.on("data", (d) => (out += d.toString("latin1")));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.[01] 200 /);
    expect(reply).toContain("body of /http10");
    const head = origin.seen.find((s) => s.head.startsWith("GET /http10 "))!.head;
    expect(head).toMatch(/^GET \/http10 HTTP\/1\.1\r\n/);
    expect(head).toContain(`\r\nhost: 127.0.0.1:${origin.port}`);
  });

  it("HEAD: the Content-Length of the answer is not read as a body, and the connection serves the next request", async () => {
    const h = await send(lb.url, { path: "/head", method: "HEAD" });
    expect([h.status, h.body, h.headers["content-length"]]).toEqual([200, "", "100"]);
    const g = await send(lb.url, { path: "/after-head" });
    expect([g.status, g.body]).toEqual([200, "body of /after-head"]);
    const conns = origin.seen.filter((s) => s.head.includes("/head") || s.head.includes("/after-head")).map((s) => s.conn);
    expect(new Set(conns).size).toBe(1);
  });

  it("a 103 before the answer is not forwarded as the answer", async () => {
    const r = await send(lb.url, { path: "/early" });
    expect([r.status, r.body]).toEqual([200, "final"]);
  });

  it("a body delimited by the close arrives whole", async () => {
    const r = await send(lb.url, { path: "/eof" });
    expect([r.status, r.body]).toEqual([200, "read to the end"]);
  });

  it("40 response headers all reach the client", async () => {
    const r = await send(lb.url, { path: "/many" });
    expect(r.status).toBe(200);
    for (let i = 0; i < 40; i++) expect(r.headers[`x-h${i}`]).toBe(`v${i}`);
  });

  it("backpressure: a client that stops reading stops the origin's body (the proxy does not buffer it), and gets all of it later", async () => {
    const port = Number(new URL(lb.url).port);
    const s = net.connect(port, "127.0.0.1");
    s.write("GET /big HTTP/1.1\r\nhost: shop.test\r\n\r\n");
    let got = 0;
    let headEnd = -1;
    let head = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        if (headEnd === -1) {
          head = Buffer.concat([head, d]);
          headEnd = head.indexOf("\r\n\r\n");
          if (headEnd === -1) return;
          got = head.length - headEnd - 4;
          // the head is here: stop reading
          s.off("data", onData);
          s.pause();
          resolve();
        }
      };
      s.on("data", onData);
    });
    await new Promise((r) => setTimeout(r, 1500));
    // kernel socket buffers on both legs and a stream's high-water mark hold a few MiB; not 64
    const whilePaused = bigWritten;
    expect(whilePaused).toBeLessThan(BIG / 2);
    const done = new Promise<void>((resolve, reject) => {
      s.on("data", (d: Buffer) => {
        got += d.length;
        if (got >= BIG) resolve();
      });
      s.on("error", reject);
      s.on("end", () => (got >= BIG ? resolve() : reject(new Error(`ended after ${got} bytes`))));
    });
    s.resume();
    await done;
    s.destroy();
    expect(head.subarray(0, headEnd).toString()).toMatch(/^HTTP\/1\.1 200 /);
    expect([got, bigWritten]).toEqual([BIG, BIG]);
  }, 20_000);

  it("request bodies: buffered ones go with their length, a large streamed one chunked, byte for byte", async () => {
    const small = "x".repeat(500);
    const a = await send(lb.url, { path: "/post-small", method: "POST", body: small, headers: { "content-type": "text/plain" } });
    expect(a.status).toBe(200);
    const sa = origin.seen.find((s) => s.head.startsWith("POST /post-small "))!;
    expect(sa.head).toMatch(/\r\ncontent-length: 500/i);
    expect(sa.body.toString()).toBe(small);
    // past replayBufferBytes (1024) the body is streamed; sent by the client without a length, it goes chunked
    const big = Buffer.alloc(100_000, "y");
    const { request } = await import("undici");
    const r = await request(`${lb.url}/post-big`, { method: "POST", body: Readable.from([big.subarray(0, 50_000), big.subarray(50_000)]) });
    await r.body.text();
    expect(r.statusCode).toBe(200);
    const sb = origin.seen.find((s) => s.head.startsWith("POST /post-big "))!;
    expect(sb.head).toMatch(/\r\ntransfer-encoding: chunked/i);
    expect(sb.head).not.toMatch(/\r\ncontent-length:/i);
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const nl = sb.body.indexOf("\r\n", at);
      const size = parseInt(sb.body.subarray(at, nl).toString(), 16);
      if (size === 0) break;
      chunks.push(sb.body.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });
});
