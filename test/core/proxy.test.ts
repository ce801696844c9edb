import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import type { PoolConfig } from "../../core/config/schema.ts";
import {
  CONNECTION_FORBIDDEN,
  HOP_BY_HOP,
  HeaderError,
  editRequestHeaders,
  responseDropper,
  isTrusted,
  requestHeaders,
  responseHeaders,
  type ClientInfo,
  type ForwardOptions,
} from "../../core/proxy/headers.ts";
import { FAILURES, RetryBudget, Trip, backoffMs, type FailureKind, type RetryDecision } from "../../core/proxy/retry.ts";
import { upstreamTarget, upstreamUrl } from "../../core/proxy/target.ts";

function poolCfg(extra: Record<string, unknown> = {}): PoolConfig {
  const r = parseConfig({ listen: { port: 8080 }, pools: { web: { origins: [{ name: "a", url: "http://10.0.0.1:80" }], ...extra } } });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.pools.web;
}

/* ------------------------------------------------------------------------------------------ */
/* headers.ts                                                                                   */
/* ------------------------------------------------------------------------------------------ */

const OFF: ForwardOptions = { enabled: false, forwarded: false };
const XFF: ForwardOptions = { enabled: true, forwarded: false };
const ALL: ForwardOptions = { enabled: true, forwarded: true };
const client = (c: Partial<ClientInfo> = {}): ClientInfo => ({ peer: "192.0.2.7", proto: "http", host: "shop.example", trusted: false, ...c });

/** Every hop-by-hop header in RFC 9110 §7.6.1 (and RFC 9112), in odd cases. */
const HOP = [
  "Connection", "close",
  "Keep-Alive", "timeout=5",
  "Proxy-Connection", "keep-alive",
  "TE", "trailers",
  "Transfer-Encoding", "chunked",
  "Upgrade", "websocket",
  "Trailer", "Expires",
  "Proxy-Authorization", "Basic Zm9vOmJhcg==",
  "Proxy-Authenticate", "Basic",
];

describe("hop-by-hop headers", () => {
  it("the list covers RFC 9110 §7.6.1", () => {
    for (const h of ["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade"]) expect(HOP_BY_HOP.has(h)).toBe(true);
    expect(HOP_BY_HOP.has("host")).toBe(false);
    expect(HOP_BY_HOP.has("content-length")).toBe(false);
  });

  it("are removed from requests, everything else kept in order", () => {
    const raw = ["Host", "shop.example", ...HOP, "Accept", "*/*", "Content-Length", "3"];
    expect(requestHeaders(raw, client(), OFF)).toEqual(["Host", "shop.example", "Accept", "*/*", "Content-Length", "3"]);
  });

  it("are removed from responses, everything else kept in order", () => {
    const raw = ["Content-Type", "text/html", ...HOP, "Content-Length", "10"];
    expect(responseHeaders(raw)).toEqual(["Content-Type", "text/html", "Content-Length", "10"]);
  });

  it("headers named in Connection are removed (every Connection header, any case, with spaces)", () => {
    const raw = ["Host", "h", "Connection", "keep-alive, X-Foo ,", "X-Foo", "1", "x-bar", "2", "connection", "X-BAR", "X-Baz", "3", "x-foo", "4"];
    expect(requestHeaders(raw, client(), OFF)).toEqual(["Host", "h", "X-Baz", "3"]);
    expect(responseHeaders(raw)).toEqual(["Host", "h", "X-Baz", "3"]);
  });

  it("a response's Connection-listed header is removed (e.g. a cache tag meant for the hop)", () => {
    expect(responseHeaders(["Connection", "x-cache", "X-Cache", "HIT", "Set-Cookie", "a=1", "Set-Cookie", "b=2"])).toEqual([
      "Set-Cookie", "a=1", "Set-Cookie", "b=2",
    ]);
  });

  it.each([
    ["host"],
    ["Content-Length"],
    ["transfer-encoding"],
    ["Authorization"],
    ["close, Host"],
    ["keep-alive, AUTHORIZATION"],
  ])("Connection: %s -> HeaderError 400", (value) => {
    const raw = ["Host", "h", "Connection", value, "Authorization", "Bearer x", "Content-Length", "0"];
    let err: unknown;
    try {
      requestHeaders(raw, client(), XFF);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeaderError);
    expect((err as HeaderError).status).toBe(400);
    expect((err as HeaderError).message).toBe(`Connection names ${value.split(",").pop()!.trim().toLowerCase()}`);
    expect(CONNECTION_FORBIDDEN.size).toBe(4);
  });

  it("Host passes through unchanged and duplicates are preserved in order", () => {
    const raw = ["host", "Shop.Example:8080", "Cookie", "a=1", "Accept", "text/html", "Cookie", "b=2", "Accept", "*/*"];
    expect(requestHeaders(raw, client({ host: "Shop.Example:8080" }), OFF)).toEqual(raw);
  });
});

describe("headers the proxy consumes", () => {
  it("drops Expect: the runtime answers 100 Continue itself and sends the body without asking", () => {
    const raw = ["Host", "h", "Expect", "100-continue", "Content-Length", "70000"];
    expect(requestHeaders(raw, client(), OFF)).toEqual(["Host", "h", "Content-Length", "70000"]);
  });
});

describe("X-Forwarded-* and Forwarded", () => {
  const spoof = [
    "Host", "shop.example",
    "X-Forwarded-For", "6.6.6.6",
    "x-forwarded-for", "7.7.7.7",
    "X-Forwarded-Proto", "https",
    "X-Forwarded-Host", "evil.example",
    "Forwarded", "for=6.6.6.6",
    "Accept", "*/*",
  ];

  it("an untrusted client's copies are discarded; ours come from the socket", () => {
    expect(requestHeaders(spoof, client(), XFF)).toEqual([
      "Host", "shop.example",
      "Accept", "*/*",
      "x-forwarded-for", "192.0.2.7",
      "x-forwarded-proto", "http",
      "x-forwarded-host", "shop.example",
    ]);
  });

  it("with Forwarded on, an untrusted client's Forwarded is replaced by ours", () => {
    expect(requestHeaders(spoof, client({ proto: "https" }), ALL)).toEqual([
      "Host", "shop.example",
      "Accept", "*/*",
      "x-forwarded-for", "192.0.2.7",
      "x-forwarded-proto", "https",
      "x-forwarded-host", "shop.example",
      "forwarded", "for=192.0.2.7;proto=https;host=shop.example",
    ]);
  });

  it("a trusted peer's copies are kept and extended (XFF appended, first proto/host kept)", () => {
    expect(requestHeaders(spoof, client({ peer: "10.1.1.1", trusted: true }), ALL)).toEqual([
      "Host", "shop.example",
      "Accept", "*/*",
      "x-forwarded-for", "6.6.6.6, 7.7.7.7, 10.1.1.1",
      "x-forwarded-proto", "https",
      "x-forwarded-host", "evil.example",
      "forwarded", "for=6.6.6.6, for=10.1.1.1;proto=http;host=shop.example",
    ]);
  });

  it("a trusted peer's Forwarded stays as sent when we add none of our own", () => {
    expect(requestHeaders(spoof, client({ peer: "10.1.1.1", trusted: true }), XFF)).toEqual([
      "Host", "shop.example",
      "Accept", "*/*",
      "x-forwarded-for", "6.6.6.6, 7.7.7.7, 10.1.1.1",
      "x-forwarded-proto", "https",
      "x-forwarded-host", "evil.example",
      "forwarded", "for=6.6.6.6",
    ]);
  });

  it("a trusted peer without headers of its own gets ours", () => {
    expect(requestHeaders(["Host", "h"], client({ peer: "10.1.1.1", trusted: true, host: "h" }), XFF)).toEqual([
      "Host", "h", "x-forwarded-for", "10.1.1.1", "x-forwarded-proto", "http", "x-forwarded-host", "h",
    ]);
  });

  it("forwarding disabled: the client's headers pass through untouched, none added", () => {
    expect(requestHeaders(spoof, client(), OFF)).toEqual(spoof);
  });

  it.each([
    ["2001:db8::1", "shop.example", "for=\"[2001:db8::1]\";proto=http;host=shop.example", "2001:db8::1"],
    ["::ffff:192.0.2.1", "shop.example", "for=\"[::ffff:192.0.2.1]\";proto=http;host=shop.example", "::ffff:192.0.2.1"],
    ["192.0.2.1", "shop.example:8080", "for=192.0.2.1;proto=http;host=\"shop.example:8080\"", "192.0.2.1"],
    ["192.0.2.1", "", "for=192.0.2.1;proto=http", "192.0.2.1"],
    ["", "h", "for=unknown;proto=http;host=h", "unknown"],
  ])("peer %s host %s -> Forwarded %s, XFF %s", (peer, host, fwd, xff) => {
    const out = requestHeaders([], client({ peer, host }), ALL);
    const get = (n: string) => out.filter((_, i) => i % 2 === 1 && out[i - 1] === n);
    expect(get("forwarded")).toEqual([fwd]);
    expect(get("x-forwarded-for")).toEqual([xff]);
    expect(get("x-forwarded-host")).toEqual(host ? [host] : []);
  });
});

describe("isTrusted", () => {
  it.each([
    ["10.0.0.1", ["10.0.0.1"], true],
    ["::ffff:10.0.0.1", ["10.0.0.1"], true],
    ["10.0.0.1", ["::ffff:10.0.0.1"], true],
    ["::FFFF:10.0.0.1", ["10.0.0.1"], true],
    ["2001:db8::1", ["2001:DB8::1"], true],
    ["::1", ["::1"], true],
    ["10.0.0.2", ["10.0.0.1"], false],
    ["10.0.0.10", ["10.0.0.1"], false],
    ["::ffff:10.0.0.2", ["10.0.0.1"], false],
    ["10.0.0.1", [], false],
    ["", [""], false],
  ] as const)("%s in %j -> %s", (peer, list, want) => {
    expect(isTrusted(peer, list)).toBe(want);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* target.ts                                                                                    */
/* ------------------------------------------------------------------------------------------ */

describe("upstreamTarget", () => {
  it.each([
    ["/", "/"],
    ["/a/b?x=1&y=%20", "/a/b?x=1&y=%20"],
    ["//evil/x", "//evil/x"],
    ["/a/../b", "/a/../b"],
    ["/%2e%2e/etc/passwd", "/%2e%2e/etc/passwd"],
    ["/a\\b", "/a\\b"],
    ["/?", "/?"],
    ["http://shop.example/a?b", "/a?b"],
    ["HTTP://SHOP.EXAMPLE/a", "/a"],
    ["https://shop.example", "/"],
    ["http://shop.example?q=1", "/?q=1"],
    ["http://shop.example//evil/x", "//evil/x"],
  ])("%s -> path %s (Host shop.example)", (target, path) => {
    expect(upstreamTarget(target, "shop.example")).toEqual({ ok: true, path });
  });

  it.each([
    ["", "empty request-target"],
    ["*", "request-target must be origin-form"],
    ["shop.example:443", "request-target must be origin-form"],
    ["evil.example:443", "request-target must be origin-form"],
    ["a/b", "request-target must be origin-form"],
    ["ftp://shop.example/", "request-target must be origin-form"],
    ["http://evil.example/x", "absolute-form authority differs from Host"],
    ["http://shop.example:8080/x", "absolute-form authority differs from Host"],
    ["http://user:pw@shop.example/x", "userinfo in request-target"],
    ["http://shop.example@evil.example/x", "userinfo in request-target"],
    ["http:///x", "absolute-form without a host"],
    ["http://shop.example/x#frag", "request-target must be origin-form"],
    ["/x#frag", "request-target has a character not allowed"],
    ["/a b", "request-target has a character not allowed"],
    ["/a\tb", "request-target has a character not allowed"],
    ["/a\r\nHost: evil", "request-target has a character not allowed"],
    ["/a\u0000", "request-target has a character not allowed"],
    ["/a\u007f", "request-target has a character not allowed"],
    ["/caf\u00e9", "request-target has a character not allowed"],
    ["http://shop.example/a b", "request-target has a character not allowed"],
  ])("%j -> 400 %s", (target, reason) => {
    expect(upstreamTarget(target, "shop.example")).toEqual({ ok: false, status: 400, reason });
  });

  it("an empty Host never matches an absolute-form authority", () => {
    expect(upstreamTarget("http:///x", "")).toEqual({ ok: false, status: 400, reason: "absolute-form without a host" });
  });
});

describe("upstreamUrl", () => {
  it.each([
    ["//evil/x", "http://127.0.0.1:9101//evil/x"],
    ["/a/b?c", "http://127.0.0.1:9101/a/b?c"],
    ["/\\evil.example/x", "http://127.0.0.1:9101/\\evil.example/x"],
    ["@evil.example/x", "http://127.0.0.1:9101/@evil.example/x"],
    [".evil.example/x", "http://127.0.0.1:9101/.evil.example/x"],
  ])("%s stays on the origin", (path, url) => {
    expect(upstreamUrl("http://127.0.0.1:9101", path)).toBe(url);
    expect(new URL(upstreamUrl("http://127.0.0.1:9101", path)).host).toBe("127.0.0.1:9101");
  });
});

/* ------------------------------------------------------------------------------------------ */
/* retry.ts                                                                                     */
/* ------------------------------------------------------------------------------------------ */

const half = () => 0.5;
const roomy = () => new RetryBudget({ percent: 100, minConcurrent: 1000 });

describe("FAILURES", () => {
  it("classifies every failure kind", () => {
    expect(Object.fromEntries(Object.entries(FAILURES).map(([k, r]) => [k, [r.sent, r.retryOn, r.outcome, r.status]]))).toEqual({
      "connect-refused": [false, "conn-failure", "refused", 503],
      "connect-timeout": [false, "conn-failure", "timeout", 503],
      "connect-error": [false, "conn-failure", "refused", 503],
      "empty-response": [true, "empty-response", "reset", 502],
      "header-timeout": [true, "response-timeout", "timeout", 504],
      "bad-response": [true, null, "5xx", 502],
      "body-error": [true, null, "reset", 502],
    });
  });
});

describe("backoffMs", () => {
  it.each([
    [1, 0.5, 25],
    [2, 0.5, 50],
    [3, 0.5, 100],
    [5, 0.5, 400],
    [6, 0.5, 500],
    [10, 0.999, 999],
    [1, 0, 0],
  ])("retry %i rand %f -> %i ms", (n, r, ms) => {
    expect(backoffMs(n, () => r)).toBe(ms);
  });
});

describe("Trip.failed: failure x method x replayable x retries so far x redispatch x retryOn", () => {
  type Row = [
    kind: FailureKind,
    method: string,
    replayable: boolean,
    before: number,
    redispatch: boolean,
    extra: Record<string, unknown>,
    want: RetryDecision,
  ];
  const R0: RetryDecision = { retry: true, delayMs: 0, redispatch: true };
  const stop = (status: number, reason: Extract<RetryDecision, { retry: false }>["reason"]): RetryDecision => ({ retry: false, status, reason });
  const rows: Row[] = [
    // not sent: any method, POST included
    ["connect-refused", "GET", true, 0, true, {}, R0],
    ["connect-refused", "POST", true, 0, true, {}, R0],
    ["connect-timeout", "POST", true, 0, true, {}, R0],
    ["connect-error", "PATCH", true, 0, true, {}, R0],
    ["connect-refused", "DELETE", true, 2, true, {}, R0],
    // a body that cannot be replayed: never
    ["connect-refused", "POST", false, 0, true, {}, stop(503, "body")],
    ["connect-refused", "GET", false, 0, true, {}, stop(503, "body")],
    ["empty-response", "GET", false, 0, true, {}, stop(502, "body")],
    // sent: only the retry methods
    ["empty-response", "GET", true, 0, true, {}, R0],
    ["empty-response", "HEAD", true, 0, true, {}, R0],
    ["header-timeout", "OPTIONS", true, 0, true, {}, R0],
    ["empty-response", "POST", true, 0, true, {}, stop(502, "method")],
    ["header-timeout", "POST", true, 0, true, {}, stop(504, "method")],
    ["empty-response", "PUT", true, 0, true, {}, stop(502, "method")],
    ["header-timeout", "DELETE", true, 0, true, {}, stop(504, "method")],
    ["empty-response", "PUT", true, 0, true, { retryMethods: ["GET", "PUT"] }, R0],
    ["header-timeout", "DELETE", true, 0, true, { retryMethods: ["DELETE"] }, R0],
    ["header-timeout", "GET", true, 0, true, { retryMethods: ["DELETE"] }, stop(504, "method")],
    // never retried kinds
    ["bad-response", "GET", true, 0, true, {}, stop(502, "not-retryable")],
    ["body-error", "GET", true, 0, true, {}, stop(502, "not-retryable")],
    // retryOn gates each kind
    ["connect-refused", "GET", true, 0, true, { retryOn: [] }, stop(503, "not-retryable")],
    ["empty-response", "GET", true, 0, true, { retryOn: ["conn-failure"] }, stop(502, "not-retryable")],
    ["header-timeout", "GET", true, 0, true, { retryOn: ["conn-failure", "empty-response"] }, stop(504, "not-retryable")],
    ["header-timeout", "GET", true, 0, true, { retryOn: ["response-timeout"] }, R0],
    ["bad-response", "GET", true, 0, true, { retryOn: ["conn-failure", "empty-response", "response-timeout", "502", "503", "504"] }, stop(502, "not-retryable")],
    // capped at cfg.retries
    ["connect-refused", "GET", true, 2, true, {}, R0],
    ["connect-refused", "GET", true, 3, true, {}, stop(503, "exhausted")],
    ["connect-timeout", "POST", true, 1, true, { retries: 1 }, stop(503, "exhausted")],
    ["connect-refused", "GET", true, 0, true, { retries: 0 }, stop(503, "exhausted")],
    ["header-timeout", "GET", true, 3, true, {}, stop(504, "exhausted")],
    // redispatch off: same origin after a jittered backoff (rand 0.5)
    ["connect-refused", "GET", true, 0, false, {}, { retry: true, delayMs: 25, redispatch: false }],
    ["connect-refused", "POST", true, 1, false, {}, { retry: true, delayMs: 50, redispatch: false }],
    ["empty-response", "GET", true, 2, false, {}, { retry: true, delayMs: 100, redispatch: false }],
    ["empty-response", "GET", true, 3, false, {}, stop(502, "exhausted")],
  ];

  it.each(rows)("%s %s replayable=%s after %i retries, redispatch=%s, %j", (kind, method, replayable, before, redispatch, extra, want) => {
    const cfg = poolCfg({ redispatch, ...extra });
    const trip = new Trip(cfg, method, replayable, roomy(), half);
    trip.start(0);
    for (let i = 0; i < before; i++) {
      expect(trip.failed("connect-refused").retry).toBe(true);
      trip.start(i + 1);
    }
    expect(trip.failed(kind)).toEqual(want);
    expect(trip.retries).toBe(before + (want.retry ? 1 : 0));
    expect(trip.redispatches).toBe(redispatch ? trip.retries : 0);
  });

  it.each(["connect-refused", "empty-response", "header-timeout", "body-error", "bad-response"] as const)(
    "%s once the response has started: never retried",
    (kind) => {
      const trip = new Trip(poolCfg(), "GET", true, roomy(), half);
      trip.start(0);
      expect(trip.failed(kind, true)).toEqual({ retry: false, status: FAILURES[kind].status, reason: "response-started" });
      expect(trip.retries).toBe(0);
    },
  );
});

describe("Trip.status: retried only when retryOn lists the status", () => {
  it.each([
    [503, "GET", true, [], { retry: false, status: 503, reason: "not-retryable" }],
    [503, "GET", true, ["503"], { retry: true, delayMs: 0, redispatch: true }],
    [502, "GET", true, ["502"], { retry: true, delayMs: 0, redispatch: true }],
    [504, "HEAD", true, ["504"], { retry: true, delayMs: 0, redispatch: true }],
    [503, "GET", true, ["502", "504"], { retry: false, status: 503, reason: "not-retryable" }],
    [500, "GET", true, ["502", "503", "504"], { retry: false, status: 500, reason: "not-retryable" }],
    [501, "GET", true, ["502", "503", "504"], { retry: false, status: 501, reason: "not-retryable" }],
    [505, "GET", true, ["502", "503", "504"], { retry: false, status: 505, reason: "not-retryable" }],
    [200, "GET", true, ["502", "503", "504"], { retry: false, status: 200, reason: "not-retryable" }],
    [503, "POST", true, ["503"], { retry: false, status: 503, reason: "method" }],
    [503, "GET", false, ["503"], { retry: false, status: 503, reason: "body" }],
  ] as const)("%i %s replayable=%s retryOn %j", (code, method, replayable, retryOn, want) => {
    const trip = new Trip(poolCfg({ retryOn: [...retryOn] }), method, replayable, roomy(), half);
    trip.start(0);
    expect(trip.status(code)).toEqual(want);
  });

  it("status retries count against cfg.retries", () => {
    const trip = new Trip(poolCfg({ retryOn: ["503"], retries: 2 }), "GET", true, roomy(), half);
    trip.start(0);
    expect(trip.status(503).retry).toBe(true);
    trip.start(1);
    expect(trip.status(503).retry).toBe(true);
    trip.start(2);
    expect(trip.status(503)).toEqual({ retry: false, status: 503, reason: "exhausted" });
  });
});

describe("Trip.exclude and current", () => {
  it("with redispatch on, excludes every origin tried, in order", () => {
    const trip = new Trip(poolCfg(), "GET", true, roomy(), half);
    expect(trip.current).toBe(-1);
    expect(trip.exclude).toEqual([]);
    trip.start(2);
    trip.failed("connect-refused");
    expect(trip.exclude).toEqual([2]);
    trip.start(0);
    trip.failed("connect-timeout");
    expect(trip.exclude).toEqual([2, 0]);
    expect(trip.current).toBe(0);
    expect(trip.tried).toEqual([2, 0]);
  });

  it("with redispatch off, excludes nothing", () => {
    const trip = new Trip(poolCfg({ redispatch: false }), "GET", true, roomy(), half);
    trip.start(1);
    trip.failed("connect-refused");
    expect(trip.exclude).toEqual([]);
    expect(trip.current).toBe(1);
  });
});

describe("RetryBudget", () => {
  it("starts with percent credits, each retry spends one; then only minConcurrent at once", () => {
    const b = new RetryBudget({ percent: 2, minConcurrent: 1 });
    expect(b.credit).toBe(2);
    expect([b.tryAcquire(false), b.tryAcquire(false)]).toEqual([true, true]);
    expect(b.credit).toBe(0);
    expect(b.retrying).toBe(2);
    // no credit left and 2 >= minConcurrent in flight
    expect(b.tryAcquire(false)).toBe(false);
    b.release();
    b.release();
    expect(b.retrying).toBe(0);
    // under minConcurrent: allowed without credit
    expect(b.tryAcquire(false)).toBe(true);
    expect(b.tryAcquire(false)).toBe(false);
    expect(b.credit).toBe(0);
  });

  it("earns percent/100 of a retry per request, exactly (no float drift)", () => {
    const b = new RetryBudget({ percent: 10, minConcurrent: 0 });
    for (let i = 0; i < 10; i++) expect(b.tryAcquire(false)).toBe(true);
    expect(b.tryAcquire(false)).toBe(false);
    for (let i = 0; i < 9; i++) b.onRequest();
    expect(b.tryAcquire(false)).toBe(false);
    b.onRequest();
    expect(b.credit).toBe(1);
    expect(b.tryAcquire(false)).toBe(true);
    expect(b.tryAcquire(false)).toBe(false);
  });

  it("the credit is capped", () => {
    const b = new RetryBudget({ percent: 30, minConcurrent: 0 }, 31);
    for (let i = 0; i < 100; i++) b.onRequest();
    expect(b.credit).toBe(31);
  });

  it("a request already retrying does not take a second concurrency slot", () => {
    const b = new RetryBudget({ percent: 0, minConcurrent: 1 });
    expect(b.tryAcquire(false)).toBe(true);
    expect(b.tryAcquire(true)).toBe(true);
    expect(b.retrying).toBe(1);
    expect(b.tryAcquire(false)).toBe(false);
  });

  it("release never goes below zero", () => {
    const b = new RetryBudget({ percent: 0, minConcurrent: 1 });
    b.release();
    expect(b.retrying).toBe(0);
    expect(b.tryAcquire(false)).toBe(true);
    expect(b.tryAcquire(false)).toBe(false);
  });

  it("Trip: refused by the budget -> 'budget'; Trip.end releases its slot (once)", () => {
    const budget = new RetryBudget({ percent: 0, minConcurrent: 1 });
    const cfg = poolCfg();
    const a = new Trip(cfg, "GET", true, budget, half);
    const b = new Trip(cfg, "GET", true, budget, half);
    const c = new Trip(cfg, "GET", true, budget, half);
    a.start(0);
    b.start(0);
    c.start(0);
    expect(a.failed("connect-refused").retry).toBe(true);
    expect(budget.retrying).toBe(1);
    expect(b.failed("connect-refused")).toEqual({ retry: false, status: 503, reason: "budget" });
    // the holder may retry again without a second slot
    a.start(1);
    expect(a.failed("connect-refused").retry).toBe(true);
    expect(budget.retrying).toBe(1);
    a.end();
    a.end();
    b.end();
    expect(budget.retrying).toBe(0);
    expect(c.failed("connect-refused").retry).toBe(true);
    expect(budget.retrying).toBe(1);
    expect(new Trip(cfg, "GET", true, budget, half).failed("connect-refused")).toEqual({ retry: false, status: 503, reason: "budget" });
  });

  it("a trip that never retried releases nothing", () => {
    const budget = new RetryBudget({ percent: 0, minConcurrent: 1 });
    const cfg = poolCfg();
    const a = new Trip(cfg, "GET", true, budget, half);
    const b = new Trip(cfg, "GET", true, budget, half);
    a.start(0);
    b.start(0);
    expect(a.failed("connect-refused").retry).toBe(true);
    b.end();
    expect(budget.retrying).toBe(1);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* the same rules on a Web Headers (the edge)                                                    */
/* ------------------------------------------------------------------------------------------ */

describe("editRequestHeaders / responseDropper (Web Headers, the edge)", () => {
  /** Request header lists to run through both implementations: they must agree on every one. */
  const INPUTS: string[][] = [
    ["Host", "shop.example", "Accept", "*/*"],
    ["Host", "h", ...HOP],
    ["Host", "h", "Connection", "x-foo, X-Bar", "X-Foo", "1", "x-bar", "2", "X-Baz", "3"],
    ["Host", "h", "Expect", "100-continue", "Content-Length", "3"],
    ["Host", "shop.example", "X-Forwarded-For", "6.6.6.6", "x-forwarded-for", "7.7.7.7", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example", "Forwarded", "for=6.6.6.6", "Accept", "*/*"],
    ["Host", "h", "Cookie", "a=1", "Accept", "text/html", "Accept", "application/json"],
  ];
  const CLIENTS = [client(), client({ proto: "https", host: "Shop.Example:8443" }), client({ peer: "2001:db8::1" }), client({ peer: "" }), client({ host: "" })];

  /** requestHeaders' output as a Web Headers would hold it (names lower-cased, repeats joined). */
  const asHeaders = (raw: string[]) => {
    const h = new Headers();
    for (let i = 0; i < raw.length; i += 2) h.append(raw[i], raw[i + 1]);
    return [...h];
  };

  for (const [k, input] of INPUTS.entries()) {
    for (const fwd of [OFF, XFF, ALL]) {
      it(`input ${k}, forwardFor ${JSON.stringify(fwd)}: the same headers as requestHeaders`, () => {
        for (const c of CLIENTS) {
          const h = asHeaders(input);
          const edited = new Headers(h);
          editRequestHeaders(edited, c, fwd);
          expect([...edited]).toEqual(asHeaders(requestHeaders(input, c, fwd)));
        }
      });
    }
  }

  it("Connection naming Host, Content-Length, Transfer-Encoding or Authorization throws HeaderError, as requestHeaders does", () => {
    for (const name of CONNECTION_FORBIDDEN) {
      const raw = ["Host", "h", "Connection", `keep-alive, ${name.toUpperCase()}`];
      expect(() => requestHeaders(raw, client(), XFF)).toThrow(HeaderError);
      expect(() => editRequestHeaders(new Headers(asHeaders(raw)), client(), XFF)).toThrow(HeaderError);
    }
  });

  const WIRE = new Set(["connection", "keep-alive", "te", "trailer", "upgrade", "transfer-encoding"]);
  const responseHeadersToDrop = (h: Headers, wire: ReadonlySet<string>) => responseDropper(wire)(h);
  it("a response whose only hop-by-hop headers are ones the runtime strips on the wire needs no copy", () => {
    expect(responseHeadersToDrop(new Headers([["content-type", "text/html"]]), WIRE)).toBeNull();
    expect(responseHeadersToDrop(new Headers([["connection", "keep-alive"], ["keep-alive", "timeout=5"]]), WIRE)).toBeNull();
    // the same without a runtime that strips anything: everything hop-by-hop must come off
    expect(responseHeadersToDrop(new Headers([["connection", "keep-alive"], ["keep-alive", "timeout=5"]]), new Set())).toEqual(["connection", "keep-alive"]);
  });

  it("Proxy-* or a Connection-listed header forces the copy, and then every hop-by-hop header present is dropped", () => {
    const h = new Headers([["connection", "x-secret"], ["x-secret", "1"], ["keep-alive", "timeout=7"], ["proxy-authenticate", "Basic"], ["x-kept", "yes"]]);
    const drop = responseHeadersToDrop(h, WIRE)!;
    expect(drop.sort()).toEqual(["connection", "keep-alive", "proxy-authenticate", "x-secret"]);
    // the names dropped are exactly those responseHeaders leaves out
    const kept = [...h].filter(([n]) => !drop.includes(n)).flat();
    expect(kept).toEqual(responseHeaders([...h].flat()));
    expect(responseHeadersToDrop(new Headers([["proxy-connection", "keep-alive"]]), WIRE)).toEqual(["proxy-connection"]);
  });
});
