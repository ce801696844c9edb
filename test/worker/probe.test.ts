// Facts about the Workers runtime (workerd of @cloudflare/vitest-plugin 1.4.10) that the edge build
// relies on, asserted so that a runtime upgrade that changes them fails here first, with a clear
// name, instead of somewhere deep in a behaviour test. It uses only the "probe" origin.
//
// Findings (workerd 2026-10-23 build, compatibility_date 2026-10-30):
//  a. refused port: fetch() rejects with Error "Network connection lost." (plain Error, not
//     TypeError), e.retryable === true, e.remote === true. Same error as (d).
//  b. accepted, never answered, AbortSignal.timeout(300): rejects after ~300 ms with DOMException
//     name "TimeoutError", message "The operation was aborted due to timeout" (code 23); an
//     AbortController.abort() gives "AbortError" / "The operation was aborted" (code 20). Both carry
//     e.retryable === true. fetch() has no timeout option of its own: bound every try with a signal.
//  c. reset mid-body: fetch() resolves (200, the origin's content-length); reading the body
//     rejects with Error "Network connection lost." (retryable true, no `remote`). Passed through a Worker
//     (`new Response(upstream.body, upstream)`), the client's read rejects with the same error.
//  d. connection closed with no answer: fetch() rejects with Error "Network connection lost."
//     (retryable, remote), exactly like (a), although the origin did receive the request: a
//     Worker cannot tell "never connected" from "sent, then no answer".
//  e. an unresolvable host name: Error "internal error; reference = <random id>" (remote, not retryable).
//  Every failed fetch also makes workerd print "uncaught exception; source = Uncaught (in promise)"
//  and a native stack on stderr, even when the rejection is caught: noise, not a test failure.
//  redirects: followed by default (res.redirected, res.url = the final URL); with
//     redirect: "manual" the 3xx comes back as is (type "default", Location as sent).
//  Host: a Host header set on fetch() is silently dropped; the origin sees the URL's host:port.
//     workerd adds "CF-Worker: <worker name>.example.com" and nothing else (no X-Forwarded-For,
//     no user-agent, no accept-encoding).
//  Requests from tests via exports.default.fetch(url): request.cf is undefined (unless the test
//     passes `cf` in the init), there is no CF-Connecting-IP and no Host header (route by
//     new URL(req.url).host when Host is absent); headers a test sets arrive as set. The handler's
//     env is the same object as `env` from "cloudflare:workers".
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index.ts";
import { deadUrl, origin, spyDurableObjectCalls } from "./helpers.ts";

const probe = origin("probe");

/** What a caught error looks like, as plain data. */
function shape(e: unknown) {
  const x = e as { name?: string; message?: string; retryable?: boolean; remote?: boolean; code?: number };
  return { name: x.name, message: x.message, ctor: (e as object)?.constructor?.name, retryable: x.retryable, remote: x.remote, code: x.code };
}

async function rejection(p: Promise<unknown>): Promise<ReturnType<typeof shape>> {
  try {
    await p;
  } catch (e) {
    return shape(e);
  }
  throw new Error("expected a rejection");
}

afterEach(async () => {
  vi.restoreAllMocks();
  await probe.setMode({ mode: "ok" });
});

describe("workerd fetch failures", () => {
  it("(a) refused port: Error 'Network connection lost.', retryable, remote", async () => {
    const e = await rejection(fetch(`${deadUrl()}/a`));
    expect(e).toMatchObject({ name: "Error", message: "Network connection lost.", ctor: "Error", retryable: true, remote: true });
    // the same with a request body
    const e2 = await rejection(fetch(`${deadUrl()}/a`, { method: "POST", body: "x" }));
    expect(e2).toMatchObject({ name: "Error", message: "Network connection lost." });
  });

  it("(b) accepted, never answered: AbortSignal.timeout -> DOMException TimeoutError after the timeout", async () => {
    await probe.setMode({ mode: "hang" });
    const t0 = Date.now();
    const e = await rejection(fetch(`${probe.url}/b`, { signal: AbortSignal.timeout(300) }));
    const ms = Date.now() - t0;
    expect(e).toMatchObject({ name: "TimeoutError", message: "The operation was aborted due to timeout", ctor: "DOMException", code: 23, retryable: true });
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3000);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e2 = await rejection(fetch(`${probe.url}/b2`, { signal: ac.signal }));
    expect(e2).toMatchObject({ name: "AbortError", message: "The operation was aborted", ctor: "DOMException", code: 20, retryable: true });
  });

  it("(c) reset mid-body: fetch resolves 200; reading the body rejects with 'Network connection lost.'", async () => {
    await probe.setMode({ mode: "reset-mid-body", bytes: 1000 });
    const res = await fetch(`${probe.url}/c`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("100000");
    const e = await rejection(res.text());
    expect(e).toMatchObject({ name: "Error", message: "Network connection lost.", ctor: "Error", retryable: true, remote: undefined });

    // streamed through a Worker as is: the client's read fails the same way
    vi.spyOn(worker, "fetch").mockImplementation(async () => {
      const up = await fetch(`${probe.url}/c2`);
      return new Response(up.body, up);
    });
    const via = await exports.default.fetch("https://edge.example/c");
    expect(via.status).toBe(200);
    const e2 = await rejection(via.text());
    expect(e2).toMatchObject({ name: "Error", message: "Network connection lost." });
  });

  it("(d) connection closed without an answer: same error as a refused port, though the origin got the request", async () => {
    await probe.setMode({ mode: "close" });
    await probe.clearLog();
    const e = await rejection(fetch(`${probe.url}/d`));
    expect(e).toMatchObject({ name: "Error", message: "Network connection lost.", ctor: "Error", retryable: true, remote: true });
    expect((await probe.log()).map((r) => r.url)).toEqual(["/d"]);
  });

  it("(e) unresolvable host name: Error 'internal error; reference = ...'", async () => {
    const e = await rejection(fetch("http://no-such-host.invalid/e"));
    expect(e.name).toBe("Error");
    expect(e.message).toMatch(/^internal error; reference = \w+$/);
    expect(e).toMatchObject({ remote: true, retryable: undefined });
  });
});

describe("workerd fetch behaviour", () => {
  it("follows redirects by default; redirect: 'manual' returns the 3xx as is", async () => {
    await probe.setMode({ mode: "status", status: 302, location: "/landed" });
    const followed = await fetch(`${probe.url}/from`);
    expect(followed.status).toBe(200);
    expect(followed.redirected).toBe(true);
    expect(followed.url).toBe(`${probe.url}/landed`);
    await followed.body?.cancel();

    const manual = await fetch(`${probe.url}/from`, { redirect: "manual" });
    expect(manual.status).toBe(302);
    expect(manual.type).toBe("default");
    expect(manual.redirected).toBe(false);
    expect(manual.headers.get("location")).toBe("/landed");
    expect(await manual.text()).toBe("origin probe\n");
  });

  it("drops a Host header set on fetch: the origin sees the URL's host; adds only CF-Worker", async () => {
    await probe.clearLog();
    await (await fetch(`${probe.url}/host`, { headers: { host: "shop.example.no", "x-request-id": "r1" } })).text();
    await (await fetch(new Request(`${probe.url}/host2`, { headers: { Host: "shop.example.no" } }))).text();
    const log = await probe.log();
    expect(log.map((r) => r.host)).toEqual([`127.0.0.1:${probe.port}`, `127.0.0.1:${probe.port}`]);
    expect(log[0].id).toBe("r1");
    const names = log[0].headers.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    expect(names.sort()).toEqual(["cf-worker", "host", "x-request-id"]);
    // the Headers object itself keeps it; fetch is what drops it
    expect(new Request("http://127.0.0.1/", { headers: { host: "b.example" } }).headers.get("host")).toBe("b.example");
  });
});

describe("requests from tests (exports.default.fetch)", () => {
  it("have no request.cf, no CF-Connecting-IP, no Host header; the handler gets the test's env", async () => {
    const seen: { url: string; cf: unknown; headers: Record<string, string>; sameEnv: boolean; waitUntil: string }[] = [];
    vi.spyOn(worker, "fetch").mockImplementation(async (req: Request, e?: unknown, ctx?: { waitUntil?: unknown }) => {
      seen.push({ url: req.url, cf: req.cf, headers: Object.fromEntries(req.headers), sameEnv: e === env, waitUntil: typeof ctx?.waitUntil });
      return new Response("spied");
    });
    expect(await (await exports.default.fetch("https://edge.example/x?y=1")).text()).toBe("spied");
    await exports.default.fetch("https://edge.example/h", { headers: { host: "shop.example.no", "cf-connecting-ip": "203.0.113.9" } });
    await exports.default.fetch(new Request("https://edge.example/cf", { cf: { country: "NO" } } as RequestInit));
    expect(seen[0]).toEqual({ url: "https://edge.example/x?y=1", cf: undefined, headers: {}, sameEnv: true, waitUntil: "function" });
    expect(seen[1].headers).toEqual({ host: "shop.example.no", "cf-connecting-ip": "203.0.113.9" });
    expect(seen[2].cf).toEqual({ country: "NO" });
  });

  it("Durable Object calls can be counted with spyDurableObjectCalls(env.HEALTH)", async () => {
    const spy = spyDurableObjectCalls(env.HEALTH);
    let err: ReturnType<typeof shape> | undefined;
    vi.spyOn(worker, "fetch").mockImplementation(async (_req: Request, e?: unknown) => {
      // a method HealthObject does not have, so this test does not depend on what it does
      const stub = (e as Env).HEALTH.getByName("probe-pool") as unknown as { noSuchMethod(): Promise<unknown> };
      err = await rejection(stub.noSuchMethod());
      return new Response("ok");
    });
    await exports.default.fetch("https://edge.example/do");
    spy.restore();
    expect(spy.calls).toEqual(["probe-pool.noSuchMethod"]);
    expect(err).toMatchObject({ name: "TypeError", message: 'The RPC receiver does not implement "noSuchMethod".' });
  });
});
