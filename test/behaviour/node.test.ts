// The behaviour suite (test/behaviour/cases.ts) against the Node build: the same origins as the
// worker project (origin-http processes, started here), the same config (test/behaviour/config.ts),
// a Balancer in this process, requests over real loopback sockets with node:http (which sends
// any header a client could, hop-by-hop ones included).
import http from "node:http";
import { afterAll, beforeAll } from "vitest";
import { startBalancer, type TestBalancer } from "../support/harness.ts";
import { behaviourSuite, statsThrough, type Build, type ClientRequest } from "./cases.ts";
import { CONFIG_ORIGINS, DEAD_PORTS, TEST_SECRETS, testConfig } from "./config.ts";
import { httpOrigin } from "./origin-client.ts";
import { reserveDeadPorts, startOrigins } from "./processes.ts";

let origins: Awaited<ReturnType<typeof startOrigins>> | null = null;
let balancer: TestBalancer | null = null;
let port = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const [k, v] of Object.entries(TEST_SECRETS)) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  origins = await startOrigins(CONFIG_ORIGINS);
  balancer = await startBalancer(testConfig(origins.ports, await reserveDeadPorts(DEAD_PORTS)));
  port = Number(new URL(balancer.url).port);
});

afterAll(async () => {
  agent.destroy();
  await balancer?.close();
  await origins?.stop();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** One request to the balancer over a real socket; the answer as a Web Response. */
function send(host: string, path: string, init: ClientRequest = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: init.method ?? "GET", path, headers: { ...init.headers, host }, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        // the connection closed before the whole body came: a cut response
        res.on("close", () => res.complete || reject(new Error(`response to ${path} cut short`)));
        res.on("end", () => {
          const headers = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          const body = Buffer.concat(chunks);
          resolve(new Response(body.length ? body : null, { status: res.statusCode, statusText: res.statusMessage, headers }));
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on("error", reject);
    req.end(init.body);
  });
}

const node: Build = {
  name: "node",
  fetch: send,
  origin: (name) => httpOrigin(name, origins?.ports[name]),
  stats: (pool) => statsThrough(send, pool),
  client: { forwardedFor: "127.0.0.1", proto: "http" },
  refusedAs: "connect-refused",
  skip: {},

};

behaviourSuite(node);
