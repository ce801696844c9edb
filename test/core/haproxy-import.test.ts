import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { importHaproxy, parseHaproxyTime, splitWords, type ImportNote } from "../../core/config/haproxy.ts";
import { formatIssue, parseConfig } from "../../core/config/parse.ts";

const FIXTURE = readFileSync(new URL("../../deploy/examples/haproxy-1.4-webfarm.cfg", import.meta.url), "utf8");
const EXAMPLE = JSON.parse(readFileSync(new URL("../../deploy/examples/webfarm.edgelb.json", import.meta.url), "utf8"));

/** Imports and requires the result to pass edgelb's own parser. */
function imported(cfg: string) {
  const r = importHaproxy(cfg);
  const p = parseConfig(r.config);
  if (!p.ok) throw new Error(`the import does not pass parseConfig:\n${p.issues.map(formatIssue).join("\n")}\n${JSON.stringify(r.config, null, 2)}`);
  return { ...r, parsed: p.config, pools: r.config.pools as Record<string, any>, c: r.config as any };
}

const at = (notes: ImportNote[], line: number) => notes.filter((n) => n.line === line);
/** Lines as numbered in a config literal (line 1 = the first line). */
const cfg = (...lines: string[]) => lines.join("\n");

describe("the 1.4 webfarm fixture", () => {
  const { c, notes, parsed } = imported(FIXTURE);

  it("becomes one pool webfarm of two origins, roundrobin, retries 3, redispatch, checks on", () => {
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 80 });
    expect(Object.keys(c.pools)).toEqual(["webfarm"]);
    expect(c.pools.webfarm).toEqual({
      balance: "roundrobin",
      origins: [
        { name: "web01", url: "http://192.168.1.10:80" },
        { name: "web02", url: "http://192.168.1.11:80" },
      ],
      check: { enabled: true },
      retries: 3,
      redispatch: true,
      timeouts: { connect: "5s", header: "50s", idle: "50s" },
    });
    expect(c.forwardFor).toEqual({ enabled: true });
    // global maxconn 4096, defaults (so the listen) 2000: the smaller one bounds the clients
    expect(c.client).toEqual({ keepAlive: "50s", maxConnections: 2000 });
    expect(c.stats).toBeUndefined();
  });

  it("passes parseConfig with the 1.4 timeouts in ms: contimeout 5 s, srvtimeout and clitimeout 50 s", () => {
    const pool = parsed.pools.webfarm;
    expect(pool.timeouts.connect).toBe(5000);
    expect(pool.timeouts.header).toBe(50_000);
    expect(pool.timeouts.idle).toBe(50_000);
    expect(parsed.client.keepAlive).toBe(50_000);
    expect(parsed.defaultPool).toBe("webfarm");
    expect(parsed.forwardFor.enabled).toBe(true);
    expect(pool.check.enabled).toBe(true);
  });

  it("names what it does not map, with its line", () => {
    const named = notes.map((n) => `${n.line} ${n.directive}`);
    expect(named).toEqual([
      "4 log",
      "6 user",
      "7 group",
      "8 daemon",
      "10 log",
      "12 option httplog",
      "13 option dontlognull",
      "18 clitimeout",
      "22 stats enable",
      "23 stats uri",
      "25 option httpclose",
      "27 check",
    ]);
    expect(at(notes, 25)[0].message).toMatch(/keep-alive connection pools/);
    expect(at(notes, 23)[0].message).toMatch(/\/__edgelb\/stats/);
    expect(at(notes, 23)[0].message).toContain('"/haproxy?stats"');
    expect(at(notes, 22)[0].message).toMatch(/loopback/);
    expect(at(notes, 27)[0].message).toMatch(/TCP connect.*GET \//);
    // nothing that maps cleanly is noted: retries, redispatch, maxconn, mode http, balance, forwardfor, servers
    for (const line of [3, 5, 11, 14, 15, 16, 17, 19, 20, 21, 24, 26, 28]) expect(at(notes, line)).toEqual([]);
  });

  it("is the committed deploy/examples/webfarm.edgelb.json (plus its $schema)", () => {
    expect(EXAMPLE).toEqual({ $schema: "../../schema/edgelb.schema.json", ...c });
    expect(Object.keys(EXAMPLE)[0]).toBe("$schema");
  });
});

describe("a modern config: frontend, two backends, backup, weights, leastconn, httpchk, inter/rise/fall", () => {
  const text = cfg(
    "global", //                                                          1
    "    maxconn 20000",
    "    stats socket /run/haproxy/admin.sock mode 660 level admin",
    "defaults",
    "    mode http", //                                                   5
    "    timeout connect 3s",
    "    timeout client 30s",
    "    timeout server 45s",
    "    timeout queue 10s",
    "    timeout check 1500ms", //                                        10
    "    timeout http-request 8s",
    "    timeout http-keep-alive 5s",
    "    option forwardfor",
    "    retries 2",
    "frontend www", //                                                    15
    "    bind *:8080",
    "    maxconn 5000",
    "    acl is_shop hdr(host) -i shop.example.no www.shop.example.no",
    "    acl is_api hdr_end(host) -i .api.example.no",
    "    use_backend shop if is_shop", //                                 20
    "    use_backend api if is_api || { hdr(host) -i api.example.no }",
    "    use_backend api if { path_beg /api }",
    "    default_backend shop",
    "    stats enable",
    "    stats uri /stats", //                                            25
    "    stats auth admin:s3cret",
    "backend shop",
    "    balance leastconn",
    "    option httpchk GET /health HTTP/1.1\\r\\nHost:\\ shop.example.no",
    "    http-check expect status 200", //                                30
    "    option redispatch",
    "    default-server inter 3s rise 3 fall 2 slowstart 30s",
    "    server web1 10.0.0.1:8080 check weight 10 maxconn 100",
    "    server web2 10.0.0.2:8080 check weight 20 maxconn 200",
    "    server spare 10.0.0.9:8080 check backup", //                     35
    "backend api",
    "    balance random",
    "    option httpchk /ping",
    "    server api1 [2001:db8::1]:9000 check inter 5s rise 1 fall 5",
    "    server api2 api2.internal:9443 check inter 5s rise 1 fall 5 ssl", // 40
  );
  const { c, notes, parsed } = imported(text);

  it("maps both backends to pools, with per-server settings on origins and per-pool ones on the pool", () => {
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(c.pools.shop).toEqual({
      balance: "leastconn",
      origins: [
        { name: "web1", url: "http://10.0.0.1:8080", weight: 10, maxconn: 100 },
        { name: "web2", url: "http://10.0.0.2:8080", weight: 20, maxconn: 200 },
        { name: "spare", url: "http://10.0.0.9:8080", backup: true },
      ],
      check: { enabled: true, path: "/health", host: "shop.example.no", expect: "200", interval: "3s", timeout: "1500ms", rise: 3, fall: 2 },
      retries: 2,
      redispatch: true,
      timeouts: { connect: "3s", header: "45s", idle: "45s", queue: "10s" },
      slowStart: "30s",
    });
    expect(c.pools.api).toEqual({
      balance: "random",
      origins: [
        { name: "api1", url: "http://[2001:db8::1]:9000" },
        { name: "api2", url: "https://api2.internal:9443" },
      ],
      // option httpchk <uri>: HAProxy's method is OPTIONS
      check: { enabled: true, method: "OPTIONS", path: "/ping", interval: "5s", timeout: "1500ms", rise: 1, fall: 5 },
      retries: 2,
      redispatch: false,
      timeouts: { connect: "3s", header: "45s", idle: "45s", queue: "10s" },
    });
  });

  it("routes by Host from the ACLs; the default backend is the first pool", () => {
    expect(c.routes).toEqual([
      { host: ["shop.example.no", "www.shop.example.no"], pool: "shop" },
      { host: ["*.api.example.no", "api.example.no"], pool: "api" },
    ]);
    expect(c.defaultPool).toBeUndefined();
    expect(parsed.defaultPool).toBe("shop");
    expect(at(notes, 22)[0]).toMatchObject({ directive: "use_backend", message: expect.stringMatching(/path_beg.*not imported/) });
  });

  it("maps the client side, the stats user without its password, and names the stats socket", () => {
    expect(c.client).toEqual({ keepAlive: "5s", headerTimeout: "8s", maxConnections: 5000 });
    expect(c.forwardFor).toEqual({ enabled: true });
    expect(c.stats).toEqual({ auth: { basic: [{ user: "admin", passwordEnv: "EDGELB_STATS_PASSWORD" }] } });
    expect(JSON.stringify(c)).not.toContain("s3cret");
    expect(at(notes, 26)[0].message).toMatch(/password is not copied.*EDGELB_STATS_PASSWORD/);
    expect(at(notes, 3)[0].directive).toBe("stats socket");
    expect(at(notes, 25)[0].directive).toBe("stats uri");
    expect(parsed.pools.shop.check.timeout).toBe(1500);
    expect(parsed.pools.shop.slowStart).toBe(30_000);
  });
});

describe("unknown and unsupported directives", () => {
  const text = cfg(
    "global",
    "    frobnicate yes", //                     2
    "    tune.bufsize 32768",
    "defaults",
    "    mode tcp", //                           5
    "    option tcplog",
    "backend app",
    "    cookie SRV insert indirect", //         8
    "    server a 10.0.0.1:80 cookie a frob 1",
    "    reqadd X-Foo:\\ bar", //                10
    "    timeout tunnel 1h",
    "    bind :80",
    "userlist admins", //                       13
    "    user admin insecure-password x",
    "frontend f", //                            15
    "    bind :81",
    "    default_backend app",
    "    server nope 10.0.0.2:80",
    "    use_backend ghost if { hdr(host) -i x.example }",
  );
  const { notes, c } = imported(text);

  it("are each named with their line number", () => {
    const byLine = (line: number) => at(notes, line).map((n) => `${n.directive}: ${n.message}`).join(" | ");
    expect(byLine(2)).toMatch(/^frobnicate: not supported/);
    expect(byLine(3)).toMatch(/^tune\.bufsize: global tuning/);
    expect(byLine(5)).toMatch(/^mode: edgelb balances HTTP only/);
    expect(byLine(6)).toMatch(/^option tcplog:/);
    expect(byLine(8)).toMatch(/^cookie: edgelb has no session persistence/);
    expect(byLine(9)).toMatch(/option "cookie a".*persistence/);
    expect(byLine(9)).toMatch(/option "frob" is unknown/);
    expect(byLine(10)).toMatch(/^reqadd: edgelb has no request or response rules/);
    expect(byLine(11)).toMatch(/^timeout tunnel: edgelb has no tunnel timeout/);
    expect(byLine(12)).toMatch(/^bind: not valid in a backend section/);
    expect(byLine(13)).toMatch(/^userlist: the userlist section has no edgelb equivalent/);
    // the lines inside an unsupported section are covered by its note
    expect(at(notes, 14)).toEqual([]);
    expect(byLine(18)).toMatch(/^server: not valid in a frontend section/);
    expect(byLine(19)).toMatch(/^use_backend: names no imported backend \("ghost"\)/);
    expect(notes.map((n) => n.line)).toEqual([...notes.map((n) => n.line)].sort((a, b) => a - b));
  });

  it("still imports what it can", () => {
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 81 });
    expect(c.pools.app.origins).toEqual([{ name: "a", url: "http://10.0.0.1:80" }]);
  });
});

describe("mapping details", () => {
  it("balance: static-rr becomes roundrobin, random(3) random, first leastconn, each with a note; source is source", () => {
    expect(imported(cfg("listen l :80", "    balance source", "    server a 10.0.0.1:80")).c.pools.l.balance).toBe("source");
    for (const [alg, want, re] of [
      ["static-rr", "roundrobin", /static-rr becomes roundrobin/],
      ["random(3)", "random", /draws two/],
      ["first", "leastconn", /no balance first/],
      ["uri", "roundrobin", /no uri balancing/],
    ] as const) {
      const { c, notes } = imported(cfg("listen l :80", `    balance ${alg}`, "    server a 10.0.0.1:80"));
      expect(c.pools.l.balance).toBe(want);
      expect(at(notes, 2)[0].message).toMatch(re);
    }
    expect(imported(cfg("listen l :80", "    balance random", "    server a 10.0.0.1:80")).notes).toHaveLength(1); // only "no forwardfor"
  });

  it("defaults: the last defaults section before a proxy applies; a proxy overrides it", () => {
    const { c } = imported(cfg(
      "defaults",
      "    retries 5",
      "    timeout connect 1s",
      "listen a :80",
      "    server a1 10.0.0.1:80",
      "defaults",
      "    retries 1",
      "listen b :81",
      "    retries 0",
      "    server b1 10.0.0.2:80",
    ));
    expect(c.pools.a).toMatchObject({ retries: 5, timeouts: { connect: "1s", queue: "1s" } });
    expect(c.pools.b).toMatchObject({ retries: 0 });
    expect(c.pools.b.timeouts).toBeUndefined();
  });

  it("servers: disabled is weight 0, no port takes the bind port, sockets are skipped, odd names are fixed", () => {
    const { c, notes } = imported(cfg(
      "listen web:farm 0.0.0.0:8080", //  1
      "    server a 10.0.0.1 check", //    2
      "    server b:1 10.0.0.2:80 disabled",
      "    server c /run/app.sock",
      "    server d 10.0.0.4:80 check backup",
      "    server e 10.0.0.5:80 check backup",
      "    server f 10.0.0.6:80 weight 300 check",
    ));
    const pool = c.pools["web-farm"];
    expect(pool.origins).toEqual([
      { name: "a", url: "http://10.0.0.1:8080" },
      { name: "b-1", url: "http://10.0.0.2:80", weight: 0 },
      { name: "d", url: "http://10.0.0.4:80", backup: true },
      { name: "e", url: "http://10.0.0.5:80", backup: true },
      { name: "f", url: "http://10.0.0.6:80", weight: 256 },
    ]);
    expect(at(notes, 1)[0].message).toMatch(/becomes "web-farm"/);
    expect(at(notes, 2)[0].message).toMatch(/no fixed port.*using 8080/);
    expect(at(notes, 3).map((n) => n.message).join()).toMatch(/disabled: imported with weight 0/);
    expect(at(notes, 3).map((n) => n.message).join()).toMatch(/has no check, but edgelb checks every origin/);
    expect(at(notes, 4)[0].message).toMatch(/socket path is not imported/);
    expect(at(notes, 6)[0].message).toMatch(/first backup server only/);
    expect(at(notes, 7)[0].message).toMatch(/out of edgelb's range 0-256; using 256/);
  });

  it("timeouts: HAProxy units, 0 kept as edgelb's default, a check timeout bounded by inter", () => {
    const { c, notes } = imported(cfg(
      "defaults",
      "    timeout connect 0", //      2
      "    timeout server 2m",
      "    timeout check 10s", //      4
      "    srvtimeout 1d",
      "listen l :80",
      "    server a 10.0.0.1:80 check inter 2000",
    ));
    expect(c.pools.l.timeouts).toEqual({ header: "24h", idle: "24h" });
    expect(c.pools.l.check).toEqual({ enabled: true, interval: "2s", timeout: "2s" });
    expect(at(notes, 2)[0].message).toMatch(/0 means no timeout/);
    expect(at(notes, 4)[0].message).toMatch(/out of range for check.timeout/);
  });

  it("option httpchk forms, http-check send, no option redispatch", () => {
    const one = (line: string) => imported(cfg("listen l :80", "    option redispatch", "    no option redispatch", line, "    server a 10.0.0.1:80 check")).c.pools.l;
    expect(one("    option httpchk").check).toEqual({ enabled: true, method: "OPTIONS" });
    expect(one("    option httpchk HEAD /up").check).toEqual({ enabled: true, method: "HEAD", path: "/up" });
    expect(one("    http-check send meth GET uri /hc hdr Host shop.example").check).toEqual({ enabled: true, path: "/hc", host: "shop.example" });
    expect(one("    option httpchk").redispatch).toBe(false);
  });

  it("no option forwardfor anywhere: forwardFor is off, as in HAProxy, with a note", () => {
    const { c, notes } = imported(cfg("listen l :80", "    server a 10.0.0.1:80"));
    expect(c.forwardFor).toEqual({ enabled: false });
    expect(at(notes, 1)[0].message).toMatch(/no option forwardfor/);
  });

  it("several stats users get one env var each; a bind with ssl is named", () => {
    const { c, notes } = imported(cfg(
      "frontend f",
      "    bind :443 ssl crt /etc/ssl/site.pem",
      "    default_backend b",
      "    stats auth admin:pw1",
      "    stats auth ops-team:pw2",
      "backend b",
      "    server a 10.0.0.1:80",
    ));
    expect(c.stats.auth.basic).toEqual([
      { user: "admin", passwordEnv: "EDGELB_STATS_PASSWORD_ADMIN" },
      { user: "ops-team", passwordEnv: "EDGELB_STATS_PASSWORD_OPS_TEAM" },
    ]);
    expect(JSON.stringify(c)).not.toMatch(/pw1|pw2/);
    // an ssl bind is an HTTPS listener; HAProxy's crt file holds the certificate and the key
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 443, tls: { certificates: [{ cert: "/etc/ssl/site.pem", key: "/etc/ssl/site.pem" }], http2: false } });
    expect(at(notes, 2)[0].message).toMatch(/no alpn h2 here/);
  });

  it("HTTPS binds, HTTP/2 by alpn, and `redirect scheme https` on the plain bind become listeners", () => {
    const { c, notes } = imported(cfg(
      "frontend f",
      "    bind :80",
      "    bind :443 ssl crt /etc/haproxy/shop.pem crt /etc/haproxy/admin.pem alpn h2,http/1.1",
      "    redirect scheme https code 301 if !{ ssl_fc }",
      "    default_backend b",
      "backend b",
      "    server a 10.0.0.1:80",
    ));
    expect(c.listen).toEqual([
      { host: "0.0.0.0", port: 80, redirectHttps: 443 },
      { host: "0.0.0.0", port: 443, tls: { certificates: [{ cert: "/etc/haproxy/shop.pem", key: "/etc/haproxy/shop.pem" }, { cert: "/etc/haproxy/admin.pem", key: "/etc/haproxy/admin.pem" }], http2: true } },
    ]);
    expect(at(notes, 4)[0].message).toMatch(/imported as redirectHttps on the plain listeners/);
    expect(parseConfig(c).ok).toBe(true);
  });

  it("a config with nothing to balance does not pass parseConfig, and says why", () => {
    const r = importHaproxy(cfg("frontend f", "    bind :80", "backend b"));
    expect(parseConfig(r.config).ok).toBe(false);
    const text = r.notes.map((n) => n.message).join("\n");
    expect(text).toMatch(/backend b has no server lines/);
    expect(text).toMatch(/nothing to balance/);
  });
});

describe("words and times", () => {
  it("splits words like HAProxy: quotes, escapes, comments", () => {
    expect(splitWords('  server a 10.0.0.1:80   check # web01')).toEqual(["server", "a", "10.0.0.1:80", "check"]);
    expect(splitWords("option httpchk GET / HTTP/1.0\\r\\nHost:\\ www")).toEqual(["option", "httpchk", "GET", "/", "HTTP/1.0\r\nHost: www"]);
    expect(splitWords(`acl a hdr(x) "two words" 'single # not a comment' \\#x`)).toEqual(["acl", "a", "hdr(x)", "two words", "single # not a comment", "#x"]);
  });

  it("reads HAProxy times: ms by default, us/ms/s/m/h/d", () => {
    expect(parseHaproxyTime("5000")).toBe(5000);
    expect(parseHaproxyTime("1500us")).toBe(2);
    expect(parseHaproxyTime("250ms")).toBe(250);
    expect(parseHaproxyTime("50s")).toBe(50_000);
    expect(parseHaproxyTime("2m")).toBe(120_000);
    expect(parseHaproxyTime("1h")).toBe(3_600_000);
    expect(parseHaproxyTime("1d")).toBe(86_400_000);
    expect(parseHaproxyTime("5 s")).toBeUndefined();
    expect(parseHaproxyTime("1.5s")).toBeUndefined();
  });
});
