import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { H1Server, type H1Req, type H1Res } from "../../node/h1server.ts";

// The request body stream of node/h1server.ts: its end is told to the stream when a reader waits
// for bytes, else when one first asks; a body read late, or as it trickles in, still ends whole.

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function serve(handler: (req: H1Req, res: H1Res) => void, eagerParkAt = 1_000_000): Promise<number> {
  const h1 = new H1Server(
    { headersTimeout: 5000, requestTimeout: 5000, keepAliveTimeout: 5000, maxHeaderSize: 16384, checkInterval: 1000, eagerParkAt, halfOpen: false },
    { request: handler, wantsUpgrade: () => false, upgrade: () => {}, clientError: (_e, s) => void s.destroy(), connection: () => {}, closed: () => {}, inputEnded: () => {} },
  );
  h1.start();
  const srv = net.createServer((s) => h1.accept(s));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  closers.push(() => {
    h1.closeAll();
    h1.stop();
    srv.close();
  });
  servers.push(h1);
  return (srv.address() as net.AddressInfo).port;
}
const servers: H1Server[] = [];

/** Echoes `<bytes>:<body>` once the body stream ended; `delay`: ms before it starts reading. */
function echo(delay: number) {
  return (req: H1Req, res: H1Res) => {
    const read = () => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        const text = `${body.length}:${body}`;
        res.writeHead(200, { "content-length": String(text.length) });
        res.end(text);
      });
    };
    if (delay > 0) setTimeout(read, delay);
    else read();
  };
}

/** Sends `parts` `gapMs` apart, then reads until `done(text)` (or 3 s). */
async function exchange(port: number, parts: string[], gapMs: number, done: (text: string) => boolean): Promise<string> {
  const s = net.connect(port, "127.0.0.1");
  closers.push(() => s.destroy());
  let text = "";
  s.on("data", (d: Buffer) => (text += d.toString("latin1")));
  for (const p of parts) {
    s.write(p);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const end = Date.now() + 3000;
  while (!done(text)) {
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return text;
}

const head = (len: number) => `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${len}\r\n\r\n`;

describe("H1Req: the end of a request body", () => {
  it("a body read only after all of it arrived ends whole", async () => {
    const port = await serve(echo(100));
    const text = await exchange(port, [`${head(5)}hello`], 150, (t) => t.endsWith("5:hello"));
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text.endsWith("\r\n\r\n5:hello")).toBe(true);
  });

  it("a body read as it trickles in ends after its last byte", async () => {
    const port = await serve(echo(0));
    const text = await exchange(port, [head(11), "hello", " world"], 60, (t) => t.endsWith("11:hello world"));
    expect(text.endsWith("\r\n\r\n11:hello world")).toBe(true);
  });

  it("requests answered before their bodies are read are answered in turn; a reader that comes late gets the body and the end", async () => {
    const ends: string[] = [];
    const port = await serve((req, res) => {
      // answered once the whole request is in (nothing of it read), then read: it still ends
      setTimeout(() => {
        expect(req.complete).toBe(true);
        res.writeHead(200, { "content-length": "2" });
        res.end("ok");
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.once("end", () => ends.push(`${req.method} ${body}`));
      }, 30);
    });
    const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const text = await exchange(port, [get + get + `${head(3)}abc`], 200, () => ends.length === 3);
    expect(text.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(3);
    expect(ends).toEqual(["GET ", "GET ", "POST abc"]);
  });
});

describe("H1Server: parsers given back at once with many connections open", () => {
  it("from eagerParkAt open connections, a connection gives its parser back after each read, and its next request takes one again", async () => {
    servers.length = 0;
    const port = await serve(echo(0), 2);
    const a = net.connect(port, "127.0.0.1");
    const b = net.connect(port, "127.0.0.1");
    closers.push(() => (a.destroy(), b.destroy()));
    let text = "", textB = "";
    a.on("data", (d: Buffer) => (text += d.toString("latin1")));
    b.on("data", (d: Buffer) => (textB += d.toString("latin1")));
    await Promise.all([a, b].map((s) => new Promise((r) => s.once("connect", r))));
    const h1 = servers[0];
    await until(() => h1.size === 2);
    b.write(`${head(1)}b`);
    await until(() => textB.endsWith("1:b"));
    a.write(`${head(2)}hi`);
    await until(() => text.endsWith("2:hi"));
    // well before the first sweep (1 s here): both idle connections hold no parser
    expect(h1.parsing).toBe(0);
    a.write(`${head(5)}again`);
    await until(() => text.endsWith("5:again"));
    expect(h1.parsing).toBe(0);
    // below the threshold the parser stays (until two sweeps pass)
    b.destroy();
    await until(() => h1.size === 1);
    a.write(`${head(4)}more`);
    await until(() => text.endsWith("4:more"));
    expect(h1.parsing).toBe(1);
  });
});

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
