import { editRequestHeaders, responseDropper } from "../core/proxy/headers.ts";
import { FAILURES, Trip, type FailureKind } from "../core/proxy/retry.ts";
import { upstreamUrl } from "../core/proxy/target.ts";
import { NONE, pickOrigin } from "../core/select/index.ts";
import type { Config } from "../core/config/schema.ts";
import type { EdgeEnv } from "../durable/config.ts";
import { failureOf } from "./errors.ts";
import type { EdgePool } from "./pool.ts";
import { STRIPPED_ON_WIRE } from "./wire.ts";

function ourError(status: number, text: string, extra?: Record<string, string>): Response {
  return new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...extra } });
}

/**
 * One request at the edge: the same decisions as the Node build (core's Trip, header rules,
 * upstream URL), with `fetch` and a per-try header timeout. The response body streams through
 * natively, watched for a break and for the total deadline (pipeBody).
 */
export async function forwardAtEdge(
  config: Config,
  pool: EdgePool,
  req: Request,
  url: URL,
  env: EdgeEnv,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Response> {
  // the client's headers copied natively and edited in place (core's rules on a Web Headers); the
  // client's own X-Forwarded-* are never trusted at the edge: CF-Connecting-IP is the peer
  const headers = new Headers(req.headers);
  const host = headers.get("host") ?? url.host;
  const peer = headers.get("cf-connecting-ip") ?? "";
  try {
    editRequestHeaders(headers, { peer, proto: url.protocol === "https:" ? "https" : "http", host }, config.forwardFor);
    for (const name of CF_ONLY) headers.delete(name);
  } catch (e) {
    return ourError(400, `Bad Request: ${(e as Error).message}`, { connection: "close" });
  }
  pool.counters.requests++;
  // the request duration histogram: at the edge until the response head is returned (the body then streams natively)
  const startedAt = Date.now();
  await pool.ready(env, waitUntil, startedAt);
  const cfg = pool.cfg;
  const watch = config.edge.watchBodies;
  // a body up to replayBufferBytes is buffered so a retry can send it again; a larger one streams once
  let body: ArrayBuffer | ReadableStream | null = null;
  let replayable = true;
  if (req.body) {
    const len = Number(req.headers.get("content-length") ?? NaN);
    if (Number.isFinite(len) && len <= cfg.replayBufferBytes) body = await req.arrayBuffer();
    else (body = req.body), (replayable = false);
  }
  const trip = new Trip(cfg, req.method, replayable, pool.budget, Math.random);
  pool.budget.onRequest();
  const path = url.pathname + url.search;
  const deadline = cfg.timeouts.total > 0 ? Date.now() + cfg.timeouts.total : Infinity;
  let last: FailureKind | null = null;
  let lastStatus = 0;
  try {
    for (;;) {
      const sticky = trip.retryOrigin;
      const i = sticky !== -1 ? sticky : pickOrigin(pool.policy, pool.store.weights(Date.now()), pool.inflight, pool.noLimit, trip.exclude);
      if (i === NONE) {
        if (lastStatus) return count(pool, ourError(lastStatus, `origins answered ${lastStatus}; none left to try`));
        if (last) return count(pool, ourError(FAILURES[last].status, `no origin left to try after ${last}`));
        pool.counters.noOrigin++;
        return count(pool, ourError(503, "Service Unavailable: no origin is available", { "retry-after": String(Math.max(1, Math.ceil(cfg.check.interval / 1000))) }));
      }
      const oc = pool.counters.origins[i];
      if (trip.tried.length) (oc.retries++, cfg.redispatch && !trip.tried.includes(i) && oc.redispatches++);
      trip.start(i);
      oc.tries++;
      pool.inflight[i]++;
      // timeouts.header "0" = no header timeout (as undici's headersTimeout 0 on the Node build);
      // the total deadline, when there is one, still bounds the try. AbortSignal.timeout is the
      // runtime's own timer: nothing to clear, no Error built unless it fires.
      const headerMs = cfg.timeouts.header > 0 ? cfg.timeouts.header : Infinity;
      const left = deadline - Date.now();
      const byTotal = left < headerMs;
      const perTry = byTotal ? left : headerMs;
      const signal = perTry === Infinity ? undefined : AbortSignal.timeout(Math.max(0, perTry));
      let res: Response;
      try {
        res = await fetch(upstreamUrl(cfg.origins[i].url, path), { method: req.method, headers, body, redirect: "manual", signal });
      } catch (e) {
        pool.inflight[i]--;
        const aborted = signal?.aborted === true;
        // the total deadline came first: the exchange is over, and the origin is not charged (as on Node)
        if (aborted && byTotal) return count(pool, ourError(504, "Gateway Timeout: total deadline reached"));
        const kind = failureOf(e, aborted);
        oc.failures[kind]++;
        pool.outcome(env, waitUntil, i, FAILURES[kind].outcome);
        last = kind;
        lastStatus = 0;
        const d = trip.failed(kind);
        if (!d.retry || Date.now() >= deadline) {
          if (!d.retry && d.reason === "budget") pool.counters.budgetExhausted++;
          return count(pool, ourError(d.retry ? 504 : d.status, `${kind}`));
        }
        if (d.delayMs) await new Promise((r) => setTimeout(r, d.delayMs));
        continue;
      }
      const d = trip.status(res.status);
      if (d.retry) {
        pool.inflight[i]--;
        oc.status[5]++;
        await res.body?.cancel();
        pool.outcome(env, waitUntil, i, "5xx");
        lastStatus = res.status;
        if (d.delayMs) await new Promise((r) => setTimeout(r, d.delayMs));
        continue;
      }
      const status = res.status;
      // the origin's response goes back as it is unless a hop-by-hop header has to come off
      const drop = dropOnResponse(res.headers);
      let headersOut = res.headers;
      if (drop !== null) {
        headersOut = new Headers(res.headers);
        for (const name of drop) headersOut.delete(name);
      }
      if (res.body && watch) {
        const body = pipeBody(res.body, deadline, waitUntil, (how) => settle(pool, env, waitUntil, i, status, how));
        return new Response(body, { status, statusText: res.statusText, headers: headersOut });
      }
      // the fast path (default): the body passes through untouched; a break still reaches the
      // client as a cut response, but is not charged to the origin here
      settle(pool, env, waitUntil, i, status, "done");
      return drop === null ? res : new Response(res.body, { status, statusText: res.statusText, headers: headersOut });
    }
  } finally {
    trip.end();
    pool.counters.duration.observe((Date.now() - startedAt) / 1000);
  }
}

/** Core's response rule, knowing what workerd strips itself (worker/wire.ts). */
const dropOnResponse = responseDropper(STRIPPED_ON_WIRE);

/** Cloudflare's own request headers, not forwarded to origins. */
const CF_ONLY: ReadonlySet<string> = new Set(["cf-connecting-ip", "cf-ipcountry", "cf-ray", "cf-visitor", "cf-worker", "cdn-loop", "x-real-ip"]);

/**
 * As on the Node build, the exchange is counted when the body has ended: a complete response counts
 * its status, a broken one is a body-error against the origin, a client that left counts as such,
 * and the try holds its in-flight slot until then.
 */
function settle(pool: EdgePool, env: EdgeEnv, waitUntil: (p: Promise<unknown>) => void, i: number, status: number, how: BodyEnd): void {
  const oc = pool.counters.origins[i];
  pool.inflight[i]--;
  if (how === "done") {
    pool.outcome(env, waitUntil, i, status >= 500 ? "5xx" : "success");
    oc.status[(status / 100) | 0]++;
    pool.counters.status[(status / 100) | 0]++;
  } else if (how === "origin") {
    oc.failures["body-error"]++;
    pool.outcome(env, waitUntil, i, FAILURES["body-error"].outcome);
  } else if (how === "client") oc.clientAborts++;
}

/** How a streamed response body ended: complete, broken by the origin, the client left, the total deadline. */
type BodyEnd = "done" | "origin" | "client" | "deadline";

/**
 * The origin's body as the client's, piped natively (no JavaScript per chunk: an
 * IdentityTransformStream fed by pipeTo), with the total deadline as the pipe's signal; `onEnd` is
 * told once how it ended. A break or the deadline errors the client's stream, so its read fails
 * rather than ending short. A per-chunk idle deadline would need JavaScript on every chunk, so at
 * the edge only the total deadline bounds a body (Cloudflare bounds idle connections itself).
 */
function pipeBody(src: ReadableStream<Uint8Array>, deadline: number, waitUntil: (p: Promise<unknown>) => void, onEnd: (how: BodyEnd) => void): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const signal = deadline === Infinity ? undefined : AbortSignal.timeout(Math.max(0, deadline - Date.now()));
  waitUntil(
    src.pipeTo(writable, { signal }).then(
      () => onEnd("done"),
      (e: unknown) => {
        if (signal?.aborted) return onEnd("deadline");
        // a read from the origin that failed says "Network connection lost." (probe.test.ts (c));
        // anything else came from the client's side (it went away, the stream was canceled)
        onEnd(String((e as Error)?.message ?? e).includes("Network connection lost") ? "origin" : "client");
      },
    ),
  );
  return readable;
}

function count(pool: EdgePool, res: Response): Response {
  pool.counters.status[(res.status / 100) | 0]++;
  return res;
}
