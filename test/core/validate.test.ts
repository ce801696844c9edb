import { describe, expect, it } from "vitest";
import { controlTarget, headOverflowStatus, MAX_HEADER_FIELDS, validateRequest } from "../../core/proxy/validate.ts";

const head = (rawHeaders: string[], httpVersion = "1.1", method = "GET") => ({ method, httpVersion, rawHeaders });
const H = ["Host", "shop.example"];

describe("validateRequest", () => {
  it.each([
    ["a plain GET", head(H), null],
    ["HTTP/1.0 without Host", head([], "1.0"), null],
    ["Host with a port", head(["Host", "shop.example:8080"]), null],
    ["an IPv6 Host", head(["Host", "[::1]:8080"]), null],
    ["chunked", head([...H, "Transfer-Encoding", "chunked"], "1.1", "POST"), null],
    ["Chunked with OWS", head([...H, "transfer-encoding", " Chunked\t"], "1.1", "POST"), null],
    ["a length", head([...H, "Content-Length", "5"], "1.1", "POST"), null],
    ["no Host on 1.1", head([]), 400],
    ["two Host lines", head([...H, "host", "shop.example"]), 400],
    ["a Host list", head(["Host", "a.example, b.example"]), 400],
    ["Host with userinfo", head(["Host", "u@a.example"]), 400],
    ["Host with a path", head(["Host", "a.example/x"]), 400],
    ["TE on HTTP/1.0", head([...H, "Transfer-Encoding", "chunked"], "1.0", "POST"), 400],
    ["TE + CL", head([...H, "Content-Length", "5", "Transfer-Encoding", "chunked"], "1.1", "POST"), 400],
    ["gzip, chunked", head([...H, "Transfer-Encoding", "gzip, chunked"], "1.1", "POST"), 400],
    ["chunked twice over two lines", head([...H, "Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"], "1.1", "POST"), 400],
    ["two lengths", head([...H, "Content-Length", "5", "Content-Length", "5"], "1.1", "POST"), 400],
    ["a signed length", head([...H, "Content-Length", "+5"], "1.1", "POST"), 400],
    ["CONNECT", head(["Host", "a.example:443"], "1.1", "CONNECT"), 400],
    ["too many fields", head([...H, ...Array.from({ length: MAX_HEADER_FIELDS }, (_, i) => [`X-${i}`, "1"]).flat()]), 431],
  ])("%s", (_name, h, status) => {
    const v = validateRequest(h);
    if (status === null) expect(v).toMatchObject({ ok: true });
    else expect(v).toMatchObject({ ok: false, status });
  });

  it("gives the Host and whether the framing announces a body", () => {
    expect(validateRequest(head(H))).toEqual({ ok: true, host: "shop.example", framedBody: false });
    expect(validateRequest(head([], "1.0"))).toEqual({ ok: true, host: undefined, framedBody: false });
    expect(validateRequest(head([...H, "Content-Length", "0"], "1.1", "POST"))).toEqual({ ok: true, host: "shop.example", framedBody: false });
    expect(validateRequest(head([...H, "Content-Length", "5"], "1.1", "POST"))).toEqual({ ok: true, host: "shop.example", framedBody: true });
    expect(validateRequest(head([...H, "Transfer-Encoding", "chunked"], "1.1", "POST"))).toEqual({ ok: true, host: "shop.example", framedBody: true });
  });
});

describe("headOverflowStatus", () => {
  const b = (s: string) => new TextEncoder().encode(s);
  it("414 while the request line is open, 431 once it ended or when the packet does not start a request", () => {
    expect(headOverflowStatus(b(`GET /${"a".repeat(100)}`), 80)).toBe(414);
    expect(headOverflowStatus(b(`GET /a HTTP/1.1\r\nX: ${"b".repeat(100)}`), 90)).toBe(431);
    expect(headOverflowStatus(b("a".repeat(100)), 90)).toBe(431);
    expect(headOverflowStatus(b(""), 0)).toBe(431);
  });
});

describe("controlTarget", () => {
  it.each([
    ["/__edgelb", "control"],
    ["/__edgelb?x=1", "control"],
    ["/__edgelb/stats?format=json", "control"],
    ["/__edgelb/admin/webfarm/web01/drain", "control"],
    ["/index.php", "proxy"],
    ["/__edgelbx/admin", "proxy"],
    ["/shop/__edgelb/admin", "proxy"],
    ["/a/../b.css", "proxy"],
    ["/%7Euser/", "proxy"],
    ["//evil.example/x", "proxy"],
    ["//__edgelb/admin", "lookalike"],
    ["/__EDGELB/admin", "lookalike"],
    ["/__edgelb//admin", "lookalike"],
    ["/__edgelb/./admin", "lookalike"],
    ["/__edgelb/../__edgelb/admin", "lookalike"],
    ["/x/../__edgelb/admin", "lookalike"],
    ["/%2e%2e/__edgelb/admin", "lookalike"],
    ["/%252e%252e/__edgelb/admin", "lookalike"],
    ["/__edgelb/%61dmin", "lookalike"],
    ["/__edgelb%2fadmin", "lookalike"],
    ["/__edgelb;x/admin", "lookalike"],
    ["/__edgelb\\admin", "lookalike"],
    ["http://shop.example/__edgelb/stats", "lookalike"],
    ["http://shop.example/index.php", "proxy"],
  ])("%s -> %s", (target, want) => {
    expect(controlTarget(target, "/__edgelb")).toBe(want);
  });
});
