// The one test config both builds run with: the Worker gets it as the EDGELB_CONFIG binding
// (vitest.config.ts), the Node run of the behaviour suite parses it and starts a Balancer with it
// (test/behaviour/node.test.ts). Runtime-neutral: no node:*, no cloudflare:*.

/**
 * Secrets the config refers to: example values for tests only (production: `wrangler secret put
 * NAME`, or the environment of the Node build). Inside workerd they are bindings (env.NAME); the
 * Node run puts them in process.env.
 */
export const TEST_SECRETS = {
  EDGELB_ADMIN_TOKEN: "test-admin-token",
  EDGELB_STATS_TOKEN: "test-stats-token",
} as const;

/**
 * Origins the config names (test/worker/origin-http.ts processes). a, b, c: plain; h: the behaviour
 * suite keeps it in mode "hang"; x: the behaviour suite keeps it in mode "close".
 */
export const CONFIG_ORIGINS = ["a", "b", "c", "h", "x"] as const;
/** How many refused ports the config uses. */
export const DEAD_PORTS = 2;

/** The Host header that routes to behaviour pool `pool`. */
export function hostOf(pool: string): string {
  return `${pool}.test`;
}

/**
 * Pools of the behaviour suite (test/behaviour/cases.ts), one per case so that no case moves
 * another's round-robin or health. Checks are off unless a case is about them, so health changes
 * only by what the case itself does.
 */
function behaviourPools(at: (name: string) => string, dead: readonly string[]) {
  const noChecks = { check: { enabled: false } };
  const o = (name: string, extra: Record<string, unknown> = {}) => ({ name, url: at(name), ...extra });
  return {
    alternate: { origins: [o("a"), o("b")], ...noChecks },
    // WebSocket upgrades (test/worker/websocket.test.ts)
    ws: { origins: [o("a"), o("b")], ...noChecks },
    wsdead: { origins: [{ name: "dead", url: dead[0] }, o("a")], ...noChecks },
    weights: { origins: [o("a", { weight: 3 }), o("b", { weight: 1 })], ...noChecks },
    paths: { origins: [o("a"), o("b")], ...noChecks },
    headers: { origins: [o("a")], ...noChecks },
    hostheader: { origins: [o("a")], ...noChecks },
    badconn: { origins: [o("a")], ...noChecks },
    resheaders: { origins: [o("b")], ...noChecks },
    cookies: { origins: [o("b")], ...noChecks },
    post: { origins: [o("a")], ...noChecks },
    head: { origins: [o("a")], ...noChecks },
    redirect: { origins: [o("b")], ...noChecks },
    // a backup to go to once b is ejected
    midbody: { origins: [o("b"), o("a", { backup: true })], ...noChecks },
    stall: { origins: [o("b"), o("a", { backup: true })], timeouts: { idle: "300ms" }, ...noChecks },
    // the total deadline (the client's budget) ends the exchange, not the origin's turn
    deadline: { origins: [o("h")], timeouts: { total: "300ms" }, ...noChecks },
    deadlinebody: { origins: [o("b")], timeouts: { total: "300ms" }, ...noChecks },
    // "0": no header timeout (HAProxy's and undici's meaning of 0)
    noheadertimeout: { origins: [o("b")], timeouts: { header: "0" }, ...noChecks },
    dead: { origins: [{ name: "dead", url: dead[0] }, o("a")], ...noChecks },
    deadpost: { origins: [{ name: "dead", url: dead[0] }, o("a")], ...noChecks },
    hung: { origins: [o("h"), o("b")], timeouts: { header: "400ms" }, ...noChecks },
    hungsolo: { origins: [o("h")], timeouts: { header: "250ms" }, ...noChecks },
    // b as a backup: the POST always goes to h first, and a replay would have somewhere to go
    hungpost: { origins: [o("h"), o("b", { backup: true })], timeouts: { header: "400ms" }, ...noChecks },
    // no redispatch: a retry goes back to x (which closes every connection), never to b
    sameorigin: {
      origins: [o("x"), o("b")],
      redispatch: false,
      retries: 2,
      passive: { enabled: false },
      ...noChecks,
    },
    // active checks mark both down; one failed check takes an origin down
    alldead: {
      origins: [
        { name: "dead1", url: dead[0] },
        { name: "dead2", url: dead[1] },
      ],
      check: { interval: "250ms", timeout: "200ms" },
    },
  };
}

/**
 * The test config. Pool "webfarm" (the default) is origins a, b, c; pool "withdead" (Host
 * withdead.test) is a refused port plus a; every behaviour pool P is reached with Host P.test.
 */
export function testConfig(origins: Record<string, number>, deadPorts: readonly number[]) {
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const at = (name: string) => {
    if (!origins[name]) throw new Error(`testConfig: no port for origin ${name}`);
    return url(origins[name]);
  };
  if (deadPorts.length < DEAD_PORTS) throw new Error(`testConfig: needs ${DEAD_PORTS} dead ports`);
  const dead = deadPorts.map(url);
  const behaviour = behaviourPools(at, dead);
  return {
    listen: { host: "127.0.0.1", port: 0 }, // required by the schema; the Worker ignores it
    pools: {
      webfarm: { origins: ["a", "b", "c"].map((name) => ({ name, url: at(name) })) },
      withdead: {
        origins: [
          { name: "dead", url: dead[0] },
          { name: "a", url: at("a") },
        ],
      },
      ...behaviour,
    },
    defaultPool: "webfarm",
    routes: [
      { host: ["withdead.test"], pool: "withdead" },
      ...Object.keys(behaviour).map((pool) => ({ host: [hostOf(pool)], pool })),
    ],
    stats: { auth: { bearerEnv: "EDGELB_STATS_TOKEN" } },
    admin: { auth: { bearerEnv: "EDGELB_ADMIN_TOKEN" } },
    // the behaviour suite checks mid-body breaks and deadlines on both builds: the edge watches bodies
    // (off by default there for speed; the fast path is covered in test/worker/edge.test.ts)
    edge: { watchBodies: true },
  };
}
