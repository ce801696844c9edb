// WebSocket at the edge (issue 9): the upgrade goes to one origin of the pool, the origin's 101 is
// passed through (workerd carries the messages), one try only. Origins a and b echo "NAME:message"
// (test/worker/origin-http.ts); pool "ws" is Host ws.test, "wsdead" a refused port plus a.
import { env } from "cloudflare:workers";
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import type { EdgeEnv } from "../../durable/config.ts";
import { origin } from "./helpers.ts";

const e = env as unknown as EdgeEnv;

async function upgrade(host: string, path = "/chat"): Promise<Response> {
  const ctx = createExecutionContext();
  return worker.fetch(
    new Request(`http://${host}${path}`, { headers: { upgrade: "websocket", connection: "Upgrade", "cf-connecting-ip": "198.51.100.7", "x-forwarded-for": "10.6.6.6" } }),
    e,
    ctx,
  );
}

/** The next message of `ws`, or an error after `ms`. */
function next(ws: WebSocket, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no message")), ms);
    ws.addEventListener("message", (m) => (clearTimeout(t), resolve(String(m.data))), { once: true });
  });
}

function closed(ws: WebSocket, ms = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("not closed")), ms);
    ws.addEventListener("close", (c) => (clearTimeout(t), resolve(c.code)), { once: true });
  });
}

async function stats(pool: string) {
  const ctx = createExecutionContext();
  const r = await worker.fetch(new Request("http://lb.test/__edgelb/stats?format=json", { headers: { authorization: "Bearer test-stats-token" } }), e, ctx);
  return (JSON.parse(await r.text()).pools as { name: string; origins: { name: string; tunnelsTotal: number; tries: number; failures: Record<string, number> }[] }[]).find((p) => p.name === pool)!;
}

describe("edge: WebSocket passthrough", () => {
  it("messages both ways through the origin's 101; upgrades spread over the pool; X-Forwarded-For is the client's", async () => {
    const [a, b] = [origin("a"), origin("b")];
    await Promise.all([a.clearLog(), b.clearLog()]);
    const served = new Set<string>();
    for (let k = 0; k < 4; k++) {
      const res = await upgrade("ws.test", `/chat-${k}`);
      expect(res.status).toBe(101);
      const ws = res.webSocket!;
      expect(ws).toBeTruthy();
      ws.accept();
      const got = next(ws);
      ws.send(`hello ${k}`);
      const echo = await got;
      expect(echo).toMatch(new RegExp(`^(a|b):hello ${k}$`));
      served.add(echo.split(":")[0]);
      ws.close(1000, "done");
    }
    expect(served).toEqual(new Set(["a", "b"]));
    const seen = [...(await a.log()), ...(await b.log())].filter((l) => l.url.startsWith("/chat-"));
    expect(seen).toHaveLength(4);
    const h = seen[0].headers;
    const get = (n: string) => h[h.findIndex((x, i) => i % 2 === 0 && x.toLowerCase() === n) + 1];
    expect(get("upgrade")).toBe("websocket");
    expect(get("x-forwarded-for")).toBe("198.51.100.7");
    const s = await stats("ws");
    expect(s.origins.reduce((n, o) => n + o.tunnelsTotal, 0)).toBeGreaterThanOrEqual(4);
  });

  it("the origin closing the connection closes the client's side", async () => {
    const res = await upgrade("ws.test");
    const ws = res.webSocket!;
    ws.accept();
    const code = closed(ws);
    ws.send("close");
    expect(await code).toBe(4000);
  });

  it("a refused origin: 502 at once, never a second try (a lost connection may have been sent at the edge)", async () => {
    const a = origin("a");
    await a.clearLog();
    // the dead origin is first in round-robin order for a fresh isolate's first pick, or the second: try until one lands on it
    let refused = 0;
    for (let k = 0; k < 4 && refused === 0; k++) {
      const res = await upgrade("wsdead.test", `/dead-${k}`);
      if (res.status === 101) {
        res.webSocket!.accept();
        res.webSocket!.close(1000);
        continue;
      }
      expect(res.status).toBe(502);
      refused++;
    }
    expect(refused).toBe(1);
    const s = await stats("wsdead");
    expect(s.origins[0].failures["connect-error"] + s.origins[0].failures["connect-refused"] + s.origins[0].failures["empty-response"]).toBeGreaterThanOrEqual(1);
    // no second try on a for the refused upgrade: a saw only the ones that were answered 101
    const onA = (await a.log()).filter((l) => l.url.startsWith("/dead-")).length;
    expect(onA + refused).toBe(s.origins.reduce((n, o) => n + o.tries, 0));
  });
});
