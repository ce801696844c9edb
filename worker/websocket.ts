import { FAILURES } from "../core/proxy/retry.ts";
import { upstreamUrl } from "../core/proxy/target.ts";
import { hashKey, NONE, pickOrigin } from "../core/select/index.ts";
import type { Config } from "../core/config/schema.ts";
import type { EdgeEnv } from "../durable/config.ts";
import { failureOf } from "./errors.ts";
import { count, ourError, type EdgeTarget, type RequestEditor } from "./forward.ts";
import { headWithin, TIMED_OUT } from "./deadlines.ts";
import type { EdgePool, Waiter } from "./pool.ts";

/**
 * A WebSocket upgrade at the edge (core/proxy/upgrade.ts decides which requests are): one origin
 * picked like any request, the upgrade sent with `fetch`, and the origin's 101 returned as it is,
 * so workerd passes the WebSocket through (the Workers way; no message passes through this code).
 * One try only: workerd's fetch cannot tell a refused connection from one lost after the request
 * was sent (test/worker/probe.test.ts), and an upgrade that was sent is never repeated. Any other
 * answer of the origin goes back as it is. Counted: the try, its status class, tunnels opened; a
 * tunnel's end is not seen by the isolate, so open tunnels are counted on the Node build only.
 */
export async function forwardWebSocket(
  config: Config,
  edit: RequestEditor,
  pool: EdgePool,
  req: Request,
  target: EdgeTarget,
  env: EdgeEnv,
  ctx: Waiter,
): Promise<Response> {
  const headers = new Headers(req.headers);
  const peer = headers.get("cf-connecting-ip") ?? "";
  try {
    edit(headers, { peer, proto: target.proto, host: target.host });
  } catch (e) {
    return ourError(400, `Bad Request: ${(e as Error).message}`, { connection: "close" });
  }
  // the hop-by-hop rule took Upgrade off; the upgrade is what this request is for
  headers.set("upgrade", "websocket");
  pool.counters.requests++;
  const startedAt = Date.now();
  const wait = pool.ready(env, ctx, startedAt);
  if (wait !== undefined) await wait;
  const cfg = pool.cfg;
  const i = pickOrigin(pool.policy, pool.store.weights(startedAt), pool.inflight, pool.noLimit, [], cfg.balance === "source" ? hashKey(peer) : 0);
  if (i === NONE) {
    pool.counters.noOrigin++;
    return count(pool, ourError(503, "Service Unavailable: no origin is available", { "retry-after": String(Math.max(1, Math.ceil(cfg.check.interval / 1000))) }));
  }
  const oc = pool.counters.origins[i];
  oc.tries++;
  let res: Response;
  try {
    const sent = fetch(upstreamUrl(cfg.origins[i].url, target.path), { method: req.method, headers });
    res = await (cfg.timeouts.header > 0 ? headWithin(sent, cfg.timeouts.header, ctx) : sent);
  } catch (e) {
    const kind = failureOf(e, e === TIMED_OUT);
    oc.failures[kind]++;
    pool.outcome(env, ctx, i, FAILURES[kind].outcome);
    return count(pool, ourError(FAILURES[kind].status, `${kind}`));
  }
  oc.status[(res.status / 100) | 0]++;
  pool.outcome(env, ctx, i, res.status >= 500 ? "5xx" : "success");
  if (res.status === 101 && res.webSocket) oc.tunnelsTotal++;
  return count(pool, res);
}
