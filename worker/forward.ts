import { requestEditor, responseDropper } from "../core/proxy/headers.ts";
import { FAILURES, mayRetryStatus, Trip, type FailureKind } from "../core/proxy/retry.ts";
import { upstreamUrl } from "../core/proxy/target.ts";
import { hashKey, NONE, pickOrigin } from "../core/select/index.ts";
import type { Config } from "../core/config/schema.ts";
import type { EdgeEnv } from "../durable/config.ts";
import { failureOf } from "./errors.ts";
import type { EdgePool, Waiter } from "./pool.ts";
import { STRIPPED_ON_WIRE } from "./wire.ts";
import { headWithin, TIMED_OUT } from "./deadlines.ts";

export function ourError(status: number, text: string, extra?: Record<string, string>): Response {
  return new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...extra } });
}

/** What one request needs to know about the client side, from the Worker's entry (worker/index.ts). */
export interface EdgeTarget {
  /** origin-form path and query to send upstream */
  path: string;
  /** "http" or "https" as the client spoke to us */
  proto: string;
  /** the Host the client asked for */
  host: string;
}

/** The request header rule for one config, its name lists worked out once (see requestEditor). */
export type RequestEditor = ReturnType<typeof requestEditor>;
export function edgeRequestEditor(config: Config): RequestEditor {
  // the client's own X-Forwarded-* are never trusted at the edge: CF-Connecting-IP is the peer.
  // Names workerd's fetch drops itself when it writes the request cost nothing (worker/wire.ts)
  return requestEditor(STRIPPED_ON_WIRE, config.forwardFor, CF_ONLY);
}

/**
 * One request at the edge: the same decisions as the Node build (core's Trip, header rules,
 * upstream URL), with `fetch` and a per-try header timeout. The response body streams through
 * natively, watched for a break and for the total deadline (pipeBody) when edge.watchBodies is on.
 * Warm and without a request body, nothing is awaited before the first fetch.
 */
export function forwardAtEdge(
  config: Config,
  edit: RequestEditor,
  pool: EdgePool,
  req: Request,
  reqHeaders: Headers,
  target: EdgeTarget,
  env: EdgeEnv,
  ctx: Waiter,
): Response | Promise<Response> {
  // the client's headers copied natively and edited in place (core's rules on a Web Headers)
  const headers = new Headers(reqHeaders);
  const peer = headers.get("cf-connecting-ip");
  try {
    edit(headers, { peer: peer ?? "", proto: target.proto, host: target.host });
  } catch (e) {
    return ourError(400, `Bad Request: ${(e as Error).message}`, { connection: "close" });
  }
  pool.counters.requests++;
  // the request duration histogram: at the edge until the response head is returned (the body then streams natively)
  const startedAt = Date.now();
  const wait = pool.ready(env, ctx, startedAt);
  // balance "source": the client's affinity key, from CF-Connecting-IP (as the Node build's from its peer)
  const key = pool.cfg.balance === "source" ? hashKey(peer ?? "") : 0;
  if (wait === undefined && req.body === null) return exchange(config, pool, req, headers, target.path, key, env, ctx, startedAt, null, true);
  return prepare(config, pool, req, headers, target.path, key, env, ctx, startedAt, wait);
}

/** The cold isolate's wait for its first snapshot, and a request body read for replay. */
async function prepare(
  config: Config,
  pool: EdgePool,
  req: Request,
  headers: Headers,
  path: string,
  key: number,
  env: EdgeEnv,
  ctx: Waiter,
  startedAt: number,
  wait: Promise<void> | undefined,
): Promise<Response> {
  if (wait !== undefined) await wait;
  // a body up to replayBufferBytes is buffered so a retry can send it again; a larger one streams once
  let body: ArrayBuffer | ReadableStream | null = null;
  let replayable = true;
  if (req.body) {
    const len = Number(req.headers.get("content-length") ?? NaN);
    if (Number.isFinite(len) && len <= pool.cfg.replayBufferBytes) body = await req.arrayBuffer();
    else (body = req.body), (replayable = false);
  }
  return exchange(config, pool, req, headers, path, key, env, ctx, startedAt, body, replayable);
}

/** The tries: pick, fetch with the per-try header timeout, retry or redispatch as core's Trip decides. */
async function exchange(
  config: Config,
  pool: EdgePool,
  req: Request,
  headers: Headers,
  path: string,
  key: number,
  env: EdgeEnv,
  ctx: Waiter,
  startedAt: number,
  body: ArrayBuffer | ReadableStream | null,
  replayable: boolean,
): Promise<Response> {
  const cfg = pool.cfg;
  const method = req.method;
  pool.budget.onRequest();
  const deadline = cfg.timeouts.total > 0 ? startedAt + cfg.timeouts.total : Infinity;
  // timeouts.header "0" = no header timeout (as undici's headersTimeout 0 on the Node build);
  // the total deadline, when there is one, still bounds the try
  const headerMs = cfg.timeouts.header > 0 ? cfg.timeouts.header : Infinity;
  // one init for every try (fetch reads it at once)
  const init: RequestInit =
    body === null ? { method, headers, redirect: "manual" } : { method, headers, body, redirect: "manual" };
  // core's Trip decides retries; it is made when the first try fails (a first try that succeeds,
  // the common case, needs no record of the origins tried): `first` is that try's origin until then
  let trip: Trip | null = null;
  let first = -1;
  let last: FailureKind | null = null;
  let lastStatus = 0;
  try {
    for (;;) {
      const now = Date.now();
      let i: number;
      if (trip === null) i = pickOrigin(pool.policy, pool.store.weights(now), pool.inflight, pool.noLimit, NO_ORIGINS, key);
      else {
        const sticky = trip.retryOrigin;
        i = sticky !== -1 ? sticky : pickOrigin(pool.policy, pool.store.weights(now), pool.inflight, pool.noLimit, trip.exclude, key);
      }
      if (i === NONE) {
        if (lastStatus) return count(pool, ourError(lastStatus, `origins answered ${lastStatus}; none left to try`));
        if (last) return count(pool, ourError(FAILURES[last].status, `no origin left to try after ${last}`));
        pool.counters.noOrigin++;
        return count(pool, ourError(503, "Service Unavailable: no origin is available", { "retry-after": String(Math.max(1, Math.ceil(cfg.check.interval / 1000))) }));
      }
      const oc = pool.counters.origins[i];
      if (trip !== null) {
        oc.retries++;
        if (cfg.redispatch && !trip.tried.includes(i)) oc.redispatches++;
        trip.start(i);
      } else first = i;
      oc.tries++;
      pool.inflight[i]++;
      const left = deadline - now;
      const byTotal = left < headerMs;
      const perTry = byTotal ? left : headerMs;
      let res: Response;
      try {
        const sent = fetch(upstreamUrl(cfg.origins[i].url, path), init);
        res = await (perTry === Infinity ? sent : headWithin(sent, Math.max(0, perTry), ctx));
      } catch (e) {
        pool.inflight[i]--;
        const aborted = e === TIMED_OUT;
        // the total deadline came first: the exchange is over, and the origin is not charged (as on Node)
        if (aborted && byTotal) return count(pool, ourError(504, "Gateway Timeout: total deadline reached"));
        const kind = failureOf(e, aborted);
        oc.failures[kind]++;
        pool.outcome(env, ctx, i, FAILURES[kind].outcome);
        last = kind;
        lastStatus = 0;
        trip ??= startTrip(pool, method, replayable, first);
        const d = trip.failed(kind);
        if (!d.retry || Date.now() >= deadline) {
          if (!d.retry && d.reason === "budget") pool.counters.budgetExhausted++;
          return count(pool, ourError(d.retry ? 504 : d.status, `${kind}`));
        }
        if (d.delayMs) await new Promise((r) => setTimeout(r, d.delayMs));
        continue;
      }
      const status = res.status;
      if (mayRetryStatus(status)) {
        trip ??= startTrip(pool, method, replayable, first);
        const d = trip.status(status);
        if (d.retry) {
          pool.inflight[i]--;
          oc.status[5]++;
          await res.body?.cancel();
          pool.outcome(env, ctx, i, "5xx");
          lastStatus = status;
          if (d.delayMs) await new Promise((r) => setTimeout(r, d.delayMs));
          continue;
        }
      }
      // the origin's response goes back as it is unless a hop-by-hop header has to come off
      const drop = dropOnResponse(res.headers);
      let headersOut = res.headers;
      if (drop !== null) {
        headersOut = new Headers(res.headers);
        for (const name of drop) headersOut.delete(name);
      }
      if (res.body && config.edge.watchBodies) {
        const body = pipeBody(res.body, deadline, ctx, (how) => settle(pool, env, ctx, i, status, how));
        return new Response(body, { status, statusText: res.statusText, headers: headersOut });
      }
      // the fast path (default): the body passes through untouched; a break still reaches the
      // client as a cut response, but is not charged to the origin here
      settle(pool, env, ctx, i, status, "done");
      return drop === null ? res : new Response(res.body, { status, statusText: res.statusText, headers: headersOut });
    }
  } finally {
    trip?.end();
    pool.counters.duration.observe((Date.now() - startedAt) / 1000);
  }
}

const NO_ORIGINS: readonly number[] = [];

/** core's Trip for a request whose first try (to `first`) did not end it. */
function startTrip(pool: EdgePool, method: string, replayable: boolean, first: number): Trip {
  const trip = new Trip(pool.cfg, method, replayable, pool.budget, Math.random);
  trip.start(first);
  return trip;
}

/** Core's response rule, knowing what workerd strips itself (worker/wire.ts). */
const dropOnResponse = responseDropper(STRIPPED_ON_WIRE);

/** Cloudflare's own request headers, not forwarded to origins. */
const CF_ONLY: readonly string[] = ["cf-connecting-ip", "cf-ipcountry", "cf-ray", "cf-visitor", "cf-worker", "cdn-loop", "x-real-ip"];

/**
 * As on the Node build, the exchange is counted when the body has ended: a complete response counts
 * its status, a broken one is a body-error against the origin, a client that left counts as such,
 * and the try holds its in-flight slot until then.
 */
function settle(pool: EdgePool, env: EdgeEnv, ctx: Waiter, i: number, status: number, how: BodyEnd): void {
  const oc = pool.counters.origins[i];
  pool.inflight[i]--;
  if (how === "done") {
    pool.outcome(env, ctx, i, status >= 500 ? "5xx" : "success");
    oc.status[(status / 100) | 0]++;
    pool.counters.status[(status / 100) | 0]++;
  } else if (how === "origin") {
    oc.failures["body-error"]++;
    pool.outcome(env, ctx, i, FAILURES["body-error"].outcome);
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
function pipeBody(src: ReadableStream<Uint8Array>, deadline: number, ctx: Waiter, onEnd: (how: BodyEnd) => void): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const signal = deadline === Infinity ? undefined : AbortSignal.timeout(Math.max(0, deadline - Date.now()));
  ctx.waitUntil(
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

/** A client response of this pool, counted by status class. */
export function count(pool: EdgePool, res: Response): Response {
  pool.counters.status[(res.status / 100) | 0]++;
  return res;
}
