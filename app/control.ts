import { Hono, type Context } from "hono";
import type { AuthConfig } from "../core/config/schema.ts";
import { authorized, isLoopback, type SecretLookup } from "../core/auth/index.ts";
import type { PoolStats } from "../core/stats/model.ts";
import { renderStatsHtml } from "../core/stats/html.ts";

/** What a runtime hands the control app. */
export interface ControlDeps {
  /** Route prefix, e.g. "/__edgelb". */
  prefix: string;
  /** Who may read stats; without it only loopback peers may. */
  statsAuth?: AuthConfig;
  secret: SecretLookup;
  /** The client's address as the runtime sees it. */
  peer(c: Context): string;
  /** The stats model of every pool, now. */
  stats(): { build: string; startedAt: number; pools: PoolStats[] };
}

/** The Hono app for `/__edgelb/*`, served the same way by both builds. */
export function controlApp(deps: ControlDeps): Hono {
  const app = new Hono().basePath(deps.prefix);
  app.get("/healthz", (c) => c.text("ok\n", 200, { "cache-control": "no-store" }));
  app.get("/stats", (c) => {
    const auth = deps.statsAuth;
    const ok = auth ? authorized(c.req.header("authorization"), auth, deps.secret) : isLoopback(deps.peer(c));
    if (!ok) {
      return c.text("Unauthorized\n", 401, auth?.basic.length ? { "www-authenticate": 'Basic realm="edgelb stats"' } : {});
    }
    const s = deps.stats();
    c.header("cache-control", "no-store");
    if (c.req.query("format") === "json") return c.json(s);
    return c.html(renderStatsHtml(s));
  });
  app.all("*", (c) => c.text("Not Found\n", 404));
  return app;
}
