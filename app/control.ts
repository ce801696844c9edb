import { Hono, type Context } from "hono";
import type { AuthConfig, Config } from "../core/config/schema.ts";
import { authorized, isLoopback, type SecretLookup } from "../core/auth/index.ts";
import { checkReport, MAX_REPORT_BYTES, type Verdict } from "../core/agent/ingest.ts";
import type { AdminState } from "../core/health/state.ts";
import type { BalancerStats } from "../core/stats/model.ts";
import { renderStatsHtml } from "../core/stats/html.ts";
import { renderStatsCsv } from "../core/stats/csv.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, type ProcessMetrics } from "../core/stats/prometheus.ts";

/** An admin change for one origin. */
export interface AdminChange {
  admin?: AdminState;
  weight?: number;
}

/** What a runtime hands the control app. */
export interface ControlDeps {
  config(): Config;
  secret: SecretLookup;
  /** The client's address as the runtime sees it. */
  peer(c: Context): string;
  /** The stats model of every pool, now. */
  stats(): BalancerStats;
  /**
   * The process_* metrics of /metrics, or null for none. Absent: read from the runtime when it is
   * Node (the Node build); the edge passes () => null (an isolate has no process of its own).
   */
  processMetrics?(): ProcessMetrics | null;
  /** Applies a report whose signature and schema were checked: the runtime's ledger decides on id and seq. */
  applyAgent(v: Extract<Verdict, { status: 200 }>): Promise<{ status: 200 | 401 | 409; problem?: string }>;
  /** Applies an admin change; false when the pool or origin does not exist. */
  applyAdmin(pool: string, origin: string, change: AdminChange): Promise<boolean>;
  log?(o: Record<string, unknown>): void;
}

/** The running process's numbers when the runtime is Node, else null (feature-tested: app/ imports no node:*). */
export function nodeProcessMetrics(): ProcessMetrics | null {
  type NodeProcess = {
    release?: { name?: string };
    memoryUsage?: { (): { heapUsed: number }; rss?: () => number };
    uptime?: () => number;
    cpuUsage?: () => { user: number; system: number };
  };
  const p = (globalThis as unknown as { process?: NodeProcess }).process;
  const ua = (globalThis as unknown as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? "";
  if (!p || p.release?.name !== "node" || !ua.startsWith("Node.js") || typeof p.memoryUsage?.rss !== "function" || !p.uptime || !p.cpuUsage) return null;
  const cpu = p.cpuUsage();
  return {
    residentMemoryBytes: p.memoryUsage.rss(),
    startTimeSeconds: Math.round(Date.now() / 1000 - p.uptime()),
    cpuSecondsTotal: (cpu.user + cpu.system) / 1e6,
    heapUsedBytes: p.memoryUsage().heapUsed,
  };
}

/** Seconds between refreshes of the stats page: `?refresh=N` (0 = none, at most an hour), else 5. */
function refreshOf(q: string | undefined): number {
  if (q === undefined || !/^\d{1,4}$/.test(q)) return 5;
  return Math.min(3600, Number(q));
}

// looked up with Object.hasOwn: "constructor" or "toString" must not read Object.prototype
const ADMIN_ACTIONS: Record<string, AdminState> = { drain: "drain", ready: "ready", maint: "maint" };

/** The body as text, or null as soon as it passes `max` bytes (the rest is not read). */
async function readCapped(req: Request, max: number): Promise<string | null> {
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const ch of chunks) all.set(ch, at), (at += ch.byteLength);
  // the signature covers the text as sent: a BOM is kept (and then fails as JSON) rather than dropped
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(all);
}

/** The Hono app for `/__edgelb/*`, served the same way by both builds. */
export function controlApp(deps: ControlDeps): Hono {
  const app = new Hono().basePath(deps.config().prefix);
  const allowed = (c: Context, auth: AuthConfig | undefined, loopbackWithoutAuth: boolean) =>
    auth ? authorized(c.req.header("authorization"), auth, deps.secret) : loopbackWithoutAuth && isLoopback(deps.peer(c));
  const denied = (c: Context, auth: AuthConfig | undefined) =>
    c.text("Unauthorized\n", 401, auth?.basic.length ? { "www-authenticate": 'Basic realm="edgelb"' } : {});

  app.get("/healthz", (c) => c.text("ok\n", 200, { "cache-control": "no-store" }));

  app.get("/stats", (c) => {
    const auth = deps.config().stats.auth;
    if (!allowed(c, auth, true)) return denied(c, auth);
    const s = deps.stats();
    c.header("cache-control", "no-store");
    const format = c.req.query("format");
    if (format === "json") return c.json(s);
    if (format === "csv") return c.body(renderStatsCsv(s, Date.now()), 200, { "content-type": "text/csv; charset=utf-8; header=present" });
    if (format !== undefined && format !== "html") return c.text(`unknown format ${JSON.stringify(format)}: use html, json or csv\n`, 400);
    return c.html(renderStatsHtml(s, Date.now(), refreshOf(c.req.query("refresh"))));
  });

  // Prometheus text exposition; the same auth as the stats (loopback only when stats.auth is not set)
  app.get("/metrics", (c) => {
    const auth = deps.config().stats.auth;
    if (!allowed(c, auth, true)) return denied(c, auth);
    const proc = deps.processMetrics ? deps.processMetrics() : nodeProcessMetrics();
    return c.body(renderPrometheus(deps.stats(), proc), 200, { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" });
  });

  app.post("/agent", async (c) => {
    const tooLarge = () => c.text("Payload Too Large\n", 413, { connection: "close" });
    const declared = Number(c.req.header("content-length") ?? 0);
    if (declared > MAX_REPORT_BYTES) return tooLarge();
    // a chunked body declares no length: read at most the cap, never the whole thing into memory
    const body = await readCapped(c.req.raw, MAX_REPORT_BYTES);
    if (body === null) return tooLarge();
    const v = await checkReport((n) => c.req.header(n), body, deps.config(), deps.secret, Date.now());
    if (v.status === 401) return c.text("Unauthorized\n", 401);
    if (v.status === 413) return tooLarge();
    if (v.status === 400) return c.json({ error: "invalid report", problems: v.problems }, 400);
    if (v.status === 409) return c.json({ error: v.problem }, 409);
    const r = await deps.applyAgent(v);
    if (r.status === 401) return c.text("Unauthorized\n", 401);
    if (r.status === 409) return c.json({ error: r.problem }, 409);
    return c.json({ ok: true });
  });

  // POST admin/:pool/:origin/(drain|ready|maint|weight); weight takes {"weight": 0-256}. No GET side effects.
  app.post("/admin/:pool/:origin/:action", async (c) => {
    const auth = deps.config().admin.auth;
    if (!auth) return c.text("Forbidden: the admin API is off (set admin.auth in the config)\n", 403);
    if (!allowed(c, auth, false)) return denied(c, auth);
    const { pool, origin, action } = c.req.param();
    let change: AdminChange;
    if (action === "weight") {
      const body = (await c.req.json().catch(() => null)) as { weight?: unknown } | null;
      const w = body?.weight;
      if (typeof w !== "number" || !Number.isInteger(w) || w < 0 || w > 256) return c.json({ error: `weight: must be an integer 0-256, got ${JSON.stringify(w ?? null)}` }, 400);
      change = { weight: w };
    } else if (Object.hasOwn(ADMIN_ACTIONS, action)) change = { admin: ADMIN_ACTIONS[action] };
    else return c.json({ error: `unknown action ${JSON.stringify(action)}: use drain, ready, maint or weight` }, 404);
    if (!(await deps.applyAdmin(pool, origin, change))) return c.json({ error: `no origin ${JSON.stringify(origin)} in pool ${JSON.stringify(pool)}` }, 404);
    deps.log?.({ event: "admin", pool, origin, ...change, peer: deps.peer(c) });
    return c.json({ ok: true, pool, origin, ...change });
  });

  // any other method on an admin path: 405 naming the one that works, and no side effect
  app.all("/admin/:pool/:origin/:action", (c) => c.text("Method Not Allowed: the admin API takes POST\n", 405, { allow: "POST" }));

  app.all("*", (c) => c.text("Not Found\n", 404));
  return app;
}
