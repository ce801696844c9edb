import { describe, expect, it } from "vitest";
import { edgeWarnings } from "../../core/config/edge.ts";
import { formatIssue, parseConfig } from "../../core/config/parse.ts";

function warn(urls: string[]) {
  const r = parseConfig({ listen: { port: 8080 }, pools: { p: { origins: urls.map((url, i) => ({ name: `o${i}`, url })) } } });
  if (!r.ok) throw new Error("config should parse");
  return edgeWarnings(r.config).map(formatIssue);
}

describe("edge warnings", () => {
  it("names IP literals and ports a deployed Worker cannot reach", () => {
    expect(warn(["http://10.0.0.1:80"])).toEqual([
      'pools.p.origins[0].url: is an IP address: a deployed Worker cannot fetch IP addresses (error 1003); use a DNS name, got "http://10.0.0.1"',
    ]);
    expect(warn(["http://web01.shop.no:9101"])).toEqual([
      'pools.p.origins[0].url: uses port 9101, which a deployed Worker cannot reach (allowed: 80, 8080, 8880, 2052, 2082, 2086, 2095), got "http://web01.shop.no:9101"',
    ]);
    expect(warn(["http://[::1]:8080"])[0]).toMatch(/is an IP address/);
    expect(warn(["https://web01.shop.no:8443"])[0]).toBeUndefined();
    expect(warn(["https://web01.shop.no:8080"])[0]).toMatch(/uses port 8080/);
  });

  it("says nothing for DNS names on standard ports", () => {
    expect(warn(["http://web01.shop.no", "https://web02.shop.no", "http://web03.shop.no:8080"])).toEqual([]);
  });

  it("a CA file or verify false on an https origin: the Worker's fetch cannot honour them", () => {
    const r = parseConfig({ listen: { port: 8080 }, pools: { p: { origins: [{ name: "a", url: "https://a.shop.no", ca: "/etc/ssl/ca.pem" }, { name: "b", url: "https://b.shop.no", verify: false }] } } });
    if (!r.ok) throw new Error("config should parse");
    expect(edgeWarnings(r.config).map(formatIssue)).toEqual([
      expect.stringMatching(/^pools\.p\.origins\[0\]\.ca: is not used by a deployed Worker/),
      expect.stringMatching(/^pools\.p\.origins\[1\]\.verify: cannot be turned off in a deployed Worker/),
    ]);
  });

  it("webhooks: the edge build sends none, and says so", () => {
    const r = parseConfig({ listen: { port: 8080 }, pools: { p: { origins: [{ name: "a", url: "https://a.shop.no" }] } }, notify: { webhooks: [{ url: "https://ops.shop.no/hook", secretEnv: "HOOK" }] } });
    if (!r.ok) throw new Error("config should parse");
    expect(edgeWarnings(r.config).map(formatIssue)).toEqual([
      'notify.webhooks[0]: is not sent by the edge build (the Node build sends webhooks; at the edge, watch /__edgelb/metrics), got "https://ops.shop.no/hook"',
    ]);
  });
});
