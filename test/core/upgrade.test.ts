import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import { HeaderError } from "../../core/proxy/headers.ts";
import { RetryBudget, Trip, type FailureKind } from "../../core/proxy/retry.ts";
import { acceptsTunnel, isWebSocketUpgrade, switchingHeaders, tunnelFailed, upgradeRequestHeaders } from "../../core/proxy/upgrade.ts";

const client = { peer: "192.0.2.7", proto: "https", host: "shop.example", trusted: false };
const fwd = { enabled: true, forwarded: false };

describe("isWebSocketUpgrade", () => {
  it("needs websocket in Upgrade and upgrade in Connection, tokens in any case and order", () => {
    expect(isWebSocketUpgrade("websocket", "Upgrade")).toBe(true);
    expect(isWebSocketUpgrade("WebSocket", "keep-alive, Upgrade")).toBe(true);
    expect(isWebSocketUpgrade("foo, websocket/13", "upgrade")).toBe(true);
    expect(isWebSocketUpgrade("h2c", "Upgrade, HTTP2-Settings")).toBe(false);
    expect(isWebSocketUpgrade("websocket", "keep-alive")).toBe(false);
    expect(isWebSocketUpgrade("websocket", undefined)).toBe(false);
    expect(isWebSocketUpgrade(undefined, "upgrade")).toBe(false);
    expect(isWebSocketUpgrade("websocketx", "upgrade")).toBe(false);
    expect(isWebSocketUpgrade("websocket", "upgradex")).toBe(false);
  });
});

describe("upgradeRequestHeaders", () => {
  const raw = ["Host", "shop.example", "Upgrade", "websocket", "Connection", "keep-alive, Upgrade", "Keep-Alive", "timeout=5", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13", "X-Forwarded-For", "6.6.6.6"];

  it("the rules of any request, then Connection: upgrade and the client's Upgrade put back", () => {
    expect(upgradeRequestHeaders(raw, client, fwd)).toEqual([
      "Host", "shop.example",
      "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version", "13",
      "x-forwarded-for", "192.0.2.7",
      "x-forwarded-proto", "https",
      "x-forwarded-host", "shop.example",
      "connection", "upgrade",
      "upgrade", "websocket",
    ]);
  });

  it("refuses a Connection naming Host like any request", () => {
    expect(() => upgradeRequestHeaders(["Host", "a", "Upgrade", "websocket", "Connection", "Upgrade, Host"], client, fwd)).toThrow(HeaderError);
  });
});

describe("the origin's 101", () => {
  it("opens a tunnel only when it switches to websocket", () => {
    expect(acceptsTunnel(101, ["Upgrade", "websocket", "Connection", "Upgrade"])).toBe(true);
    expect(acceptsTunnel(101, ["Upgrade", "h2c"])).toBe(false);
    expect(acceptsTunnel(101, [])).toBe(false);
    expect(acceptsTunnel(200, ["Upgrade", "websocket"])).toBe(false);
  });

  it("keeps Upgrade and Sec-WebSocket-*, drops other hop-by-hop and Connection-listed headers, sets Connection: upgrade once", () => {
    const raw = [
      "Upgrade", "websocket",
      "Connection", "Upgrade, X-Internal, Sec-WebSocket-Accept",
      "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "Sec-WebSocket-Protocol", "chat",
      "Keep-Alive", "timeout=5",
      "Transfer-Encoding", "chunked",
      "X-Internal", "secret",
      "Set-Cookie", "a=1",
    ];
    expect(switchingHeaders(raw)).toEqual([
      "Upgrade", "websocket",
      "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "Sec-WebSocket-Protocol", "chat",
      "Set-Cookie", "a=1",
      "connection", "upgrade",
    ]);
  });
});

describe("tunnelFailed", () => {
  const r = parseConfig({ listen: { port: 8080 }, pools: { web: { origins: [{ name: "a", url: "http://10.0.0.1" }, { name: "b", url: "http://10.0.0.2" }] } } });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const cfg = r.config.pools.web;
  const trip = () => {
    const t = new Trip(cfg, "GET", true, new RetryBudget({ percent: 100, minConcurrent: 1000 }), () => 0.5);
    t.start(0);
    return t;
  };

  it("a try that never reached an origin goes to another one", () => {
    for (const kind of ["connect-refused", "connect-timeout", "connect-error"] as FailureKind[]) expect(tunnelFailed(trip(), kind)).toMatchObject({ retry: true, redispatch: true });
  });

  it("once sent, never retried, even where a GET would be (empty-response, response-timeout in retryOn)", () => {
    expect(trip().failed("empty-response").retry).toBe(true);
    expect(tunnelFailed(trip(), "empty-response")).toEqual({ retry: false, status: 502, reason: "method" });
    expect(tunnelFailed(trip(), "header-timeout")).toEqual({ retry: false, status: 504, reason: "method" });
    expect(tunnelFailed(trip(), "bad-response")).toMatchObject({ retry: false, status: 502 });
  });
});
