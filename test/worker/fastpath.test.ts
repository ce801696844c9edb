// The edge's per-request shortcuts against the rules they stand for, inside workerd (so `new URL`
// and `Headers` are the runtime's own): the request header rule with its name lists worked out
// once (requestEditor) against core's requestHeaders; req.url split without a URL object
// (plainTarget) against `new URL`; the control-path pre-check (startsLikePrefix) against
// controlTarget.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import { HOP_BY_HOP, requestHeaders, type ClientInfo, type ForwardOptions } from "../../core/proxy/headers.ts";
import { controlTarget } from "../../core/proxy/validate.ts";
import { edgeRequestEditor } from "../../worker/forward.ts";
import { plainTarget, startsLikePrefix } from "../../worker/target.ts";
import { STRIPPED_ON_WIRE } from "../../worker/wire.ts";

const CF_ONLY = ["cf-connecting-ip", "cf-ipcountry", "cf-ray", "cf-visitor", "cf-worker", "cdn-loop", "x-real-ip"];

function editorFor(forwardFor: ForwardOptions) {
  const r = parseConfig({ listen: { port: 8080 }, forwardFor, pools: { web: { origins: [{ name: "a", url: "http://10.0.0.1:80" }] } } });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  expect(r.config.forwardFor).toMatchObject(forwardFor);
  return edgeRequestEditor(r.config);
}

describe("the edge's request header rule (requestEditor with workerd's wire and the CF-* names)", () => {
  const INPUTS: string[][] = [
    ["Host", "shop.example", "Accept", "*/*"],
    ["Host", "h", "Connection", "close", "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive", "TE", "trailers", "Transfer-Encoding", "chunked"],
    ["Host", "h", "Upgrade", "websocket", "Trailer", "Expires", "Proxy-Authorization", "Basic eA==", "Proxy-Authenticate", "Basic"],
    ["Host", "h", "Connection", "x-foo, X-Bar, upgrade, x-forwarded-for", "X-Foo", "1", "x-bar", "2", "X-Baz", "3", "Upgrade", "h2c"],
    ["Host", "h", "Expect", "100-continue", "Content-Length", "3"],
    ["Host", "shop.example", "X-Forwarded-For", "6.6.6.6", "x-forwarded-for", "7.7.7.7", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example", "Forwarded", "for=6.6.6.6"],
    ["Host", "h", "CF-Connecting-IP", "192.0.2.7", "CF-Ray", "r", "CF-IPCountry", "NO", "CF-Visitor", '{"scheme":"https"}', "CDN-Loop", "cloudflare", "X-Real-IP", "1.1.1.1", "CF-Worker", "w"],
    ["Host", "h", "Cookie", "a=1", "Accept", "text/html", "Accept", "application/json"],
  ];
  const CLIENTS = [
    { peer: "192.0.2.7", proto: "http", host: "shop.example" },
    { peer: "2001:db8::1", proto: "https", host: "Shop.Example:8443" },
    { peer: "", proto: "http", host: "h" },
    { peer: "192.0.2.7", proto: "http", host: "" },
  ];
  const asHeaders = (raw: string[]) => {
    const h = new Headers();
    for (let i = 0; i < raw.length; i += 2) h.append(raw[i], raw[i + 1]);
    return h;
  };
  /** What reaches the origin: workerd's fetch drops STRIPPED_ON_WIRE itself (test/workerd/wire-request.test.ts). */
  const onWire = (h: Headers) => [...h].filter(([n]) => !STRIPPED_ON_WIRE.has(n));

  for (const fwd of [{ enabled: false, forwarded: false }, { enabled: true, forwarded: false }, { enabled: true, forwarded: true }]) {
    it(`forwardFor ${JSON.stringify(fwd)}: the origin gets what requestHeaders gives, without the CF-* names`, () => {
      const edit = editorFor(fwd);
      for (const [k, input] of INPUTS.entries()) {
        for (const c of CLIENTS) {
          const h = asHeaders(input);
          edit(h, c);
          const want = asHeaders(requestHeaders(input, { ...c, trusted: false } satisfies ClientInfo, fwd));
          for (const n of CF_ONLY) want.delete(n);
          expect([k, c, onWire(h)]).toEqual([k, c, onWire(want)]);
          for (const n of [...HOP_BY_HOP, ...CF_ONLY]) if (!STRIPPED_ON_WIRE.has(n)) expect([k, n, h.has(n)]).toEqual([k, n, false]);
        }
      }
    });
  }

  it("a Connection header naming Host, Content-Length, Transfer-Encoding or Authorization is refused", () => {
    const edit = editorFor({ enabled: true, forwarded: false });
    for (const name of ["Host", "content-length", "Transfer-Encoding", "authorization"]) {
      expect(() => edit(asHeaders(["Host", "h", "Connection", `keep-alive, ${name}`]), CLIENTS[0])).toThrow(/Connection names/);
    }
  });
});

describe("plainTarget: req.url's path and query without a URL object", () => {
  const viaUrl = (u: string) => {
    const x = new URL(u);
    return x.pathname + x.search;
  };

  it("takes the common targets, and gives what new URL gives", () => {
    for (const u of [
      "http://lb.test/100b",
      "http://127.0.0.1:8080/",
      "https://shop.example/a/b.js?x=1&y=%20z;w&next=/p//q/../r",
      "http://h/a.b/c..d/.e/~f-g_h?",
      "http://h/?",
      "http://h/api/v1/items(3)/*,!$@:=+",
    ]) {
      expect([u, plainTarget(u)]).toEqual([u, viaUrl(u)]);
    }
  });

  it("leaves to new URL what it would change or what is not plain", () => {
    for (const u of [
      "http://h/a/./b",
      "http://h/a/../b",
      "http://h/a/..",
      "http://h/a/.",
      "http://h/a/.?q",
      "http://h//evil.example/x",
      "http://h/%2e%2e/__edgelb/admin",
      "http://h/a\\b",
      "http://h/a;b/../c",
      "http://h/a b",
      'http://h/"q"',
      "http://h/it's",
      "http://h/a?b'c",
      "http://h/a?b c",
      "http://h/ü",
      "http://h/a{b}",
      "http://h/a#frag",
      "http://u@h/a",
      "http://h?x/a",
      "http://h",
      "http:///a",
      "ftp://h/a",
    ]) {
      expect([u, plainTarget(u)]).toEqual([u, null]);
    }
  });

  it("agrees with new URL on every accepted target of a random sample; the control-path pre-check agrees with controlTarget", () => {
    const alphabet = ["/", "/", "/", ".", "..", "a", "B", "_", "-", "~", "%", "%2e", "?", ";", "'", "@", ":", "=", "&", "\\", " ", "e", "d", "g", "l", "b", "_", "__edgelb", "__EDGELB", "%41"];
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    let accepted = 0;
    for (let k = 0; k < 3000; k++) {
      let p = "/";
      for (let n = rnd(8); n > 0; n--) p += alphabet[rnd(alphabet.length)];
      const u = `http://lb.test${p}`;
      let url: URL;
      try {
        url = new URL(u);
      } catch {
        expect(plainTarget(u)).toBeNull();
        continue;
      }
      const t = plainTarget(u);
      if (t === null) continue;
      accepted++;
      expect([u, t]).toEqual([u, url.pathname + url.search]);
      const fast = startsLikePrefix(t, "/__edgelb") ? controlTarget(t, "/__edgelb") : "proxy";
      expect([u, fast]).toEqual([u, controlTarget(url.pathname, "/__edgelb")]);
    }
    // the sample must exercise the fast path, not only the fallback
    expect(accepted).toBeGreaterThan(300);
  });
});
