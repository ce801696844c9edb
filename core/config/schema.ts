import * as v from "valibot";
import { formatDuration, parseDuration } from "./duration.ts";
import { CHANGE_KINDS } from "../health/state.ts";

/**
 * A duration string with a unit ("2s", "500ms", "1m30s"), parsed to milliseconds, from `min` to `max` ms.
 * The bounds are checked on the string, so an issue shows the value as written ("2h", not 7200000).
 */
const duration = (max = 86_400_000, min = 0) =>
  v.pipe(
    v.string("must be a duration string such as \"2s\" or \"500ms\""),
    v.check((s) => parseDuration(s) !== undefined, "must be a duration with a unit (ms, s, m, h), such as \"2s\""),
    v.check((s) => !((parseDuration(s) ?? min) < min), min === 1 ? "must be more than 0" : `must be at least ${formatDuration(min)}`),
    v.check((s) => !((parseDuration(s) ?? max) > max), `must be at most ${formatDuration(max)}`),
    v.transform((s) => parseDuration(s) as number),
  );

const int = (min: number, max: number) =>
  v.pipe(
    v.number(`must be an integer ${min}-${max}`),
    v.integer(`must be an integer ${min}-${max}`),
    v.minValue(min, `must be ${min}-${max}`),
    v.maxValue(max, `must be ${min}-${max}`),
  );

const bool = v.boolean("must be true or false");
const name = v.pipe(
  v.string("must be a string"),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"),
);
/** The name of an environment variable (or wrangler secret) holding a secret; secrets are never inline. */
const envName = v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"));

/** Status expectation like HAProxy's `http-check expect status`: "200", "2xx", "200-399", or a comma list. */
export type StatusRange = readonly [number, number];
export function parseStatusSpec(spec: string): StatusRange[] | undefined {
  const out: [number, number][] = [];
  for (const raw of spec.split(",")) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([1-5])xx$/))) out.push([Number(m[1]) * 100, Number(m[1]) * 100 + 99]);
    else if ((m = p.match(/^(\d{3})-(\d{3})$/)) && Number(m[1]) <= Number(m[2])) out.push([Number(m[1]), Number(m[2])]);
    else if ((m = p.match(/^(\d{3})$/))) out.push([Number(m[1]), Number(m[1])]);
    else return undefined;
  }
  return out.every(([a, b]) => a >= 100 && b <= 599) ? out : undefined;
}
const statusSpec = v.pipe(
  v.string("must be a status spec such as \"200\", \"2xx\" or \"200-399\""),
  v.check((s) => parseStatusSpec(s) !== undefined, "must be a status spec such as \"200\", \"2xx\", \"200-399\" or a comma list of them"),
  v.transform((s) => parseStatusSpec(s) as StatusRange[]),
);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const originUrl = v.pipe(
  v.string("must be a URL string such as \"http://10.0.0.1:80\""),
  v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === "" &&
        (u.pathname === "/" || u.pathname === "") && u.search === "" && u.hash === "";
    } catch {
      return false;
    }
  }, "must be http(s)://host[:port] with no path, query, fragment or credentials"),
  // keep only scheme://host:port, without the trailing slash
  v.transform((s) => new URL(s).origin),
);

/** An absolute file path (certificates, keys, CA files); read when the config is loaded, so a bad one is named then. */
const filePath = v.pipe(v.string("must be a string"), v.regex(/^\/[^\0]*[^/]$/, "must be an absolute file path"));

const origin = v.strictObject({
  name,
  url: originUrl,
  /** Relative weight 0-256 (HAProxy's range); 0 takes no new requests. Default 1. */
  weight: v.optional(int(0, 256), 1),
  /** Most concurrent requests sent to this origin; 0 = no limit (default). Excess waits in the queue. */
  maxconn: v.optional(int(0, 100_000), 0),
  /** A backup origin takes traffic only when no primary origin is eligible. */
  backup: v.optional(bool, false),
  /** Environment variables (or wrangler secrets) holding this origin's agent keys; two during a rotation. */
  agentKeys: v.optional(v.pipe(v.array(envName, "must be a list of environment variable names"), v.maxLength(4, "must list at most 4 keys")), []),
  /** https origins: a PEM file of the CA(s) that signed its certificate, instead of the system's (Node build). */
  ca: v.optional(filePath),
  /** https origins: verify the certificate and its name (default). `false` is for a lab only, and warned about. */
  verify: v.optional(bool, true),
});

/** The `check` block of a pool; exported so cross-field rules can read a check on its own. */
export const CheckSchema = v.strictObject({
  /** Active health checks on (default) or off. */
  enabled: v.optional(bool, true),
  /** Path probed by the check. Default "/". */
  path: v.optional(v.pipe(v.string("must be a string"), v.startsWith("/", "must start with \"/\"")), "/"),
  /** Method of the check request. Default GET. */
  method: v.optional(v.pipe(v.string("must be a string"), v.regex(TOKEN, "must be an HTTP method token")), "GET"),
  /** Host header of the check; default the origin's host. */
  host: v.optional(v.string("must be a string")),
  /** Statuses that count as healthy. Default "200-399" (HAProxy's). */
  expect: v.optional(statusSpec, "200-399"),
  /** Time between checks (HAProxy `inter`). Default 2s. */
  interval: v.optional(duration(3_600_000, 1), "2s"),
  /** Time a check may take; at most `interval`. Default 1s, or `interval` when that is shorter. */
  timeout: v.optional(duration(60_000, 1), "1s"),
  /** Consecutive successes to go up. Default 2. */
  rise: v.optional(int(1, 100), 2),
  /** Consecutive failures to go down. Default 3. */
  fall: v.optional(int(1, 100), 3),
});

const RETRY_ON = ["conn-failure", "empty-response", "response-timeout", "502", "503", "504"] as const;
/** What counts as retryable (HAProxy `retry-on` names). */
export type RetryOn = (typeof RETRY_ON)[number];

const timeouts = v.strictObject({
  /** Time to open a connection to an origin (HAProxy `timeout connect`). Default 5s. */
  connect: v.optional(duration(), "5s"),
  /** Time from sending a request to the origin's response headers, per try. Default 30s. */
  header: v.optional(duration(), "30s"),
  /** Longest silence while a response body streams (HAProxy `timeout server`). Default 30s. */
  idle: v.optional(duration(), "30s"),
  /** Deadline for the whole exchange, retries included; 0 = none. Default 0. */
  total: v.optional(duration(), "0"),
  /** Longest wait for a free slot when every origin is at maxconn (HAProxy `timeout queue`). Default 5s. */
  queue: v.optional(duration(), "5s"),
  /** Longest silence (both ways) on an upgraded connection such as a WebSocket (HAProxy `timeout tunnel`); 0 = none. Default 1h. */
  tunnel: v.optional(duration(), "1h"),
});

const passive = v.strictObject({
  /** Passive ejection on real traffic (refused connections, timeouts, runs of 5xx). Default on. */
  enabled: v.optional(bool, true),
  /** First ejection time; each further ejection adds one more (Envoy's base_ejection_time). Default 5s. */
  baseEjection: v.optional(duration(), "5s"),
  /** Cap of the ejection time. Default 5m. */
  maxEjection: v.optional(duration(), "5m"),
  /** Consecutive 5xx responses that eject an origin. Default 5. */
  consecutive5xx: v.optional(int(1, 1000), 5),
});

const retryBudget = v.strictObject({
  /** Retries allowed as a share of requests in flight, in percent. Default 20. */
  percent: v.optional(int(0, 100), 20),
  /**
   * Retries allowed at once even when the credit is spent (Envoy's min_retry_concurrency). Default 0:
   * with fast failures (every origin answering 503 in a millisecond) a floor of a few concurrent
   * retries is never reached, and would let every request retry (test/faults/g09-all-503.test.ts).
   */
  minConcurrent: v.optional(int(0, 10_000), 0),
});

const pool = v.strictObject({
  /** Selection policy: roundrobin (smooth weighted round-robin), leastconn, random (power of two choices), source (client address affinity). Default roundrobin. */
  balance: v.optional(v.picklist(["roundrobin", "leastconn", "random", "source"], "must be one of roundrobin, leastconn, random, source"), "roundrobin"),
  origins: v.pipe(v.array(origin, "must be a list of origins"), v.minLength(1, "must list at least one origin")),
  check: v.optional(CheckSchema, {}),
  /** Extra tries after the first (HAProxy `retries`). Default 3. */
  retries: v.optional(int(0, 10), 3),
  /** Send a retry to another origin than the one that failed (HAProxy `option redispatch`). Default true. */
  redispatch: v.optional(bool, true),
  /** Failures that may be retried. Default conn-failure, empty-response, response-timeout. */
  retryOn: v.optional(
    v.array(v.picklist(RETRY_ON, `must be one of ${RETRY_ON.join(", ")}`), "must be a list"),
    ["conn-failure", "empty-response", "response-timeout"],
  ),
  /** Methods retried after their bytes reached an origin. Default GET, HEAD, OPTIONS; add PUT/DELETE to opt in. */
  retryMethods: v.optional(
    v.array(v.picklist(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"], "must be one of GET, HEAD, OPTIONS, PUT, DELETE, TRACE"), "must be a list"),
    ["GET", "HEAD", "OPTIONS"],
  ),
  retryBudget: v.optional(retryBudget, {}),
  /** Largest request body kept for a replay; a larger body is never retried once sent. Default 64 KiB. */
  replayBufferBytes: v.optional(int(0, 16 * 1024 * 1024), 65_536),
  timeouts: v.optional(timeouts, {}),
  passive: v.optional(passive, {}),
  /** Linear weight ramp after an origin comes back up (HAProxy `slowstart`); 0 = off. Default 0. */
  slowStart: v.optional(duration(), "0"),
  /** Requests that may wait for a slot when every origin is at maxconn. Default 1024. */
  maxQueue: v.optional(int(0, 1_000_000), 1024),
});

const certificate = v.strictObject({
  /** PEM file: the certificate, then its chain (intermediates). */
  cert: filePath,
  /** PEM file: its private key. */
  key: filePath,
});

const listener = v.strictObject({
  host: v.optional(v.string("must be a string"), "0.0.0.0"),
  port: int(0, 65_535),
  /**
   * Bind with SO_REUSEPORT (Linux; Node >= 22.12), so a new `edgelb serve` can listen on the same
   * port while the old one, sent SIGTERM, drains: a restart refuses no connection. Default false.
   */
  reusePort: v.optional(bool, false),
  /**
   * Listening sockets for this address in the one process (Linux: SO_REUSEPORT; the kernel spreads
   * new connections over them). libuv accepts one connection per readiness event of a listening
   * socket, and a process busy with thousands of connections sees that event a few dozen times a
   * second: a burst of new connections then waits in the accept queue for seconds. N sockets accept
   * N at a time (README, Benchmarks: at 9,000 connections in a loaded process 1 left 4,000 waiting,
   * 64 drained the queue at about 1,300 a second, 256 at about 4,000). Unless `reusePort` is set,
   * the port is first checked free, so a second instance still fails with EADDRINUSE. Default 1.
   */
  acceptors: v.optional(int(1, 1024), 1),
  /** HTTPS on this listener (TLS 1.2 and 1.3 only). Certificates are re-read on SIGHUP. */
  tls: v.optional(
    v.strictObject({
      /** The first is the default; each other one is served to clients asking for a name it holds (SNI, from its subjectAltName). */
      certificates: v.pipe(v.array(certificate, "must be a list of {cert, key}"), v.minLength(1, "must list at least one certificate")),
      /** Offer HTTP/2 (ALPN h2) next to HTTP/1.1. Default true. */
      http2: v.optional(bool, true),
    }),
  ),
  /** Answer every request on this listener with a redirect (308) to https on this port, e.g. 443. */
  redirectHttps: v.optional(int(1, 65_535)),
});

/** One listener, or a list of them (say HTTPS on 443 and a redirect on 80); used as a list. */
const listen = v.pipe(
  v.union([listener, v.pipe(v.array(listener, "must be a list of listeners"), v.minLength(1, "must list at least one listener"))], "must be a listener {host, port} or a list of them"),
  v.transform((l) => (Array.isArray(l) ? l : [l])),
);

/** An http(s) URL without credentials (a webhook's, the agent's health and report URLs); `example` goes in the message. */
export function httpUrl(example: string) {
  return v.pipe(
    v.string(`must be a URL string such as "${example}"`),
    v.check((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === "";
      } catch {
        return false;
      }
    }, "must be an http(s) URL without credentials"),
  );
}

const webhook = v.strictObject({
  /** Where each event is POSTed (http or https). */
  url: httpUrl("https://hooks.example.no/edgelb"),
  /** Environment variable (or wrangler secret) holding the signing secret (`whsec_...` or any string), as for agent keys. */
  secretEnv: envName,
  /** Kinds of change sent: down, up, ejected, returned, admin, weight, agent. Default all. */
  events: v.optional(
    v.pipe(
      v.array(v.picklist(CHANGE_KINDS, `must be one of ${CHANGE_KINDS.join(", ")}`), "must be a list"),
      v.minLength(1, "must list at least one kind (remove the webhook to send none)"),
    ),
    [...CHANGE_KINDS],
  ),
});

const route = v.strictObject({
  /** Host names (exact, or "*.example.no" for a suffix) routed to `pool`. */
  host: v.pipe(v.array(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty")), "must be a list of host names"), v.minLength(1, "must list at least one host")),
  pool: name,
});

const basicUser = v.strictObject({ user: v.string("must be a string"), passwordEnv: envName });
const auth = v.strictObject({
  /** Users for HTTP Basic auth; each password comes from an environment variable. */
  basic: v.optional(v.array(basicUser, "must be a list"), []),
  /** Environment variable holding a bearer token. */
  bearerEnv: v.optional(envName),
});

/** The edgelb.json schema: one file drives both builds. */
export const ConfigSchema = v.strictObject({
  $schema: v.optional(v.string("must be a string")),
  listen,
  /** Prefix of the control routes. Default "/__edgelb". */
  prefix: v.optional(v.pipe(v.string("must be a string"), v.regex(/^\/[A-Za-z0-9_.~-]+(\/[A-Za-z0-9_.~-]+)*$/, "must be a path like \"/__edgelb\"")), "/__edgelb"),
  pools: v.pipe(v.record(name, pool, "must be an object of pools by name"), v.check((p) => Object.keys(p).length > 0, "must define at least one pool")),
  /** Pool for requests no route matches; default the first pool. */
  defaultPool: v.optional(name),
  routes: v.optional(v.array(route, "must be a list of routes"), []),
  forwardFor: v.optional(
    v.strictObject({
      /** Set X-Forwarded-For/-Proto/-Host (HAProxy `option forwardfor`). Default true. */
      enabled: v.optional(bool, true),
      /** Also set RFC 7239 `Forwarded`. Default false. */
      forwarded: v.optional(bool, false),
      /** Peers (IP addresses) whose X-Forwarded-* headers are kept and extended; others' are discarded. */
      trustedProxies: v.optional(v.array(v.string("must be a string"), "must be a list of IP addresses"), []),
    }),
    {},
  ),
  client: v.optional(
    v.strictObject({
      /** Time a client has to send the request headers (slowloris guard). Default 10s. */
      headerTimeout: v.optional(duration(), "10s"),
      /** Idle keep-alive time of a client connection. Default 65s. */
      keepAlive: v.optional(duration(), "65s"),
      /** Largest request head (line + headers), in bytes. Default 16384. */
      maxHeaderBytes: v.optional(int(1024, 1_048_576), 16_384),
      /** Most concurrent client connections; 0 = no limit (HAProxy `maxconn`). Default 0. */
      maxConnections: v.optional(int(0, 1_000_000), 0),
      /**
       * What a client's FIN (it shut its write side) does to the requests it has in progress (Node
       * build, HTTP/1). `abort` (default, as nginx): the client left; they are aborted and their origin
       * slots freed at once (a browser's stop button or an aborted fetch sends just a FIN).
       * `answer` (HAProxy's default): requests already sent to an origin are answered, then the
       * connection closes, for clients that half-close after their request (`nc -N`, scripts,
       * checkers); one still waiting for a slot is dropped (HAProxy's `option abortonclose`).
       */
      halfClose: v.optional(v.picklist(["abort", "answer"], "must be abort or answer"), "abort"),
    }),
    {},
  ),
  stats: v.optional(
    v.strictObject({
      /** Who may read stats. Without auth, stats answer only clients on loopback. */
      auth: v.optional(auth),
    }),
    {},
  ),
  admin: v.optional(v.strictObject({ auth: v.optional(auth) }), {}),
  /** Logs of the Node build: JSON lines, events and one line per request. */
  log: v.optional(
    v.strictObject({
      /** One JSON line per request with HAProxy httplog's fields (client, pool, origin, Tq/Tw/Tc/Tr/Tt, status, bytes, retries, termination state). Default true. */
      requests: v.optional(bool, true),
      /**
       * Skip connections that sent no request at all (HAProxy `option dontlognull`). Off, each such
       * connection (port scans, browsers' unused preconnects) gets a line with termination CR. Default true.
       */
      dontlognull: v.optional(bool, true),
      /** Where lines go: "stderr" (default), "stdout", or an absolute file path (appended; reopened on SIGHUP, for logrotate). */
      to: v.optional(
        v.pipe(
          v.string("must be a string"),
          v.check((s) => s === "stderr" || s === "stdout" || /^\/[^\0]*[^/]$/.test(s), "must be \"stderr\", \"stdout\" or an absolute file path"),
        ),
        "stderr",
      ),
    }),
    {},
  ),
  /** Notifications of the Node build: a signed webhook on every origin state change. */
  notify: v.optional(
    v.strictObject({
      /** Receivers of origin state changes, each POSTed a JSON event signed like agent reports (Standard Webhooks). */
      webhooks: v.optional(v.array(webhook, "must be a list of webhooks"), []),
      /** Tries per event and receiver, the first included; then it is dropped with a warn log. Default 5. */
      attempts: v.optional(int(1, 20), 5),
      /** Wait before the first retry; doubled each retry, with jitter (between half and the full value). Default 1s. */
      backoff: v.optional(duration(600_000, 1), "1s"),
      /** Longest wait between two tries. Default 5m. */
      maxBackoff: v.optional(duration(86_400_000, 1), "5m"),
      /** Time one try may take (connect, answer and body). Default 5s. */
      timeout: v.optional(duration(60_000, 1), "5s"),
      /** Deliveries waiting at most (all receivers); past it the oldest is dropped, counted and logged at warn. Default 1000. */
      queue: v.optional(int(1, 1_000_000), 1000),
    }),
    {},
  ),
  /** Settings of the edge build (Cloudflare Worker + Durable Object); the Node build ignores them. */
  edge: v.optional(
    v.strictObject({
      /** How long an isolate uses its cached health snapshot before refreshing it in the background. Default 2s. */
      snapshotTtl: v.optional(duration(60_000, 1), "2s"),
      /** How long a cold isolate waits for its first snapshot before going on with every origin eligible. Default 100ms. */
      coldWait: v.optional(duration(5_000), "100ms"),
      /** Outcomes on real traffic are sent to the Durable Object at most once per this interval. Default 1s. */
      flushInterval: v.optional(duration(60_000, 1), "1s"),
      /** Without an answer from the Durable Object for this long, the stale snapshot is dropped. Default 1m. */
      maxStale: v.optional(duration(3_600_000, 1), "1m"),
      /**
       * Watch every response body to its end (a break mid-body is charged to the origin, the total
       * deadline cuts a slow body). It costs a stream pipe per request, about 40 % of the edge's
       * throughput, so it is off by default; the client sees a broken body as cut either way. Default false.
       */
      watchBodies: v.optional(bool, false),
      /** Keep health data in this jurisdiction ("eu": Personopplysningsloven/GDPR). Default none. */
      jurisdiction: v.optional(v.picklist(["eu", "fedramp"], "must be eu or fedramp")),
      /** Where to create the Durable Objects (e.g. "weur" for Oslo). Default none. */
      locationHint: v.optional(
        v.picklist(["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"], "must be one of wnam, enam, sam, weur, eeur, apac, oc, afr, me"),
      ),
    }),
    {},
  ),
});

/** The config as written (input) and as used (output, with defaults and durations in ms). */
export type ConfigInput = v.InferInput<typeof ConfigSchema>;
export type Config = v.InferOutput<typeof ConfigSchema> & { defaultPool: string };
export type PoolConfig = Config["pools"][string];
export type OriginConfig = PoolConfig["origins"][number];
export type CheckConfig = PoolConfig["check"];
export type AuthConfig = v.InferOutput<typeof auth>;
export type ListenerConfig = v.InferOutput<typeof listener>;
