// Issue 9: TLS termination (SNI, TLS 1.2+, redirect listener), HTTP/2 to clients with its limits,
// HTTPS origins (CA file, verification, checks). A CA is made for the run with Debian's openssl.
import http2 from "node:http2";
import https from "node:https";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pool, request } from "undici";
import { formatIssue, parseConfig } from "../../core/config/parse.ts";
import { Balancer } from "../../node/balancer.ts";
import { loadServeConfig } from "../../node/cli.ts";
import { memoryLogger } from "../../node/log.ts";
import { loadAllCertificates } from "../../node/tls.ts";
import { killOrigins, poolOf, startOrigin, synced, type TestOrigin } from "../support/harness.ts";
import { makeCa, type TestCa } from "../support/tls-ca.ts";

let ca: TestCa, web01: TestOrigin, web02: TestOrigin;
let shop: { cert: string; key: string }, admin: { cert: string; key: string }, wild: { cert: string; key: string };
const open: { close(): Promise<void> | void }[] = [];

beforeAll(async () => {
  ca = makeCa();
  shop = ca.issue("shop", ["shop.test", "www.shop.test"]);
  admin = ca.issue("admin", ["admin.test"]);
  wild = ca.issue("wild", ["*.wild.test"]);
  [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
});
afterAll(async () => {
  for (const o of open.splice(0)) await o.close();
  await killOrigins();
});

/** An in-process balancer with `listen` as given (certificates loaded as `edgelb serve` does). */
async function startTls(cfg: Record<string, unknown>): Promise<{ lb: Balancer; ports: number[]; log: ReturnType<typeof memoryLogger> }> {
  const r = parseConfig(cfg);
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
  const certs = loadAllCertificates(r.config);
  if (!certs.ok) throw new Error(certs.problems.join("\n"));
  const log = memoryLogger();
  const lb = new Balancer(r.config, log, certs.byListener);
  await lb.listen();
  open.push({ close: () => lb.close(1000) });
  return { lb, ports: lb.addresses().map((a) => a.port), log };
}

const tlsListener = (extra: Record<string, unknown> = {}) => ({ host: "127.0.0.1", port: 0, tls: { certificates: [shop, admin, wild], ...extra } });

/** The certificate a TLS client asking for `servername` is served (its CN), and the ALPN protocol agreed. */
function handshake(port: number, servername: string | undefined, alpn?: string[]): Promise<{ cn: string; alpn: string | false | null; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: ca.ca, ...(servername ? { servername } : {}), ...(alpn ? { ALPNProtocols: alpn } : {}), rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      resolve({ cn: String(c.subject.CN), alpn: s.alpnProtocol, serial: c.serialNumber });
      s.end();
    });
    s.on("error", reject);
  });
}

function h2get(client: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}, body?: string): Promise<{ status: number; origin: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ":path": path, ":method": body === undefined ? "GET" : "POST", ...headers }, { endStream: body === undefined });
    let status = 0, origin = "", text = "";
    req.on("response", (h) => ((status = Number(h[":status"])), (origin = String(h["x-origin"] ?? ""))));
    req.setEncoding("utf8");
    req.on("data", (d: string) => (text += d));
    req.on("end", () => resolve({ status, origin, body: text }));
    req.on("error", reject);
    if (body !== undefined) req.end(body);
  });
}

describe("TLS termination", () => {
  let port = 0;
  beforeAll(async () => {
    ({ ports: [port] } = await startTls({ listen: tlsListener({ http2: false }), pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) } }));
  });

  it("serves the certificate of each SNI name; the first one to clients without a name or with an unknown one", async () => {
    expect((await handshake(port, "shop.test")).cn).toBe("shop.test");
    expect((await handshake(port, "www.shop.test")).cn).toBe("shop.test");
    expect((await handshake(port, "admin.test")).cn).toBe("admin.test");
    expect((await handshake(port, "a.wild.test")).cn).toBe("*.wild.test");
    // a wildcard covers one label only
    expect((await handshake(port, "a.b.wild.test")).cn).toBe("shop.test");
    expect((await handshake(port, "elsewhere.test")).cn).toBe("shop.test");
    expect((await handshake(port, undefined)).cn).toBe("shop.test");
  });

  it("forwards HTTPS requests to both origins with X-Forwarded-Proto https; HTTP/2 is not offered when http2 is false", async () => {
    expect((await handshake(port, "shop.test", ["h2", "http/1.1"])).alpn).toBe("http/1.1");
    const pool = new Pool(`https://127.0.0.1:${port}`, { connect: { ca: ca.ca, servername: "shop.test" } });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await pool.request({ path: `/tls-${i}`, method: "GET", headers: { host: "shop.test", "x-forwarded-proto": "http" } });
      expect(r.statusCode).toBe(200);
      seen.add(String(r.headers["x-origin"]));
      await r.body.text();
    }
    await pool.close();
    expect(seen).toEqual(new Set(["web01", "web02"]));
    await synced(web01, web02);
    const got = [...web01.requests, ...web02.requests].filter((r) => r.url.startsWith("/tls-"));
    expect(got).toHaveLength(6);
    for (const r of got) {
      const protos = r.headers.filter((_, i) => i % 2 === 0 && r.headers[i].toLowerCase() === "x-forwarded-proto").length;
      expect(protos).toBe(1);
      expect(r.headers[r.headers.findIndex((h) => h.toLowerCase() === "x-forwarded-proto") + 1]).toBe("https");
    }
  });

  it("a reload replaces the SNI table: names added, names gone, the new first certificate the default", async () => {
    const one = { host: "127.0.0.1", port: 0, tls: { certificates: [shop] } };
    const { lb, ports: [p] } = await startTls({ listen: one, pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } });
    // one certificate: every name gets it
    expect((await handshake(p, "admin.test")).cn).toBe("shop.test");
    const reloadWith = (certificates: unknown[]) => {
      const r = parseConfig({ listen: { ...one, tls: { certificates } }, pools: { webfarm: poolOf([web01], { check: { enabled: false } }) } });
      if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
      const certs = loadAllCertificates(r.config);
      if (!certs.ok) throw new Error(certs.problems.join("\n"));
      lb.reload(r.config, "", certs.byListener);
    };
    reloadWith([shop, admin, wild]);
    expect((await handshake(p, "admin.test")).cn).toBe("admin.test");
    expect((await handshake(p, "x.wild.test")).cn).toBe("*.wild.test");
    expect((await handshake(p, "www.shop.test")).cn).toBe("shop.test");
    // shop gone: admin is the default now, and the wildcard's name still picks its certificate
    reloadWith([admin, wild]);
    expect((await handshake(p, "shop.test")).cn).toBe("admin.test");
    expect((await handshake(p, "x.wild.test")).cn).toBe("*.wild.test");
    reloadWith([wild]);
    expect((await handshake(p, "admin.test")).cn).toBe("*.wild.test");
  });

  it("refuses a handshake that offers less than TLS 1.2", async () => {
    const err = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "shop.test", rejectUnauthorized: false, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" }, () => resolve("connected"));
      s.on("error", (e: NodeJS.ErrnoException) => resolve(String(e.code ?? e.message)));
    });
    expect(err).not.toBe("connected");
  });
});

/**
 * One TLS 1.3 connection with an optional session to resume, a GET with Connection: close read to
 * its end: whether the session was resumed, the certificate served, and the last session ticket the
 * server sent on it (null when it sent none).
 */
function tls13Get(port: number, servername: string, session?: Buffer): Promise<{ reused: boolean; cn: string; ticket: Buffer | null; status: string }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | null = null;
    let data = "";
    let cn = "";
    let reused = false;
    const s = tls.connect({ host: "127.0.0.1", port, servername, ca: ca.ca, minVersion: "TLSv1.3", ...(session ? { session } : {}) }, () => {
      cn = String(s.getPeerCertificate().subject?.CN);
      reused = s.isSessionReused();
      s.write(`GET /resume HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
    });
    s.on("session", (t: Buffer) => (ticket = t));
    s.setEncoding("latin1").on("data", (d: string) => (data += d));
    s.on("error", reject);
    s.on("end", () => s.end());
    const t = setTimeout(() => reject(new Error(`no close; got ${JSON.stringify(data.slice(0, 200))}`)), 5000);
    s.on("close", () => (clearTimeout(t), resolve({ reused, cn, ticket, status: data.split("\r\n")[0] })));
  });
}

/** `n` connections in a row, each resuming with the ticket the one before it got. */
async function resumeChain(port: number, servername: string, n: number, first?: Buffer) {
  const out: Awaited<ReturnType<typeof tls13Get>>[] = [];
  let ticket = first;
  for (let i = 0; i < n; i++) {
    const r = await tls13Get(port, servername, ticket);
    out.push(r);
    ticket = r.ticket ?? undefined;
  }
  return out;
}

describe("TLS 1.3 session resumption", () => {
  it("every resumed connection brings a new ticket, so a returning client resumes every time (default and SNI certificates), and across a reload", async () => {
    const listen = { host: "127.0.0.1", port: 0, tls: { certificates: [shop, admin], http2: false } };
    const pools = { webfarm: poolOf([web01], { check: { enabled: false } }) };
    const { lb, ports: [p] } = await startTls({ listen, pools });
    for (const name of ["shop.test", "admin.test"]) {
      const chain = await resumeChain(p, name, 4);
      expect(chain.map((c) => c.status)).toEqual(Array.from({ length: 4 }, () => "HTTP/1.1 200 OK"));
      // the certificate is seen on the full handshake (a resumed one sends none)
      expect(chain[0].cn).toBe(name);
      // the first one a full handshake, every later one resumed (Node's own ticket callback never
      // renews, and a TLS 1.3 client uses a ticket once: every other one was a full handshake)
      expect(chain.map((c) => c.reused)).toEqual([false, true, true, true]);
      for (const c of chain) expect(c.ticket).not.toBeNull();
    }
    // a ticket from before a reload (new certificate objects, a new default context) still resumes
    const before = (await tls13Get(p, "admin.test")).ticket!;
    const r = parseConfig({ listen, pools });
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    const certs = loadAllCertificates(r.config);
    if (!certs.ok) throw new Error(certs.problems.join("\n"));
    lb.reload(r.config, "", certs.byListener);
    expect((await resumeChain(p, "admin.test", 2, before)).map((c) => [c.reused, c.status])).toEqual([
      [true, "HTTP/1.1 200 OK"],
      [true, "HTTP/1.1 200 OK"],
    ]);
  });
});

describe("HTTP/2 to clients", () => {
  let port = 0;
  beforeAll(async () => {
    ({ ports: [port] } = await startTls({
      listen: tlsListener(),
      client: { maxHeaderBytes: 4096 },
      pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) },
    }));
  });

  it("negotiates h2 and gets responses from both origins over HTTP/1.1 pools; a POST body without Content-Length arrives whole", async () => {
    expect((await handshake(port, "shop.test", ["h2", "http/1.1"])).alpn).toBe("h2");
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.ca, servername: "shop.test" });
    try {
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => h2get(client, `/h2-${i}`, { ":authority": "shop.test" })));
      expect(rs.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(new Set(rs.map((r) => r.origin))).toEqual(new Set(["web01", "web02"]));
      const post = await h2get(client, "/h2-post", { ":authority": "shop.test" }, "x".repeat(3000));
      expect(post.status).toBe(200);
      expect(post.body).toMatch(/got 3000 bytes/);
      await synced(web01, web02);
      const seen = [...web01.requests, ...web02.requests].find((r) => r.url === "/h2-0")!;
      // the origin gets Host from :authority and no pseudo-header
      expect(seen.headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === "host" && seen.headers[i + 1] === "shop.test")).toBe(true);
      expect(seen.headers.some((h) => h.startsWith(":"))).toBe(false);
    } finally {
      client.close();
    }
  });

  it("announces at most 100 concurrent streams and refuses a header list over client.maxHeaderBytes", async () => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.ca, servername: "shop.test" });
    try {
      await new Promise<void>((r) => client.once("remoteSettings", () => r()));
      expect(client.remoteSettings.maxConcurrentStreams).toBe(100);
      expect(client.remoteSettings.maxHeaderListSize).toBe(4096);
      const big = await h2get(client, "/h2-big", { ":authority": "shop.test", "x-big": "b".repeat(6000) }).then(
        (r) => String(r.status),
        (e: NodeJS.ErrnoException) => String(e.code),
      );
      expect(big).not.toBe("200");
    } finally {
      client.destroy();
    }
    // the listener still serves others
    const again = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.ca, servername: "shop.test" });
    expect((await h2get(again, "/h2-after", { ":authority": "shop.test" })).status).toBe(200);
    again.close();
  });

  it("CONTINUATION flood: a header block that never ends is cut off, the connection closed", async () => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: "shop.test", ALPNProtocols: ["h2"], rejectUnauthorized: false });
    await new Promise<void>((r, j) => (s.once("secureConnect", () => r()), s.once("error", j)));
    expect(s.alpnProtocol).toBe("h2");
    const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type;
      h[4] = flags;
      h.writeUInt32BE(stream, 5);
      return Buffer.concat([h, payload]);
    };
    // HPACK: :method GET (index 2), :path / (4), :scheme https (7), then literal headers without indexing
    const literal = (n: string, v: string) => Buffer.concat([Buffer.from([0x00, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v)]);
    let closed = false;
    s.on("close", () => (closed = true));
    s.on("error", () => {});
    s.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(4, 0, 0, Buffer.alloc(0))]));
    s.write(frame(1, 0, 1, Buffer.from([0x82, 0x84, 0x87])));
    let sent = 0;
    for (; sent < 20_000 && !closed; sent++) {
      const ok = s.write(frame(9, 0, 1, literal(`x-c${sent % 100}`, "v")));
      if (!ok) await new Promise((r) => setTimeout(r, 5));
    }
    const until = Date.now() + 3000;
    while (!closed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
    expect(sent).toBeLessThan(20_000);
    s.destroy();
  });
});

describe("a plain listener that redirects to https", () => {
  it("answers 308 to https on the given port, same host and target; 443 is left out", async () => {
    const { ports } = await startTls({
      listen: [
        { host: "127.0.0.1", port: 0, redirectHttps: 8443 },
        { host: "127.0.0.1", port: 0, redirectHttps: 443 },
        tlsListener(),
      ],
      pools: { webfarm: poolOf([web01], { check: { enabled: false } }) },
    });
    const before = web01.requests.length;
    const a = await request(`http://127.0.0.1:${ports[0]}/cart?id=7`, { headers: { host: "shop.test:80" } });
    expect(a.statusCode).toBe(308);
    expect(a.headers.location).toBe("https://shop.test:8443/cart?id=7");
    await a.body.text();
    const b = await request(`http://127.0.0.1:${ports[1]}/`, { headers: { host: "shop.test" } });
    expect(b.headers.location).toBe("https://shop.test/");
    await b.body.text();
    await synced(web01);
    expect(web01.requests.length).toBe(before);
  });
});

describe("certificates and keys that cannot be used are named with their path", () => {
  it("missing file, expired certificate, key of another certificate, not PEM", async () => {
    const expired = ca.issue("expired", ["old.test"], -1);
    const file = `${ca.dir}/bad.json`;
    const cfg = {
      listen: [
        { port: 0, tls: { certificates: [{ cert: `${ca.dir}/nope.pem`, key: shop.key }] } },
        { port: 1, tls: { certificates: [expired, { cert: shop.cert, key: admin.key }, { cert: ca.caFile.replace("ca.pem", "ca.srl"), key: shop.key }] } },
      ],
      pools: { webfarm: poolOf([web01]) },
    };
    (await import("node:fs")).writeFileSync(file, JSON.stringify(cfg));
    const r = loadServeConfig(file);
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual([
      `listen[0].tls.certificates[0].cert: ${ca.dir}/nope.pem does not exist`,
      expect.stringMatching(new RegExp(`^listen\\[1\\]\\.tls\\.certificates\\[0\\]\\.cert: ${expired.cert} expired on `)),
      `listen[1].tls.certificates[1].key: ${admin.key} does not match the certificate in ${shop.cert}`,
      expect.stringMatching(/^listen\[1\]\.tls\.certificates\[2\]\.cert: .*ca\.srl holds no PEM certificate/),
    ]);
  });
});

describe("HTTPS origins", () => {
  /** An HTTPS origin that answers with its name. */
  async function httpsOrigin(name: string, pem: { cert: string; key: string }): Promise<{ url: string; hits: () => number; close(): void }> {
    const fs = await import("node:fs");
    let hits = 0;
    const server = https.createServer({ cert: fs.readFileSync(pem.cert), key: fs.readFileSync(pem.key) }, (req, res) => {
      if (!req.url?.startsWith("/")) return res.end();
      if (req.url !== "/") hits++;
      res.writeHead(200, { "x-origin": name, "content-type": "text/plain" });
      res.end(`origin ${name}\n`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    open.push({ close: () => void server.closeAllConnections() });
    open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
    return { url: `https://127.0.0.1:${port}`, hits: () => hits, close: () => server.close() };
  }

  it("an origin with a certificate from the CA in `ca` is used; one signed by an unknown CA is refused and marked down by its checks", async () => {
    const other = makeCa("another CA");
    const good = await httpsOrigin("tls-good", ca.issue("origin-good", ["127.0.0.1"]));
    const rogue = await httpsOrigin("tls-rogue", other.issue("origin-rogue", ["127.0.0.1"]));
    const { lb } = await startTls({
      listen: { host: "127.0.0.1", port: 0 },
      pools: {
        webfarm: {
          origins: [
            { name: "good", url: good.url, ca: ca.caFile },
            { name: "rogue", url: rogue.url, ca: ca.caFile },
          ],
          check: { interval: "100ms", timeout: "100ms", fall: 1, rise: 1 },
        },
      },
    });
    const base = `http://127.0.0.1:${lb.addresses()[0].port}`;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${base}/o-${i}`);
      statuses.push(r.status);
      await r.text();
    }
    // a refused handshake is a connect failure: redispatched, never an error to the client
    expect(statuses).toEqual(Array(10).fill(200));
    expect(good.hits()).toBe(10);
    expect(rogue.hits()).toBe(0);
    const until = Date.now() + 3000;
    let row = lb.stats().pools[0].origins[1];
    while (row.state !== "DOWN" && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      row = lb.stats().pools[0].origins[1];
    }
    expect(row.state).toBe("DOWN");
    expect(row.lastCheck?.detail).toMatch(/CERT|certificate|SELF_SIGNED|UNABLE/i);
    expect(lb.stats().pools[0].origins[0].state).toBe("UP");
  });

  it("verify: false takes any certificate, with a warning from the config", async () => {
    const other = makeCa("lab CA");
    const lab = await httpsOrigin("tls-lab", other.issue("origin-lab", ["127.0.0.1"]));
    const cfg = { listen: { host: "127.0.0.1", port: 0 }, pools: { lab: { origins: [{ name: "lab", url: lab.url, verify: false }], check: { enabled: false } } } };
    const parsed = parseConfig(cfg);
    expect(parsed.ok && parsed.warnings.map(formatIssue)).toEqual([expect.stringMatching(/^pools\.lab\.origins\[0\]\.verify: is false: the origin's certificate is not checked/)]);
    const { lb } = await startTls(cfg);
    const r = await fetch(`http://127.0.0.1:${lb.addresses()[0].port}/lab`);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-origin")).toBe("tls-lab");
  });
});
