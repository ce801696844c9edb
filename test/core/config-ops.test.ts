// Config of logs, notifications and the port handover (issue 8, items 6-8): defaults and issues.
import { describe, expect, it } from "vitest";
import { formatIssue, parseConfig } from "../../core/config/parse.ts";

const base = { listen: { port: 8080 }, pools: { webfarm: { origins: [{ name: "web01", url: "http://127.0.0.1:9101" }] } } };
const problems = (extra: Record<string, unknown>) => {
  const r = parseConfig({ ...base, ...extra });
  return r.ok ? [] : r.issues.map(formatIssue);
};

describe("log, notify and listen.reusePort", () => {
  it("defaults: request lines on stderr, dontlognull, no webhooks, 5 attempts from 1s, a queue of 1000, no reusePort", () => {
    const r = parseConfig(base);
    if (!r.ok) throw new Error("config");
    expect(r.config.log).toEqual({ requests: true, dontlognull: true, to: "stderr" });
    expect(r.config.notify).toEqual({ webhooks: [], attempts: 5, backoff: 1000, maxBackoff: 300_000, timeout: 5000, queue: 1000 });
    expect(r.config.listen[0].reusePort).toBe(false);
  });

  it("a webhook gets every kind by default; its kinds, URL and secret variable are checked", () => {
    const r = parseConfig({ ...base, notify: { webhooks: [{ url: "https://hooks.example.no/edgelb", secretEnv: "EDGELB_HOOK" }] } });
    if (!r.ok) throw new Error("config");
    expect(r.config.notify.webhooks[0].events).toEqual(["down", "up", "ejected", "returned", "admin", "weight", "agent"]);
    expect(problems({ notify: { webhooks: [{ url: "ftp://x", secretEnv: "A" }] } })).toEqual([`notify.webhooks[0].url: must be an http(s) URL without credentials, got "ftp://x"`]);
    expect(problems({ notify: { webhooks: [{ url: "http://x", secretEnv: "not a var" }] } })).toEqual([`notify.webhooks[0].secretEnv: must be an environment variable name, got "not a var"`]);
    expect(problems({ notify: { webhooks: [{ url: "http://x", secretEnv: "A", events: ["dwon"] }] } })[0]).toMatch(/^notify\.webhooks\[0\]\.events\[0\]: must be one of down, up, ejected/);
    expect(problems({ notify: { webhooks: [{ url: "http://x", secret: "inline" }] } }).join("\n")).toMatch(/secret/);
    expect(problems({ notify: { attempts: 0 } })).toEqual(["notify.attempts: must be 1-20, got 0"]);
  });

  it("log.to: stderr, stdout or an absolute path", () => {
    expect(problems({ log: { to: "stdout" } })).toEqual([]);
    expect(problems({ log: { to: "/var/log/edgelb/edgelb.log" } })).toEqual([]);
    expect(problems({ log: { to: "edgelb.log" } })).toEqual([`log.to: must be "stderr", "stdout" or an absolute file path, got "edgelb.log"`]);
    expect(problems({ log: { requests: "yes" } })).toEqual([`log.requests: must be true or false, got "yes"`]);
  });
});

describe("listeners (issue 9): one or a list, TLS certificates, a redirect to https", () => {
  const cert = { cert: "/etc/edgelb/shop.pem", key: "/etc/edgelb/shop.key" };
  it("a list of listeners; tls with HTTP/2 on by default", () => {
    const r = parseConfig({ ...base, listen: [{ port: 443, tls: { certificates: [cert] } }, { port: 80, redirectHttps: 443 }] });
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    expect(r.config.listen).toEqual([
      { host: "0.0.0.0", port: 443, reusePort: false, acceptors: 1, tls: { certificates: [cert], http2: true } },
      { host: "0.0.0.0", port: 80, reusePort: false, acceptors: 1, redirectHttps: 443 },
    ]);
  });

  it("each problem with its path: relative files, no certificate, a port used twice, a redirect on a TLS listener, unknown keys", () => {
    expect(problems({ listen: [{ port: 443, tls: { certificates: [{ cert: "shop.pem", key: cert.key }] } }] })).toEqual([
      `listen[0].tls.certificates[0].cert: must be an absolute file path, got "shop.pem"`,
    ]);
    expect(problems({ listen: { port: 443, tls: { certificates: [] } } })).toEqual(["listen.tls.certificates: must list at least one certificate, got []"]);
    expect(problems({ listen: [{ port: 80 }, { port: 80, host: "0.0.0.0" }] })).toEqual(["listen[1].port: is already used by listen[0] on the same host, got 80"]);
    expect(problems({ listen: { port: 443, tls: { certificates: [cert] }, redirectHttps: 443 } })).toEqual([
      "listen.redirectHttps: is for a plain http listener (this one has tls), got 443",
    ]);
    expect(problems({ listen: [{ port: 80, tlss: {} }] })).toEqual([`listen[0].tlss: is not a known key (did you mean "tls"?)`]);
    expect(problems({ listen: [] })).toEqual(["listen: must list at least one listener, got []"]);
  });

  it("https origins: a CA file path, verify on by default; verify false and a CA on an http origin are warned about", () => {
    const r = parseConfig({ ...base, pools: { p: { origins: [{ name: "a", url: "https://a.example.no", ca: "/etc/ssl/ca.pem" }, { name: "b", url: "https://b.example.no", verify: false }, { name: "c", url: "http://c.example.no", ca: "/etc/ssl/ca.pem" }] } } });
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    expect(r.config.pools.p.origins.map((o) => o.verify)).toEqual([true, false, true]);
    expect(r.warnings.map((w) => w.path)).toEqual(["pools.p.origins[1].verify", "pools.p.origins[2].ca"]);
  });
});
