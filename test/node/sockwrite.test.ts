import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { writeLatin1 } from "../../node/sockwrite.ts";
import { makeCa } from "../support/tls-ca.ts";

// node/sockwrite.ts writes on a socket's libuv handle, below net.Socket's Writable: checked here on
// real loopback sockets (order with the Writable's own writes, the queue when the kernel is full,
// 'drain', errors).

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A connected pair on 127.0.0.1: `server` is the accepted side. */
async function pair(): Promise<{ server: net.Socket; client: net.Socket }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => srv.once("connection", r));
  const client = net.connect((srv.address() as net.AddressInfo).port, "127.0.0.1");
  const server = await accepted;
  await new Promise<void>((r) => (client.connecting ? client.once("connect", () => r()) : r()));
  closers.push(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  server.on("error", () => {});
  client.on("error", () => {});
  return { server, client };
}

function readAll(s: net.Socket): Promise<string> {
  let text = "";
  s.on("data", (d: Buffer) => (text += d.toString("latin1")));
  return new Promise((r) => s.once("end", () => r(text)));
}

describe("writeLatin1 (node/sockwrite.ts)", () => {
  it("writes on the handle, not through socket.write, and the socket counts the bytes", async () => {
    const { server, client } = await pair();
    server.write = () => {
      throw new Error("socket.write was used");
    };
    const got = readAll(client);
    expect(writeLatin1(server, "hello, ")).toBe(true);
    expect(writeLatin1(server, "w\u00f6rld")).toBe(true);
    expect(server.bytesWritten).toBe(12);
    server.end();
    // latin1: one byte per character, as socket.write(s, "latin1")
    expect(await got).toBe("hello, w\u00f6rld");
  });

  it("a write the kernel cannot take whole waits in libuv's queue: false, bytes in order with later writes of both kinds, then 'drain'", async () => {
    const { server, client } = await pair();
    client.pause();
    const big = "x".repeat(8 << 20);
    let drains = 0;
    server.on("drain", () => drains++);
    expect(writeLatin1(server, big)).toBe(false);
    // the Writable holds nothing, so this one goes to libuv too, behind the first
    expect(writeLatin1(server, "|direct|")).toBe(false);
    // and socket.write's bytes queue behind both
    server.write("|writable|", "latin1");
    // while socket.write is in progress, writeLatin1 goes through it, not past it
    writeLatin1(server, "|after|");
    expect(server.writableLength).toBeGreaterThan(0);
    server.end();
    const got = readAll(client);
    client.resume();
    const text = await got;
    expect(text.length).toBe(big.length + "|direct||writable||after|".length);
    expect(text.slice(big.length)).toBe("|direct||writable||after|");
    expect(text.startsWith("xxxx")).toBe(true);
    expect(drains).toBeGreaterThanOrEqual(1);
  });

  it("a write on a connection the peer reset destroys the socket with the write's error", async () => {
    const { server, client } = await pair();
    // not read: the reset is found by the write, not by a read
    (server as unknown as { _handle: { readStop(): void } })._handle.readStop();
    const failed = new Promise<NodeJS.ErrnoException>((r) => server.once("error", r));
    client.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(server.destroyed).toBe(false);
    expect(writeLatin1(server, "after the reset\n")).toBe(false);
    expect(server.destroyed).toBe(true);
    const err = await failed;
    expect(["EPIPE", "ECONNRESET"]).toContain(err.code);
    expect(err.syscall).toBe("write");
  });

  it("a TLS socket and a socket still connecting take socket.write", async () => {
    const ca = makeCa("sockwrite test CA");
    const pem = ca.issue("localhost", ["127.0.0.1"]);
    const srv = tls.createServer({ cert: readFileSync(pem.cert), key: readFileSync(pem.key) });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const accepted = new Promise<tls.TLSSocket>((r) => srv.once("secureConnection", r));
    const client = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: "127.0.0.1", ca: ca.ca });
    client.on("error", () => {});
    const server = await accepted;
    closers.push(() => {
      client.destroy();
      server.destroy();
      srv.close();
    });
    const calls: string[] = [];
    const write = server.write.bind(server);
    server.write = ((d: string, enc: BufferEncoding) => (calls.push(d), write(d, enc))) as typeof server.write;
    let text = "";
    client.on("data", (d: Buffer) => (text += d.toString("latin1")));
    writeLatin1(server, "over tls");
    expect(calls).toEqual(["over tls"]);
    await new Promise<void>((r) => {
      const t = setInterval(() => text === "over tls" && (clearInterval(t), r()), 5);
    });
    const s = net.connect(1, "127.0.0.1");
    s.on("error", () => {});
    closers.push(() => s.destroy());
    const seen: string[] = [];
    s.write = ((d: string) => (seen.push(d), true)) as typeof s.write;
    writeLatin1(s, "early");
    expect(seen).toEqual(["early"]);
  });
});
