import { Hono } from "hono";
import type { Config } from "../core/config/schema.ts";
import { createRouter } from "../core/proxy/route.ts";
import { controlTarget } from "../core/proxy/validate.ts";
import { edgeWarnings } from "../core/config/edge.ts";
import { formatIssue } from "../core/config/parse.ts";
import { poolStats } from "../core/stats/model.ts";
import { controlApp } from "../app/control.ts";
import { loadEdgeConfig, type EdgeEnv } from "../durable/config.ts";
import { HealthObject } from "../durable/health-object.ts";
import { edgeRequestEditor, forwardAtEdge, type EdgeTarget, type RequestEditor } from "./forward.ts";
import { EdgePool } from "./pool.ts";
import { isWebSocketUpgrade } from "../core/proxy/upgrade.ts";
import { forwardWebSocket } from "./websocket.ts";
import { headerTimers } from "./deadlines.ts";
import { plainTarget, startsLikePrefix } from "./target.ts";

export { HealthObject };

/** What one isolate keeps between requests: the parsed config, its pools and their snapshots. */
interface Isolate {
  config: Config;
  pools: Map<string, EdgePool>;
  route: (host: string | null | undefined) => string;
  control: Hono;
  startedAt: number;
  /** the request header rule, its name lists worked out once */
  edit: RequestEditor;
  /** the env this isolate was booted with: the same object again means the same config */
  env: EdgeEnv;
  /** config.prefix lower-cased */
  prefixLower: string;
}

let isolate: Isolate | null = null;

function boot(env: EdgeEnv): Isolate {
  if (isolate !== null && isolate.env === env) return isolate;
  const config = loadEdgeConfig(env);
  if (isolate && isolate.config === config) return (isolate.env = env), isolate;
  for (const w of edgeWarnings(config)) console.warn(`edgelb config warning: ${formatIssue(w)}`);
  const pools = new Map(Object.entries(config.pools).map(([name, cfg]) => [name, new EdgePool(name, cfg, config.edge, Math.random)]));
  const startedAt = Date.now();
  const control = controlApp({
    config: () => config,
    secret: (name) => (typeof env[name] === "string" ? (env[name] as string) : undefined),
    peer: (c) => c.req.header("cf-connecting-ip") ?? "",
    stats: () => {
      const now = Date.now();
      return {
        build: "edgelb (Cloudflare Worker)",
        startedAt,
        pools: [...pools].map(([name, p]) => {
          const s = poolStats(name, p.cfg, p.store.state, p.counters, now);
          // the edge counts in-flight tries in the pool's array (selection reads it), not in the counters
          s.origins.forEach((o, i) => (o.inflight = p.inflight[i]));
          return { ...s, durableObjectCalls: { ...p.calls } };
        }),
        headerTimers: headerTimers(),
      };
    },
    // an isolate has no process of its own to report (and nodejs_compat's process would be a stand-in)
    processMetrics: () => null,
    // one RPC to the pool's object, which keeps the replay ledger; the isolate refreshes at once
    applyAgent: async (v) => {
      const r = await pools.get(v.pool)!.stub(env).report(v.pool, v);
      pools.get(v.pool)!.expire();
      return r;
    },
    applyAdmin: async (pool, origin, change) => {
      const p = pools.get(pool);
      if (!p) return false;
      const version = await p.stub(env).admin(pool, { origin, ...change });
      p.expire();
      return version !== null;
    },
    log: (o) => console.log(JSON.stringify(o)),
  });
  return (isolate = { config, pools, route: createRouter(config), control, startedAt, edit: edgeRequestEditor(config), env, prefixLower: config.prefix.toLowerCase() });
}

/**
 * The entry: control routes (`/__edgelb/*`) go to the Hono app from app/; every other request goes
 * straight to forwardAtEdge. A Hono catch-all in front of the proxy cost about a tenth of the
 * Worker's CPU per proxied request under bare workerd (a Context and a router pass per request,
 * profiled with the inspector; see README "Performance"), for a route that needs neither.
 */
export default {
  fetch(req: Request, env: EdgeEnv, ctx: ExecutionContext): Response | Promise<Response> {
    let iso: Isolate;
    try {
      iso = boot(env);
    } catch (e) {
      console.error(String((e as Error).message));
      return new Response(`edgelb: ${(e as Error).message}\n`, { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    const u = req.url;
    const inHeaders = req.headers;
    const host = inHeaders.get("host");
    const plain = plainTarget(u);
    let t: EdgeTarget, where: ReturnType<typeof controlTarget>;
    if (plain !== null && host !== null) {
      t = { path: plain, proto: u.charCodeAt(4) === 115 /* s */ ? "https" : "http", host };
      where = startsLikePrefix(plain, iso.prefixLower) ? controlTarget(plain, iso.config.prefix) : "proxy";
    } else {
      const url = new URL(u);
      t = { path: url.pathname + url.search, proto: url.protocol === "https:" ? "https" : "http", host: host ?? url.host };
      where = controlTarget(url.pathname, iso.config.prefix);
    }
    // as on the Node build: another spelling of a control path ("//__edgelb/admin", "%2e%2e",
    // "/__EDGELB") is answered 404, never forwarded with the credentials sent to us
    if (where === "control") return iso.control.fetch(req, env, ctx);
    if (where === "lookalike") return new Response("Not Found\n", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
    const pool = iso.pools.get(iso.route(t.host))!;
    // a WebSocket upgrade (one header read on the common path: most requests have no Upgrade)
    const upgrade = inHeaders.get("upgrade");
    if (upgrade !== null && isWebSocketUpgrade(upgrade, inHeaders.get("connection"))) return forwardWebSocket(iso.config, iso.edit, pool, req, t, env, ctx);
    return forwardAtEdge(iso.config, iso.edit, pool, req, inHeaders, t, env, ctx);
  },
} satisfies ExportedHandler<EdgeEnv>;
