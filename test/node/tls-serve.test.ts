// Issue 9 with `edgelb serve` as its own process: certificates swapped by SIGHUP under HTTPS load
// (0 failed requests), a bad key refused with its path while the old certificate keeps serving, and
// a Rapid Reset burst (HEADERS + RST_STREAM, thousands) that neither grows memory without bound nor
// stops other clients.
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import http2 from "node:http2";
import tls from "node:tls";
import { join } from "node:path";
import { Client } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgelb, stopAll, tempDir, waitFor, type Child } from "../agent/helpers.ts";
import { killOrigins, poolOf, startOrigin, type TestOrigin } from "../support/harness.ts";
import { rssKiB } from "../faults/kit/index.ts";
import { makeCa, type TestCa } from "../support/tls-ca.ts";

let ca: TestCa, web01: TestOrigin, web02: TestOrigin;
let lb: Child, dir: string, httpsPort: number, statsUrl: string;
/** The certificate files the config names; the test rewrites them. */
let live: { cert: string; key: string };

beforeAll(async () => {
  ca = makeCa();
  [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  const first = ca.issue("shop-1", ["shop.test"]);
  dir = tempDir("tls");
  live = { cert: join(dir, "shop.pem"), key: join(dir, "shop.key") };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  const started = await startEdgelb(dir, {
    // a plain listener first (the helper reads its address), HTTPS second
    listen: [{ host: "127.0.0.1", port: 0 }, { host: "127.0.0.1", port: 0, tls: { certificates: [live] } }],
    log: { requests: false },
    pools: { webfarm: poolOf([web01, web02], { check: { enabled: false } }) },
  }, {});
  lb = started.child;
  statsUrl = `${started.url}/__edgelb/stats?format=json`;
  const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(await waitFor("the https line", () => lb.stdout(), (s) => /listening on https:/.test(s), 5000));
  httpsPort = Number(m![1]);
});
afterAll(async () => {
  await stopAll();
  await killOrigins();
});

function serial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: httpsPort, servername: "shop.test", ca: ca.ca }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on("error", reject);
  });
}

const x509Serial = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;

describe("certificates re-read on SIGHUP", () => {
  it("a swapped certificate is served to new connections with 0 failed requests under load; a bad key is refused with its path and the last good one keeps serving", async () => {
    const before = await serial();
    expect(before).toBe(x509Serial(live.cert));
    let stop = false, ok = 0;
    const failures: string[] = [];
    // 4 clients, each opening a fresh TLS connection every 10 requests, for the whole test
    const worker = async (w: number) => {
      for (let round = 0; !stop; round++) {
        const c = new Client(`https://127.0.0.1:${httpsPort}`, { connect: { ca: ca.ca, servername: "shop.test" } });
        for (let i = 0; i < 10 && !stop; i++) {
          try {
            const r = await c.request({ path: `/sighup-${w}-${round}-${i}`, method: "GET", headers: { host: "shop.test" } });
            await r.body.text();
            if (r.statusCode === 200) ok++;
            else failures.push(`status ${r.statusCode}`);
          } catch (e) {
            failures.push(String((e as { code?: string }).code ?? e));
          }
        }
        await c.close();
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));
    await new Promise((r) => setTimeout(r, 500));

    const second = ca.issue("shop-2", ["shop.test"]);
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    process.kill(lb.pid, "SIGHUP");
    await waitFor("the new certificate", serial, (s) => s === x509Serial(second.cert), 5000);
    await new Promise((r) => setTimeout(r, 300));

    // a key that is not the certificate's: refused, said with its path, the new certificate stays
    const third = ca.issue("shop-3", ["shop.test"]);
    copyFileSync(third.cert, live.cert);
    copyFileSync(ca.issue("other", ["other.test"]).key, live.key);
    process.kill(lb.pid, "SIGHUP");
    await waitFor("the refusal", () => lb.events(), (ev) => ev.some((e) => e.event === "reload-refused"), 5000);
    const refused = lb.events().find((e) => e.event === "reload-refused") as { problems: string[] };
    expect(refused.problems).toEqual([`listen[1].tls.certificates[0].key: ${live.key} does not match the certificate in ${live.cert}`]);
    const stats = (await (await fetch(statsUrl)).json()) as { reload: { last: { ok: boolean; problems: string[] } } };
    expect(stats.reload.last.ok).toBe(false);
    expect(stats.reload.last.problems[0]).toMatch(/^listen\[1\]\.tls\.certificates\[0\]\.key: /);
    await new Promise((r) => setTimeout(r, 300));
    expect(await serial()).toBe(x509Serial(second.cert));
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
  });
});

describe("HTTP/2 Rapid Reset", () => {
  it("5,000 HEADERS+RST_STREAM: memory stays bounded, another client is served throughout", async () => {
    const rssBefore = rssKiB(lb.pid);
    const good = http2.connect(`https://127.0.0.1:${httpsPort}`, { ca: ca.ca, servername: "shop.test" });
    let goodOk = 0;
    const goodErrors: string[] = [];
    let attacking = true;
    const goodLoop = (async () => {
      while (attacking) {
        const status = await new Promise<number>((resolve) => {
          const s = good.request({ ":path": "/rr-good", ":authority": "shop.test" });
          s.on("response", (h) => resolve(Number(h[":status"])));
          s.on("error", (e) => (goodErrors.push(String(e)), resolve(0)));
          s.resume();
        });
        if (status === 200) goodOk++;
        else goodErrors.push(`status ${status}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let sent = 0, sessions = 0;
    const until = Date.now() + 15_000;
    // new sessions as the server ends them; each stream cancelled as soon as its HEADERS went out
    while (sent < 5000 && Date.now() < until) {
      sessions++;
      const bad = http2.connect(`https://127.0.0.1:${httpsPort}`, { ca: ca.ca, servername: "shop.test" });
      bad.on("error", () => {});
      await new Promise<void>((r) => (bad.once("remoteSettings", () => r()), bad.once("close", () => r())));
      for (let i = 0; i < 1000 && sent < 5000 && !bad.destroyed && !bad.closed; i++) {
        try {
          const s = bad.request({ ":path": `/rr-${sent}`, ":authority": "shop.test" });
          s.on("error", () => {});
          s.once("ready", () => s.close(http2.constants.NGHTTP2_CANCEL));
          sent++;
        } catch {
          break;
        }
        if (i % 25 === 24) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 50));
      bad.destroy();
    }
    attacking = false;
    await goodLoop;
    good.close();
    const grownMiB = (rssKiB(lb.pid) - rssBefore) / 1024;
    console.log("rapid reset", { sent, sessions, goodOk, grownMiB: grownMiB.toFixed(1) });
    expect(sent).toBe(5000);
    expect(goodErrors).toEqual([]);
    expect(goodOk).toBeGreaterThan(10);
    expect(grownMiB).toBeLessThan(64);
    // and it still answers afterwards
    const after = new Client(`https://127.0.0.1:${httpsPort}`, { connect: { ca: ca.ca, servername: "shop.test" } });
    const r = await after.request({ path: "/after", method: "GET", headers: { host: "shop.test" } });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    await after.close();
  });
});
