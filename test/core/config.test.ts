import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../core/config/duration.ts";
import { formatIssue, formatPath, parseConfig, parseConfigText, type ConfigIssue, type ParseResult } from "../../core/config/parse.ts";
import { parseStatusSpec } from "../../core/config/schema.ts";

/** The minimal file from the issue: two origins, nothing else. */
function minimal(): any {
  return {
    listen: { host: "127.0.0.1", port: 8080 },
    pools: {
      webfarm: {
        origins: [
          { name: "web01", url: "http://127.0.0.1:9101" },
          { name: "web02", url: "http://127.0.0.1:9102" },
        ],
      },
    },
  };
}

/** The minimal file with `edit` applied to a copy. */
function with_(edit: (c: any) => void): any {
  const c = minimal();
  edit(c);
  return c;
}

function lines(r: ParseResult): string[] {
  if (r.ok) throw new Error(`expected issues, the config parsed: ${JSON.stringify(r.config)}`);
  return r.issues.map(formatIssue);
}

function ok(r: ParseResult) {
  if (!r.ok) throw new Error(`expected a config, got:\n${r.issues.map(formatIssue).join("\n")}`);
  return r.config;
}

describe("the minimal file gets HAProxy's defaults", () => {
  const cfg = ok(parseConfig(minimal()));
  const pool = cfg.pools.webfarm;

  it("parses, with the only pool as the default pool", () => {
    expect(cfg.defaultPool).toBe("webfarm");
    // one listener object is read as a list of one
    expect(cfg.listen).toEqual([{ host: "127.0.0.1", port: 8080, reusePort: false, acceptors: 1 }]);
    expect(cfg.prefix).toBe("/__edgelb");
    expect(cfg.routes).toEqual([]);
  });

  it("origins: weight 1, no maxconn, not backup, url reduced to its origin", () => {
    expect(pool.origins).toEqual([
      { name: "web01", url: "http://127.0.0.1:9101", weight: 1, maxconn: 0, backup: false, agentKeys: [], verify: true },
      { name: "web02", url: "http://127.0.0.1:9102", weight: 1, maxconn: 0, backup: false, agentKeys: [], verify: true },
    ]);
  });

  it("check: inter 2s, timeout 1s, rise 2, fall 3, GET / expecting 200-399; durations in ms", () => {
    expect(pool.check).toEqual({
      enabled: true,
      path: "/",
      method: "GET",
      expect: [[200, 399]],
      interval: 2000,
      timeout: 1000,
      rise: 2,
      fall: 3,
    });
  });

  it("pool: roundrobin, retries 3, redispatch, timeouts and passive ejection in ms", () => {
    expect(pool.balance).toBe("roundrobin");
    expect(pool.retries).toBe(3);
    expect(pool.redispatch).toBe(true);
    expect(pool.retryOn).toEqual(["conn-failure", "empty-response", "response-timeout"]);
    expect(pool.retryMethods).toEqual(["GET", "HEAD", "OPTIONS"]);
    expect(pool.retryBudget).toEqual({ percent: 20, minConcurrent: 0 });
    expect(pool.timeouts).toEqual({ connect: 5000, header: 30_000, idle: 30_000, total: 0, queue: 5000, tunnel: 3_600_000 });
    expect(pool.passive).toEqual({ enabled: true, baseEjection: 5000, maxEjection: 300_000, consecutive5xx: 5 });
    expect(pool.slowStart).toBe(0);
    expect(pool.maxQueue).toBe(1024);
    expect(pool.replayBufferBytes).toBe(65_536);
  });

  it("front side: forwardfor on, client timeouts in ms", () => {
    expect(cfg.forwardFor).toEqual({ enabled: true, forwarded: false, trustedProxies: [] });
    expect(cfg.client).toEqual({ headerTimeout: 10_000, keepAlive: 65_000, maxHeaderBytes: 16_384, maxConnections: 0, halfClose: "abort" });
  });

  it("parseConfigText gives the same config from the JSON text", () => {
    expect(ok(parseConfigText(JSON.stringify(minimal())))).toEqual(cfg);
  });

  it("does not modify its input", () => {
    const input = minimal();
    parseConfig(input);
    expect(input).toEqual(minimal());
  });
});

describe("explicit values override the defaults", () => {
  it("a full pool", () => {
    const cfg = ok(
      parseConfig(
        with_((c) => {
          c.defaultPool = "shop";
          c.pools.shop = {
            balance: "leastconn",
            origins: [
              { name: "a", url: "https://shop.example.no", weight: 0, maxconn: 50 },
              { name: "b", url: "http://[::1]:8080/", weight: 256, backup: true },
            ],
            check: { path: "/health", method: "HEAD", expect: "200,301-302", interval: "5s", timeout: "1500ms", rise: 1, fall: 100 },
            retries: 0,
            redispatch: false,
            slowStart: "1m30s",
          };
          c.routes = [{ host: ["shop.example.no", "*.shop.example.no"], pool: "shop" }];
        }),
      ),
    );
    expect(cfg.defaultPool).toBe("shop");
    const p = cfg.pools.shop;
    expect(p.balance).toBe("leastconn");
    expect(p.origins).toEqual([
      { name: "a", url: "https://shop.example.no", weight: 0, maxconn: 50, backup: false, agentKeys: [], verify: true },
      { name: "b", url: "http://[::1]:8080", weight: 256, maxconn: 0, backup: true, agentKeys: [], verify: true },
    ]);
    expect(p.check).toEqual({ enabled: true, path: "/health", method: "HEAD", expect: [[200, 200], [301, 302]], interval: 5000, timeout: 1500, rise: 1, fall: 100 });
    expect([p.retries, p.redispatch, p.slowStart]).toEqual([0, false, 90_000]);
    expect(cfg.routes).toEqual([{ host: ["shop.example.no", "*.shop.example.no"], pool: "shop" }]);
  });

  it("without defaultPool, the first pool in the file is the default", () => {
    const cfg = ok(parseConfig(with_((c) => (c.pools = { b: c.pools.webfarm, a: c.pools.webfarm }))));
    expect(cfg.defaultPool).toBe("b");
  });

  it.each([
    // [check as written, interval, timeout]: an unset timeout follows a shorter interval (HAProxy uses inter)
    [{}, 2000, 1000],
    [{ interval: "500ms" }, 500, 500],
    [{ interval: "1s" }, 1000, 1000],
    [{ interval: "500ms", timeout: "500ms" }, 500, 500],
    [{ interval: "10s", timeout: "3s" }, 10_000, 3000],
  ])("check %j -> interval %i ms, timeout %i ms", (check, interval, timeout) => {
    const cfg = ok(parseConfig(with_((c) => (c.pools.webfarm.check = check))));
    expect([cfg.pools.webfarm.check.interval, cfg.pools.webfarm.check.timeout]).toEqual([interval, timeout]);
  });
});

describe("durations", () => {
  describe("parseDuration", () => {
    it.each([
      ["0", 0],
      ["0s", 0],
      ["0ms", 0],
      ["500ms", 500],
      ["2s", 2000],
      ["1.5s", 1500],
      ["1m", 60_000],
      ["1m30s", 90_000],
      ["1h", 3_600_000],
      ["1h2m3s4ms", 3_723_004],
      ["01s", 1000],
    ])("%j -> %i ms", (text, ms) => {
      expect(parseDuration(text)).toBe(ms);
    });

    it.each(["", "2", "2 s", " 2s", "2s ", "-1s", "+1s", "s", "ms", "1.5.2s", "2S", "2sec", "1e3ms", "2s500", "1d", ".5s", "1..5s", "Infinity"])(
      "%j is not a duration",
      (text) => {
        expect(parseDuration(text)).toBeUndefined();
      },
    );
  });

  describe("formatDuration: the shortest exact string, which parses back", () => {
    it.each([
      [0, "0"],
      [1, "1ms"],
      [999, "999ms"],
      [1000, "1s"],
      [1500, "1500ms"],
      [60_000, "1m"],
      [90_000, "90s"],
      [3_600_000, "1h"],
      [5_400_000, "90m"],
      [86_400_000, "24h"],
    ])("%i ms -> %j", (ms, text) => {
      expect(formatDuration(ms)).toBe(text);
      expect(parseDuration(text)).toBe(ms);
    });
  });

  describe("in the config: parsed to ms, or one issue naming the path and the value", () => {
    const at = (interval: unknown) => parseConfig(with_((c) => (c.pools.webfarm.check = { interval, timeout: "1ms" })));

    it.each([
      ["500ms", 500],
      ["2s", 2000],
      ["1m30s", 90_000],
      ["1h", 3_600_000],
    ])("interval %j -> %i", (text, ms) => {
      expect(ok(at(text)).pools.webfarm.check.interval).toBe(ms);
    });

    const unit = 'must be a duration with a unit (ms, s, m, h), such as "2s"';
    it.each([
      ["2", `pools.webfarm.check.interval: ${unit}, got "2"`],
      ["2 s", `pools.webfarm.check.interval: ${unit}, got "2 s"`],
      ["-1s", `pools.webfarm.check.interval: ${unit}, got "-1s"`],
      ["s", `pools.webfarm.check.interval: ${unit}, got "s"`],
      ["1.5.2s", `pools.webfarm.check.interval: ${unit}, got "1.5.2s"`],
      ["", `pools.webfarm.check.interval: ${unit}, got ""`],
      [5, 'pools.webfarm.check.interval: must be a duration string such as "2s" or "500ms", got 5'],
      [null, 'pools.webfarm.check.interval: must be a duration string such as "2s" or "500ms", got null'],
      // an interval of 0 would be a check loop with no pause
      ["0", 'pools.webfarm.check.interval: must be more than 0, got "0"'],
      ["0ms", 'pools.webfarm.check.interval: must be more than 0, got "0ms"'],
      // the bound is shown as a duration and the value as written, not in ms
      ["2h", 'pools.webfarm.check.interval: must be at most 1h, got "2h"'],
      ["1h1ms", 'pools.webfarm.check.interval: must be at most 1h, got "1h1ms"'],
    ])("interval %j -> one issue", (value, line) => {
      expect(lines(at(value))).toEqual([line]);
    });

    it('"0" is a valid duration where 0 means none (timeouts.total, slowStart)', () => {
      const cfg = ok(parseConfig(with_((c) => Object.assign(c.pools.webfarm, { slowStart: "0", timeouts: { total: "0", queue: "0s" } }))));
      expect([cfg.pools.webfarm.slowStart, cfg.pools.webfarm.timeouts.total, cfg.pools.webfarm.timeouts.queue]).toEqual([0, 0, 0]);
    });

    it("a check timeout of 0 is refused (every check would time out at once)", () => {
      expect(lines(parseConfig(with_((c) => (c.pools.webfarm.check = { timeout: "0" }))))).toEqual([
        'pools.webfarm.check.timeout: must be more than 0, got "0"',
      ]);
    });

    it("durations elsewhere have their own bounds (24h by default)", () => {
      expect(lines(parseConfig(with_((c) => (c.pools.webfarm.timeouts = { connect: "25h", idle: "5" }))))).toEqual([
        'pools.webfarm.timeouts.connect: must be at most 24h, got "25h"',
        `pools.webfarm.timeouts.idle: ${unit}, got "5"`,
      ]);
    });
  });
});

describe("issues: one line each, naming the path and the value", () => {
  it("the example from the design, exactly", () => {
    expect(lines(parseConfig(with_((c) => (c.pools.webfarm.origins[1].weight = 1000))))).toEqual([
      "pools.webfarm.origins[1].weight: must be 0-256, got 1000",
    ]);
  });

  it("the issue objects carry path, message and the value as found", () => {
    const r = parseConfig(with_((c) => (c.pools.webfarm.origins[1].weight = 1000)));
    expect(r).toEqual({ ok: false, issues: [{ path: "pools.webfarm.origins[1].weight", message: "must be 0-256", value: 1000 }] });
  });

  it.each<[string, (c: any) => void, string[]]>([
    ["weight below range", (c) => (c.pools.webfarm.origins[0].weight = -1), ["pools.webfarm.origins[0].weight: must be 0-256, got -1"]],
    ["weight not an integer", (c) => (c.pools.webfarm.origins[0].weight = 1.5), ["pools.webfarm.origins[0].weight: must be an integer 0-256, got 1.5"]],
    // one line per problem, not one per failed rule ("must be an integer" and "must be 0-256")
    ["weight neither", (c) => (c.pools.webfarm.origins[0].weight = 1000.5), ["pools.webfarm.origins[0].weight: must be an integer 0-256, got 1000.5"]],
    ["weight a string", (c) => (c.pools.webfarm.origins[0].weight = "3"), ['pools.webfarm.origins[0].weight: must be an integer 0-256, got "3"']],
    ["port out of range", (c) => (c.listen.port = 70000), ["listen.port: must be 0-65535, got 70000"]],
    ["port missing", (c) => delete c.listen.port, ["listen.port: is required"]],
    ["listen missing", (c) => delete c.listen, ["listen: is required"]],
    ["origins missing", (c) => delete c.pools.webfarm.origins, ["pools.webfarm.origins: is required"]],
    ["origins empty", (c) => (c.pools.webfarm.origins = []), ["pools.webfarm.origins: must list at least one origin, got []"]],
    ["no pools", (c) => (c.pools = {}), ["pools: must define at least one pool, got {}"]],
    ["balance unknown", (c) => (c.pools.webfarm.balance = "fastest"), ['pools.webfarm.balance: must be one of roundrobin, leastconn, random, source, got "fastest"']],
    ["rise 0", (c) => (c.pools.webfarm.check = { rise: 0 }), ["pools.webfarm.check.rise: must be 1-100, got 0"]],
    ["redispatch a string", (c) => (c.pools.webfarm.redispatch = "yes"), ['pools.webfarm.redispatch: must be true or false, got "yes"']],
    ["retryOn item", (c) => (c.pools.webfarm.retryOn = ["502", "500"]), ['pools.webfarm.retryOn[1]: must be one of conn-failure, empty-response, response-timeout, 502, 503, 504, got "500"']],
    ["check path", (c) => (c.pools.webfarm.check = { path: "health" }), ['pools.webfarm.check.path: must start with "/", got "health"']],
    ["check method", (c) => (c.pools.webfarm.check = { method: "GE T" }), ['pools.webfarm.check.method: must be an HTTP method token, got "GE T"']],
    ["check expect", (c) => (c.pools.webfarm.check = { expect: "6xx" }), ['pools.webfarm.check.expect: must be a status spec such as "200", "2xx", "200-399" or a comma list of them, got "6xx"']],
    ["origin name", (c) => (c.pools.webfarm.origins[0].name = "web 01"), ["pools.webfarm.origins[0].name: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got \"web 01\""]],
    ["pool name (a key that is not a word is quoted)", (c) => (c.pools = { "web farm": c.pools.webfarm }), ["pools[\"web farm\"]: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got \"web farm\""]],
    ["prefix", (c) => (c.prefix = "__edgelb"), ['prefix: must be a path like "/__edgelb", got "__edgelb"']],
    ["prefix a number", (c) => (c.prefix = 1), ["prefix: must be a string, got 1"]],
    ["secret inline instead of an env var name", (c) => (c.admin = { auth: { bearerEnv: "s3cr3t token" } }), ['admin.auth.bearerEnv: must be an environment variable name, got "s3cr3t token"']],
    ["routes host empty", (c) => (c.routes = [{ host: [], pool: "webfarm" }]), ["routes[0].host: must list at least one host, got []"]],
  ])("%s", (_, edit, expected) => {
    expect(lines(parseConfig(with_(edit)))).toEqual(expected);
  });

  it.each<[string, unknown, string[]]>([
    ["null", null, ["(root): must be an object, got null"]],
    ["a number", 1, ["(root): must be an object, got 1"]],
    ["an array", [], ["(root): must be an object, got []"]],
    ["empty", {}, ["listen: is required", "pools: is required"]],
  ])("a file that is %s", (_, input, expected) => {
    expect(lines(parseConfig(input))).toEqual(expected);
  });

  it("an object given as a number or a list says so, without follow-on noise", () => {
    expect(
      lines(
        parseConfig(
          with_((c) => {
            c.listen = [8080];
            c.pools.webfarm.check = [];
            c.pools.webfarm.origins[0] = "http://127.0.0.1:9101";
          }),
        ),
      ),
    ).toEqual([
      // a list of listeners is allowed; its item is not one
      "listen[0]: must be an object, got 8080",
      'pools.webfarm.origins[0]: must be an object, got "http://127.0.0.1:9101"',
      "pools.webfarm.check: must be an object, got []",
    ]);
  });

  it("a long value is cut to 80 characters", () => {
    const [line] = lines(parseConfig(with_((c) => (c.pools.webfarm.balance = "x".repeat(200)))));
    expect(line).toBe(`pools.webfarm.balance: must be one of roundrobin, leastconn, random, source, got "${"x".repeat(76)}...`);
  });

  it("formatIssue: without a value there is no 'got'", () => {
    expect(formatIssue({ path: "a.b", message: "is required", value: undefined })).toBe("a.b: is required");
    expect(formatIssue({ path: "a", message: "must be x", value: { k: [1] } })).toBe('a: must be x, got {"k":[1]}');
    expect(formatIssue({ path: "a", message: "must be x", value: null } satisfies ConfigIssue)).toBe("a: must be x, got null");
  });

  it("formatPath", () => {
    expect(formatPath([])).toBe("(root)");
    expect(formatPath(["pools", "webfarm", "origins", 1, "weight"])).toBe("pools.webfarm.origins[1].weight");
    expect(formatPath(["pools", "web.farm", "check"])).toBe('pools["web.farm"].check');
    expect(formatPath(["routes", 0, "host", 2])).toBe("routes[0].host[2]");
  });
});

describe("unknown keys are errors, at any depth", () => {
  it.each<[string, (c: any) => void, string]>([
    ["top level", (c) => (c.colour = "red"), "colour: is not a known key (unknown keys are errors)"],
    ["listen", (c) => (c.listen.address = "::"), "listen.address: is not a known key (unknown keys are errors)"],
    ["pool", (c) => (c.pools.webfarm.algorithm = "rr"), "pools.webfarm.algorithm: is not a known key (unknown keys are errors)"],
    ["origin", (c) => (c.pools.webfarm.origins[1].colour = "red"), "pools.webfarm.origins[1].colour: is not a known key (unknown keys are errors)"],
    ["check", (c) => (c.pools.webfarm.check = { inter: "2s" }), "pools.webfarm.check.inter: is not a known key (unknown keys are errors)"],
    ["timeouts", (c) => (c.pools.webfarm.timeouts = { server: "30s" }), "pools.webfarm.timeouts.server: is not a known key (unknown keys are errors)"],
    ["route", (c) => (c.routes = [{ host: ["a.no"], pool: "webfarm", path: "/" }]), "routes[0].path: is not a known key (unknown keys are errors)"],
    ["auth user", (c) => (c.stats = { auth: { basic: [{ user: "u", passwordEnv: "P", password: "x" }] } }), "stats.auth.basic[0].password: is not a known key (unknown keys are errors)"],
    // a near miss of a known key says which one
    ["typo", (c) => (c.pools.webfarm.origins[0].wieght = 3), 'pools.webfarm.origins[0].wieght: is not a known key (did you mean "weight"?)'],
    ["wrong case", (c) => (c.pools.webfarm.retryon = []), 'pools.webfarm.retryon: is not a known key (did you mean "retryOn"?)'],
    ["HAProxy's name", (c) => (c.pools.webfarm.check = { timout: "1s" }), 'pools.webfarm.check.timout: is not a known key (did you mean "timeout"?)'],
  ])("%s", (_, edit, line) => {
    expect(lines(parseConfig(with_(edit)))).toEqual([line]);
  });

  it("every unknown key of one object is named, not only the first", () => {
    expect(lines(parseConfig(with_((c) => Object.assign(c.pools.webfarm.origins[0], { colour: "red", size: 2, rack: "b" }))))).toEqual([
      "pools.webfarm.origins[0].colour: is not a known key (unknown keys are errors)",
      "pools.webfarm.origins[0].size: is not a known key (unknown keys are errors)",
      "pools.webfarm.origins[0].rack: is not a known key (unknown keys are errors)",
    ]);
  });

  it("$schema is allowed at the top", () => {
    expect(ok(parseConfig(with_((c) => (c.$schema = "./edgelb.schema.json")))).$schema).toBe("./edgelb.schema.json");
  });
});

describe("several problems in one file are all reported, in the order of the file", () => {
  it("schema problems, unknown keys and cross-field rules together", () => {
    const input = {
      colour: "red",
      listen: { host: "127.0.0.1", port: 80_800, backlog: 5 },
      defaultPool: "shop",
      pools: {
        webfarm: {
          balance: "fastest",
          check: { interval: "2 seconds", rise: 0 },
          origins: [
            { name: "web01", url: "http://127.0.0.1:9101" },
            { name: "web02", url: "http://127.0.0.1:9102/app", weight: 1000, colour: "red" },
            { name: "web01", url: "http://127.0.0.1:9103" },
          ],
        },
        api: {
          check: { interval: "1s", timeout: "2s" },
          origins: [{ name: "api1", url: "ftp://10.0.0.9" }],
        },
      },
      routes: [
        { host: ["shop.example.no"], pool: "shop" },
        { host: ["api.example.no"], pool: "api" },
      ],
    };
    expect(lines(parseConfig(input))).toEqual([
      "colour: is not a known key (unknown keys are errors)",
      "listen.port: must be 0-65535, got 80800",
      "listen.backlog: is not a known key (unknown keys are errors)",
      'defaultPool: names no pool (pools are webfarm, api), got "shop"',
      'pools.webfarm.balance: must be one of roundrobin, leastconn, random, source, got "fastest"',
      'pools.webfarm.check.interval: must be a duration with a unit (ms, s, m, h), such as "2s", got "2 seconds"',
      "pools.webfarm.check.rise: must be 1-100, got 0",
      'pools.webfarm.origins[1].url: must be http(s)://host[:port] with no path, query, fragment or credentials, got "http://127.0.0.1:9102/app"',
      "pools.webfarm.origins[1].weight: must be 0-256, got 1000",
      "pools.webfarm.origins[1].colour: is not a known key (unknown keys are errors)",
      'pools.webfarm.origins[2].name: duplicates origins[0].name, got "web01"',
      'pools.api.check.timeout: must not exceed check.interval (1s), got "2s"',
      'pools.api.origins[0].url: must be http(s)://host[:port] with no path, query, fragment or credentials, got "ftp://10.0.0.9"',
      'routes[0].pool: names no pool (pools are webfarm, api), got "shop"',
    ]);
  });

  it("a missing key is reported after what its parent holds", () => {
    expect(lines(parseConfig({ listen: 1, pools: { webfarm: { origins: [{ url: "x" }] } } }))).toEqual([
      "listen: must be a listener {host, port} or a list of them, got 1",
      'pools.webfarm.origins[0].url: must be http(s)://host[:port] with no path, query, fragment or credentials, got "x"',
      "pools.webfarm.origins[0].name: is required",
    ]);
  });
});

describe("rules across fields", () => {
  it("duplicate origin names in a pool: each repeat names the first", () => {
    const r = parseConfig(
      with_((c) =>
        c.pools.webfarm.origins.push(
          { name: "web01", url: "http://127.0.0.1:9103" },
          { name: "web02", url: "http://127.0.0.1:9104" },
          { name: "web01", url: "http://127.0.0.1:9105" },
        ),
      ),
    );
    expect(lines(r)).toEqual([
      'pools.webfarm.origins[2].name: duplicates origins[0].name, got "web01"',
      'pools.webfarm.origins[3].name: duplicates origins[1].name, got "web02"',
      'pools.webfarm.origins[4].name: duplicates origins[0].name, got "web01"',
    ]);
  });

  it("the same origin name in two pools is fine", () => {
    ok(parseConfig(with_((c) => (c.pools.other = { origins: [{ name: "web01", url: "http://127.0.0.1:9201" }] }))));
  });

  it("a route to an unknown pool", () => {
    expect(lines(parseConfig(with_((c) => (c.routes = [{ host: ["a.no"], pool: "webfarm" }, { host: ["b.no"], pool: "shop" }]))))).toEqual([
      'routes[1].pool: names no pool (pools are webfarm), got "shop"',
    ]);
  });

  it("defaultPool unknown", () => {
    expect(lines(parseConfig(with_((c) => (c.defaultPool = "shop"))))).toEqual(['defaultPool: names no pool (pools are webfarm), got "shop"']);
  });

  // Object.prototype's names are not pools: `cfg.pools["constructor"]` is a function
  it.each(["constructor", "toString", "hasOwnProperty", "__proto__"])("a pool named %j that does not exist is unknown", (name) => {
    const r = parseConfig(
      with_((c) => {
        c.defaultPool = name;
        c.routes = [{ host: ["a.no"], pool: name }];
      }),
    );
    expect(lines(r)).toEqual(
      name === "__proto__"
        ? [
            // not a valid pool name in the first place; reported once per path
            "defaultPool: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got \"__proto__\"",
            "routes[0].pool: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got \"__proto__\"",
          ]
        : [`defaultPool: names no pool (pools are webfarm), got "${name}"`, `routes[0].pool: names no pool (pools are webfarm), got "${name}"`],
    );
  });

  it("check.timeout longer than check.interval", () => {
    expect(lines(parseConfig(with_((c) => (c.pools.webfarm.check = { interval: "2s", timeout: "2001ms" }))))).toEqual([
      'pools.webfarm.check.timeout: must not exceed check.interval (2s), got "2001ms"',
    ]);
    expect(lines(parseConfig(with_((c) => (c.pools.webfarm.check = { timeout: "3s" }))))).toEqual([
      'pools.webfarm.check.timeout: must not exceed check.interval (2s), got "3s"',
    ]);
    expect(ok(parseConfig(with_((c) => (c.pools.webfarm.check = { interval: "2s", timeout: "2s" })))).pools.webfarm.check.timeout).toBe(2000);
  });

  it("an invalid interval is reported once, without a timeout issue as well", () => {
    expect(lines(parseConfig(with_((c) => (c.pools.webfarm.check = { interval: "fast", timeout: "1s" }))))).toEqual([
      'pools.webfarm.check.interval: must be a duration with a unit (ms, s, m, h), such as "2s", got "fast"',
    ]);
  });
});

describe("origin url", () => {
  const bad = "must be http(s)://host[:port] with no path, query, fragment or credentials";
  it.each([
    ["http://127.0.0.1:9101", "http://127.0.0.1:9101"],
    ["http://127.0.0.1:9101/", "http://127.0.0.1:9101"],
    ["http://web01.oslo.example.no", "http://web01.oslo.example.no"],
    ["http://WEB01:80", "http://web01"],
    ["https://10.0.0.1:443", "https://10.0.0.1"],
    ["http://[::1]:9101", "http://[::1]:9101"],
  ])("%j -> %j", (url, expected) => {
    expect(ok(parseConfig(with_((c) => (c.pools.webfarm.origins[0].url = url)))).pools.webfarm.origins[0].url).toBe(expected);
  });

  it.each([
    ["a path", "http://127.0.0.1:9101/app"],
    ["a query", "http://127.0.0.1:9101/?x=1"],
    ["a fragment", "http://127.0.0.1:9101/#top"],
    ["credentials", "http://user:pass@127.0.0.1:9101"],
    ["a user only", "http://user@127.0.0.1:9101"],
    ["a non-http scheme", "ftp://127.0.0.1:9101"],
    ["a ws scheme", "ws://127.0.0.1:9101"],
    ["no scheme", "127.0.0.1:9101"],
    ["nothing", ""],
  ])("%s is refused", (_, url) => {
    expect(lines(parseConfig(with_((c) => (c.pools.webfarm.origins[0].url = url))))).toEqual([
      `pools.webfarm.origins[0].url: ${bad}, got ${JSON.stringify(url)}`,
    ]);
  });

  it("a number", () => {
    expect(lines(parseConfig(with_((c) => (c.pools.webfarm.origins[0].url = 9101))))).toEqual([
      'pools.webfarm.origins[0].url: must be a URL string such as "http://10.0.0.1:80", got 9101',
    ]);
  });
});

describe("parseConfigText", () => {
  it.each([
    ["{", /^\(file\): is not valid JSON: .+/],
    ["", /^\(file\): is not valid JSON: .+/],
    ['{ "listen": { "port": 8080, } }', /^\(file\): is not valid JSON: .+/],
    ["// comment\n{}", /^\(file\): is not valid JSON: .+/],
  ])("%j -> one (file) issue", (text, line) => {
    const r = parseConfigText(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0].path).toBe("(file)");
    expect(r.issues[0].value).toBeUndefined();
    expect(formatIssue(r.issues[0])).toMatch(line);
  });

  it("valid JSON that is not a config goes through the schema", () => {
    expect(lines(parseConfigText("[]"))).toEqual(["(root): must be an object, got []"]);
    expect(lines(parseConfigText('{"listen":{"port":8080}}'))).toEqual(["pools: is required"]);
  });
});

describe("parseStatusSpec (HAProxy's http-check expect status)", () => {
  it.each<[string, [number, number][]]>([
    ["200", [[200, 200]]],
    ["2xx", [[200, 299]]],
    ["1xx", [[100, 199]]],
    ["5xx", [[500, 599]]],
    ["200-399", [[200, 399]]],
    ["204-204", [[204, 204]]],
    ["100-599", [[100, 599]]],
    ["200,301-302", [[200, 200], [301, 302]]],
    ["2xx, 301 ,404", [[200, 299], [301, 301], [404, 404]]],
  ])("%j -> %j", (spec, ranges) => {
    expect(parseStatusSpec(spec)).toEqual(ranges);
  });

  it.each(["", "abc", "20", "2000", "099", "600", "0xx", "6xx", "2XX", "x2x", "399-200", "200-600", "99-200", "200,", ",200", "200;301", "200 301", "-200", "200-"])(
    "%j is refused",
    (spec) => {
      expect(parseStatusSpec(spec)).toBeUndefined();
    },
  );
});
