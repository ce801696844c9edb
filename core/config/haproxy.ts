import { formatDuration } from "./duration.ts";

/**
 * haproxy.cfg -> edgelb.json. Maps what edgelb has an equivalent for (listen/frontend/backend,
 * server lines, balance, retries, redispatch, httpchk, forwardfor, stats, timeouts including the
 * 1.4 names, maxconn, defaults inheritance, Host ACL routes) and names every directive it cannot
 * map, or maps only approximately, in a note with its line number. Pure: no I/O.
 */

/** One thing the import could not carry over as is: its line (1-based), the directive, why. */
export interface ImportNote {
  line: number;
  directive: string;
  message: string;
}

export interface ImportResult {
  /** An edgelb.json object (without `$schema`): only what the haproxy.cfg sets, edgelb's defaults elsewhere. */
  config: Record<string, unknown>;
  /** In line order. */
  notes: ImportNote[];
}

interface Line {
  n: number;
  words: string[];
}

interface Setting<T> {
  value: T;
  line: number;
}

interface ServerOpts {
  check?: Setting<boolean>;
  inter?: Setting<number>;
  rise?: Setting<number>;
  fall?: Setting<number>;
  weight?: Setting<number>;
  maxconn?: Setting<number>;
  slowstart?: Setting<number>;
  backup?: boolean;
  disabled?: Setting<boolean>;
  ssl?: boolean;
}

interface Server extends ServerOpts {
  name: string;
  addr: string;
  line: number;
}

interface Bind {
  host: string;
  port: number;
  line: number;
  text: string;
  /** `ssl crt FILE...`: the PEM files (certificate and key in one, as HAProxy reads them); `alpn h2`. */
  tls?: { crts: string[]; h2: boolean };
}

type Kind = "defaults" | "listen" | "frontend" | "backend";

/** One proxy section with what it inherited from its defaults section applied first. */
interface Proxy {
  kind: Kind;
  name: string;
  line: number;
  binds: Bind[];
  /** Line of a `redirect scheme https` (or `http-request redirect scheme https`): its plain binds redirect. */
  redirectHttps?: number;
  servers: Server[];
  defaultServer: ServerOpts;
  balance?: Setting<string[]>;
  retries?: Setting<number>;
  redispatch?: Setting<boolean>;
  forwardFor?: Setting<boolean>;
  httpchk?: Setting<{ method: string; path: string; host?: string }>;
  expect?: Setting<string>;
  timeouts: Map<string, Setting<number>>;
  maxconn?: Setting<number>;
  allbackups?: boolean;
  statsEnable?: Setting<boolean>;
  statsUri?: Setting<string>;
  statsAuth: Setting<string>[];
  defaultBackend?: Setting<string>;
  useBackends: { backend: string; cond: string[]; line: number }[];
  acls: Map<string, Line[]>;
}

const MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DAY = 86_400_000;

const LOG_NOTE = "edgelb writes its own logs (JSON lines on stdout/stderr; under systemd, journald keeps them); HAProxy's syslog targets and log options are not imported";
const KEEPALIVE_NOTE = "edgelb keeps client connections alive itself and reaches origins over keep-alive connection pools; nothing to configure (ignored)";
const PERSIST_NOTE = "edgelb has no session persistence (cookies, stick tables): every request is balanced on its own; keep sessions in a store shared by the origins";
const PROCESS_NOTE = "edgelb runs in the foreground as one process; let systemd (or another supervisor) run it as a service (see the unit in deploy/)";
const USER_NOTE = "edgelb does not switch users itself: run it as an unprivileged user (systemd User=/Group=; AmbientCapabilities=CAP_NET_BIND_SERVICE to bind a port below 1024)";

/** Directives with a known reason for not being imported, named in the note. */
const IGNORED: Record<string, string> = {
  log: LOG_NOTE,
  "log-format": LOG_NOTE,
  "log-tag": LOG_NOTE,
  "log-send-hostname": LOG_NOTE,
  capture: LOG_NOTE,
  "unique-id-format": LOG_NOTE,
  "unique-id-header": LOG_NOTE,
  user: USER_NOTE,
  group: USER_NOTE,
  uid: USER_NOTE,
  gid: USER_NOTE,
  chroot: "edgelb does not chroot itself; use systemd's sandboxing (ProtectSystem=, RootDirectory=) instead",
  daemon: PROCESS_NOTE,
  "master-worker": PROCESS_NOTE,
  nbproc: "edgelb is one Node.js process; run more behind a port shared with reusePort if one core is not enough",
  nbthread: "edgelb is one Node.js process; run more behind a port shared with reusePort if one core is not enough",
  "cpu-map": PROCESS_NOTE,
  pidfile: PROCESS_NOTE,
  "ulimit-n": "set the open-file limit in the service unit (systemd LimitNOFILE=)",
  quiet: PROCESS_NOTE,
  debug: PROCESS_NOTE,
  "monitor-uri": "edgelb's own liveness check is GET <prefix>/healthz (/__edgelb/healthz by default); point the monitor there",
  cookie: PERSIST_NOTE,
  appsession: PERSIST_NOTE,
  "stick-table": PERSIST_NOTE,
  stick: PERSIST_NOTE,
  persist: PERSIST_NOTE,
  "force-persist": PERSIST_NOTE,
  "ignore-persist": PERSIST_NOTE,
  "hash-type": "edgelb's balance source hashes by weighted rendezvous (consistent by nature); ignored",
  "http-reuse": KEEPALIVE_NOTE,
  fullconn: "edgelb has no dynamic maxconn (minconn/fullconn); set maxconn on each origin",
  errorfile: "edgelb answers its own errors (502, 503 with Retry-After, 504); custom error pages are not imported",
  errorloc: "edgelb answers its own errors (502, 503 with Retry-After, 504); custom error pages are not imported",
  errorloc302: "edgelb answers its own errors (502, 503 with Retry-After, 504); custom error pages are not imported",
  errorloc303: "edgelb answers its own errors (502, 503 with Retry-After, 504); custom error pages are not imported",
  errorfiles: "edgelb answers its own errors (502, 503 with Retry-After, 504); custom error pages are not imported",
  description: "descriptions are not kept",
  id: "numeric ids are not kept",
  "spread-checks": "edgelb spreads its checks itself; ignored",
  "max-spread-checks": "edgelb spreads its checks itself; ignored",
};

/** `option` names and why they are not imported (the mapped ones are handled in `option`). */
const IGNORED_OPTIONS: Record<string, string> = {
  httplog: LOG_NOTE,
  tcplog: LOG_NOTE,
  dontlognull: "edgelb already skips connections that sent nothing (log.dontlognull, on by default); nothing to import",
  "dontlog-normal": LOG_NOTE,
  "log-health-checks": "edgelb logs every health state change itself; ignored",
  "log-separate-errors": LOG_NOTE,
  logasap: LOG_NOTE,
  httpclose: KEEPALIVE_NOTE,
  forceclose: KEEPALIVE_NOTE,
  "http-server-close": KEEPALIVE_NOTE,
  "http-keep-alive": KEEPALIVE_NOTE,
  "http-tunnel": KEEPALIVE_NOTE,
  "http-pretend-keepalive": KEEPALIVE_NOTE,
  "http-no-delay": KEEPALIVE_NOTE,
  persist: PERSIST_NOTE,
  abortonclose: "edgelb aborts a request whose client goes away (its FIN included), queued or sent: client.halfClose \"abort\", the default; ignored",
  "ssl-hello-chk": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  "tcp-check": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  "mysql-check": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  "pgsql-check": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  "redis-check": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  smtpchk: "edgelb's active checks are HTTP requests; other check kinds are not imported",
  "ldap-check": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  "external-check": "edgelb's active checks are HTTP requests; other check kinds are not imported",
  originalto: "edgelb does not add X-Original-To; ignored",
};

/** Server options that take no argument (every other known option takes one). */
const SERVER_FLAGS = new Set([
  "check", "no-check", "backup", "no-backup", "disabled", "enabled", "ssl", "no-ssl", "check-ssl", "no-check-ssl",
  "send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "no-send-proxy", "no-send-proxy-v2",
  "check-send-proxy", "agent-check", "no-agent-check", "non-stick", "stick", "tfo", "no-tfo", "allow-0rtt", "no-verifyhost",
  "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "no-sslv3", "no-tlsv10", "no-tlsv11",
  "no-tlsv12", "no-tlsv13", "no-tls-tickets", "tls-tickets", "ssl-reuse", "no-ssl-reuse", "check-via-socks4",
]);
const SERVER_ARGS = new Set([
  "weight", "maxconn", "minconn", "maxqueue", "inter", "fastinter", "downinter", "rise", "fall", "slowstart", "port", "addr",
  "cookie", "id", "observe", "on-error", "on-marked-down", "on-marked-up", "error-limit", "track", "agent-port", "agent-inter",
  "agent-addr", "agent-send", "verify", "ca-file", "crt", "sni", "alpn", "check-sni", "check-alpn", "resolvers", "resolve-prefer",
  "resolve-net", "resolve-opts", "init-addr", "redir", "source", "pool-max-conn", "pool-purge-delay", "pool-low-conn", "max-reuse",
  "proto", "namespace", "ciphers", "ciphersuites", "crl-file", "verifyhost", "ssl-min-ver", "ssl-max-ver", "npn", "check-proto",
  "socks4", "usesrc", "shard", "hash-key", "log-proto", "ws", "sigalgs", "client-sigalgs", "curves", "guid", "set-proxy-v2-tlv-fmt",
]);
/** Why a server option is not imported. */
function serverOptionNote(opt: string): string {
  if (opt === "port" || opt === "addr") return "edgelb checks each origin at its own URL; a separate check port or address is not imported";
  if (opt === "cookie") return PERSIST_NOTE;
  if (opt.startsWith("agent-")) return "edgelb's agent is edgelb-agent, which reports to POST <prefix>/agent signed with the origin's agentKeys; not imported";
  if (opt === "fastinter" || opt === "downinter") return "edgelb checks at one interval (check.interval); not imported";
  if (opt === "verify" || opt === "ca-file" || opt === "crt" || opt === "sni" || opt === "verifyhost" || opt === "no-verifyhost")
    return "edgelb verifies an https origin's certificate with the system's CAs and the URL's host name; TLS settings are not imported";
  if (opt === "observe" || opt === "on-error" || opt === "error-limit" || opt === "on-marked-down" || opt === "on-marked-up")
    return "edgelb's passive ejection (pools.<pool>.passive) acts on errors of real traffic; not imported";
  if (opt === "minconn" || opt === "maxqueue") return "edgelb queues per pool (pools.<pool>.maxQueue, timeouts.queue); not imported";
  if (opt === "track") return "each edgelb origin is checked on its own; not imported";
  if (opt.includes("send-proxy")) return "edgelb does not speak the PROXY protocol; it sends X-Forwarded-For (forwardFor); not imported";
  return "not supported by edgelb; ignored";
}

/** Collects notes once per (line, directive, message): a defaults line applies to many proxies. */
class Notes {
  private readonly seen = new Set<string>();
  readonly list: ImportNote[] = [];
  add(line: number, directive: string, message: string): void {
    const k = `${line}\0${directive}\0${message}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.list.push({ line, directive, message });
  }
}

/** Splits one line into words as HAProxy does: quotes, backslash escapes, `#` comments. */
export function splitWords(raw: string): string[] {
  const words: string[] = [];
  let cur = "";
  let has = false;
  let quote: string | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
      continue;
    }
    if (c === "\\" && i + 1 < raw.length) {
      const d = raw[++i];
      if (d === "r") cur += "\r";
      else if (d === "n") cur += "\n";
      else if (d === "t") cur += "\t";
      else if (d === "x" && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
        cur += String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16));
        i += 2;
      } else cur += d;
      has = true;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else cur += c;
      continue;
    }
    if (c === "#") break;
    if (c === " " || c === "\t") {
      if (has) words.push(cur);
      cur = "";
      has = false;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
      continue;
    }
    cur += c;
    has = true;
  }
  if (has) words.push(cur);
  return words;
}

/** HAProxy time: an integer with an optional unit (us, ms, s, m, h, d); ms when none. */
export function parseHaproxyTime(s: string): number | undefined {
  const m = /^(\d+)(us|ms|s|m|h|d)?$/.exec(s);
  if (!m) return undefined;
  return Math.ceil(Number(m[1]) * MS[m[2] ?? "ms"]);
}

function newProxy(kind: Kind, name: string, line: number): Proxy {
  return { kind, name, line, binds: [], servers: [], defaultServer: {}, timeouts: new Map(), statsAuth: [], useBackends: [], acls: new Map() };
}

/** The directive named in a note: two words for `option X`, `timeout X`, `stats X`, `http-check X`. */
function directiveOf(words: string[]): string {
  let w = words;
  if (w[0] === "no" || w[0] === "default") w = w.slice(1);
  const two = ["option", "timeout", "stats", "http-check", "http-request", "http-response", "tcp-request", "tcp-response"];
  return (two.includes(w[0]) && w[1] ? `${w[0]} ${w[1]}` : w[0] ?? "").trim();
}

const SECTIONS = new Set(["global", "defaults", "listen", "frontend", "backend"]);
const OTHER_SECTIONS = new Set([
  "userlist", "peers", "resolvers", "mailers", "cache", "program", "http-errors", "ring", "log-forward", "crt-store",
  "traces", "acme", "fcgi-app", "http-client", "dynamic-update", "namespace_list",
]);

/** Converts haproxy.cfg text to an edgelb.json object plus notes. */
export function importHaproxy(text: string): ImportResult {
  const notes = new Notes();
  // a note made while mapping (no words at hand) names the directive written on its line
  const written = new Map<number, string>();
  const note = (l: Line, message: string, directive = l.words.length ? directiveOf(l.words) : written.get(l.n) ?? "") => notes.add(l.n, directive, message);

  // sections
  interface Section {
    head: Line;
    body: Line[];
  }
  const sections: Section[] = [];
  let skipping = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const words = splitWords(raw);
    if (!words.length) return;
    const l = { n: i + 1, words };
    written.set(l.n, directiveOf(words));
    if (SECTIONS.has(words[0])) {
      sections.push({ head: l, body: [] });
      skipping = false;
    } else if (OTHER_SECTIONS.has(words[0])) {
      note(l, `the ${words[0]} section has no edgelb equivalent; it and its lines are not imported`, words[0]);
      skipping = true;
    } else if (skipping) {
      // inside a section already noted as a whole
    } else if (!sections.length) note(l, "outside any section; ignored");
    else sections[sections.length - 1].body.push(l);
  });

  // global, defaults, proxies
  let globalMaxconn: Setting<number> | undefined;
  let defaults: Line[] = [];
  const namedDefaults = new Map<string, Line[]>();
  const proxies: Proxy[] = [];
  for (const s of sections) {
    const [kw, ...args] = s.head.words;
    if (kw === "global") {
      for (const l of s.body) {
        const d = l.words[0];
        if (d === "maxconn") {
          const n = intArg(l, 1, note);
          if (n !== undefined) globalMaxconn = { value: n, line: l.n };
        } else if (d === "stats") note(l, "edgelb has no stats socket: use the admin API (POST <prefix>/admin/..., bearer auth) and GET <prefix>/stats?format=json");
        else if (IGNORED[d]) note(l, IGNORED[d]);
        else if (d.startsWith("tune.") || d.startsWith("ssl-") || d.startsWith("lua-")) note(l, "global tuning is not imported; edgelb has no equivalent setting");
        else note(l, "not supported by edgelb; ignored");
      }
      continue;
    }
    if (kw === "defaults") {
      // `defaults [name] [from other]`: a new defaults section replaces the last one
      const name = args[0] && args[0] !== "from" ? args[0] : undefined;
      const fromIx = args.indexOf("from");
      const base = fromIx >= 0 ? namedDefaults.get(args[fromIx + 1]) ?? [] : [];
      defaults = [...base, ...s.body];
      if (name) namedDefaults.set(name, defaults);
      // its lines are checked once here, so a directive edgelb lacks is named even when no proxy follows
      const px = newProxy("defaults", name ?? "defaults", s.head.n);
      for (const l of defaults) apply(px, l, s.body.includes(l), note);
      continue;
    }
    const kind = kw as Kind;
    const name = args[0] ?? `${kind}${s.head.n}`;
    const px = newProxy(kind, name, s.head.n);
    const fromIx = args.indexOf("from");
    const inherited = fromIx >= 0 ? namedDefaults.get(args[fromIx + 1]) : defaults;
    if (fromIx >= 0 && !inherited) note(s.head, `no defaults section named ${JSON.stringify(args[fromIx + 1])}; none inherited`, kind);
    for (const l of inherited ?? []) apply(px, l, false, note);
    // `listen NAME ADDR:PORT` and `frontend NAME ADDR:PORT` (1.4): the address is a bind line
    if ((kind === "listen" || kind === "frontend") && args[1] && args[1] !== "from") {
      apply(px, { n: s.head.n, words: ["bind", args[1]] }, true, note);
    } else if (kind === "backend" && args[1] && args[1] !== "from") note(s.head, "a backend has no address; the extra words are ignored", kind);
    for (const l of s.body) apply(px, l, true, note);
    proxies.push(px);
  }

  return build(proxies, globalMaxconn, notes, note);
}

type NoteFn = (l: Line, message: string, directive?: string) => void;

function intArg(l: Line, i: number, note: NoteFn): number | undefined {
  const s = l.words[i];
  if (s === undefined || !/^\d+$/.test(s)) {
    note(l, `expects a number, got ${s === undefined ? "nothing" : JSON.stringify(s)}; ignored`);
    return undefined;
  }
  return Number(s);
}

function timeArg(l: Line, s: string | undefined, note: NoteFn): number | undefined {
  const ms = s === undefined ? undefined : parseHaproxyTime(s);
  if (ms === undefined) note(l, `expects a time such as 5000, 5s or 1m, got ${s === undefined ? "nothing" : JSON.stringify(s)}; ignored`);
  return ms;
}

const TIMEOUT_NAMES: Record<string, string> = {
  connect: "connect", server: "server", client: "client", queue: "queue", check: "check",
  "http-request": "http-request", "http-keep-alive": "http-keep-alive",
  contimeout: "connect", srvtimeout: "server", clitimeout: "client",
};

/** Applies one line to a proxy. `own`: the line is the section's own (not inherited): only then is misplacement noted. */
function apply(px: Proxy, l: Line, own: boolean, note: NoteFn): void {
  let w = l.words;
  let neg = false;
  if (w[0] === "no") (neg = true), (w = w.slice(1));
  else if (w[0] === "default" && w[1] === "option") w = w.slice(1);
  const kw = w[0];
  const here = (allowed: Kind[]) => {
    if (allowed.includes(px.kind)) return true;
    if (own) note(l, `not valid in a ${px.kind} section; ignored`);
    return false;
  };
  const set = <T>(value: T): Setting<T> => ({ value, line: l.n });
  switch (kw) {
    case "mode":
      if (w[1] !== "http") note(l, `edgelb balances HTTP only; the section is imported as mode http`);
      return;
    case "balance":
      if (here(["defaults", "listen", "backend"])) {
        if (w[1]) px.balance = set(w.slice(1));
        else note(l, "expects an algorithm; ignored");
      }
      return;
    case "retries": {
      if (!here(["defaults", "listen", "backend"])) return;
      const n = intArg({ n: l.n, words: w }, 1, note);
      if (n !== undefined) px.retries = set(n);
      return;
    }
    case "redispatch":
      if (here(["defaults", "listen", "backend"])) px.redispatch = set(!neg);
      return;
    case "option":
      return option(px, l, w[1] ?? "", w.slice(2), neg, note, set);
    case "timeout": {
      const name = TIMEOUT_NAMES[w[1] ?? ""];
      if (!name || w[1] === "contimeout" || w[1] === "srvtimeout" || w[1] === "clitimeout") {
        note(l, `edgelb has no ${w[1] ?? ""} timeout; ignored`);
        return;
      }
      const ms = timeArg(l, w[2], note);
      if (ms !== undefined) px.timeouts.set(name, set(ms));
      if (own) misplacedTimeout(px, l, name, note);
      return;
    }
    case "contimeout":
    case "srvtimeout":
    case "clitimeout": {
      const ms = timeArg(l, w[1], note);
      if (ms !== undefined) px.timeouts.set(TIMEOUT_NAMES[kw], set(ms));
      if (own) misplacedTimeout(px, l, TIMEOUT_NAMES[kw], note);
      return;
    }
    case "maxconn": {
      const n = intArg({ n: l.n, words: w }, 1, note);
      if (n !== undefined) px.maxconn = set(n);
      return;
    }
    case "bind":
      if (here(["listen", "frontend"])) bind(px, l, w.slice(1), note);
      return;
    case "server":
      if (here(["listen", "backend"])) server(px, l, w, note);
      return;
    case "default-server":
      if (here(["defaults", "listen", "backend"])) serverOptions(px.defaultServer, l, w.slice(1), note);
      return;
    case "stats":
      return stats(px, l, w, neg, note, set);
    case "default_backend":
      if (here(["defaults", "frontend", "listen"])) px.defaultBackend = set(w[1] ?? "");
      return;
    case "use_backend":
      if (here(["frontend", "listen"])) px.useBackends.push({ backend: w[1] ?? "", cond: w.slice(2), line: l.n });
      return;
    case "acl":
      if (w[1]) px.acls.set(w[1], [...(px.acls.get(w[1]) ?? []), l]);
      return;
    case "http-check":
      return httpCheck(px, l, w, note, set);
    case "enabled":
      return;
    case "disabled":
      note(l, "a disabled proxy is imported as if it were enabled; remove it from the result if it must stay off");
      return;
    default:
      if (IGNORED[kw]) note(l, IGNORED[kw]);
      else if ((kw === "redirect" && w[1] === "scheme" && w[2] === "https") || (kw === "http-request" && w[1] === "redirect" && w[2] === "scheme" && w[3] === "https")) {
        if (here(["frontend", "listen"])) px.redirectHttps = l.n;
      } else if (/^(http|tcp)-(request|response)$|^http-after-response$|^(req|rsp)i?(add|del|rep|deny|allow|tarpit|pass|setbe)$|^redirect$|^block$|^use-server$|^filter$|^compression$/.test(kw))
        note(l, "edgelb has no request or response rules; not imported");
      else note(l, "not supported by edgelb; ignored");
  }
}

/** A timeout a section of this kind does not use (HAProxy warns and ignores it too). */
function misplacedTimeout(px: Proxy, l: Line, name: string, note: NoteFn): void {
  const clientSide = name === "client" || name === "http-request" || name === "http-keep-alive";
  if (px.kind === "frontend" && !clientSide) note(l, "a server-side timeout has no effect in a frontend (HAProxy ignores it too); not imported");
  if (px.kind === "backend" && clientSide) note(l, "a client-side timeout has no effect in a backend (HAProxy ignores it too); not imported");
}

function option(px: Proxy, l: Line, name: string, args: string[], neg: boolean, note: NoteFn, set: <T>(v: T) => Setting<T>): void {
  switch (name) {
    case "redispatch":
      px.redispatch = set(!neg);
      return;
    case "forwardfor":
      px.forwardFor = set(!neg);
      if (args.length) note(l, `edgelb always sets X-Forwarded-For (and X-Forwarded-Proto/-Host) itself, trusting only forwardFor.trustedProxies; "${args.join(" ")}" is not imported`);
      return;
    case "httpchk": {
      if (neg) {
        px.httpchk = undefined;
        return;
      }
      // option httpchk | option httpchk <uri> | option httpchk <method> <uri> [<version>]
      let method = "OPTIONS", path = "/", host: string | undefined;
      if (args.length === 1) path = args[0];
      else if (args.length >= 2) {
        method = args[0];
        path = args[1];
        // the 1.4 idiom: "HTTP/1.1\r\nHost:\ www.example.com" smuggles a Host header in the version
        const m = /\r\nHost:\s*([^\r\n]+)/i.exec(args.slice(2).join(" "));
        if (m) host = m[1].trim();
        const other = args.slice(2).join(" ").split("\r\n").slice(1).filter((h) => !/^Host:/i.test(h) && h.trim());
        if (other.length) note(l, `edgelb's checks send no extra headers; ${JSON.stringify(other.join("; "))} is not imported`);
      }
      if (!path.startsWith("/")) {
        note(l, `the check path must start with "/"; using "/" instead of ${JSON.stringify(path)}`);
        path = "/";
      }
      px.httpchk = set({ method, path, ...(host ? { host } : {}) });
      return;
    }
    case "allbackups":
      px.allbackups = !neg;
      return;
    case "forwarded":
      note(l, "set forwardFor.forwarded true in the result to send RFC 7239 Forwarded as well; not imported");
      return;
    default:
      note(l, IGNORED_OPTIONS[name] ?? "not supported by edgelb; ignored");
  }
}

function httpCheck(px: Proxy, l: Line, w: string[], note: NoteFn, set: <T>(v: T) => Setting<T>): void {
  if (w[1] === "expect") {
    const [, , a, b] = w;
    if (a === "status" && b && /^\d{3}$/.test(b)) px.expect = set(b);
    else note(l, "edgelb's checks expect a status range (check.expect, default 200-399); only `http-check expect status NNN` is imported");
    return;
  }
  if (w[1] === "send") {
    // http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]...
    const cur = px.httpchk?.value ?? { method: "OPTIONS", path: "/" };
    const next: { method: string; path: string; host?: string } = { ...cur };
    for (let i = 2; i < w.length; i++) {
      if (w[i] === "meth") next.method = w[++i];
      else if (w[i] === "uri" && w[i + 1]?.startsWith("/")) next.path = w[++i];
      else if (w[i] === "hdr" && /^host$/i.test(w[i + 1] ?? "")) (next.host = w[i + 2]), (i += 2);
      else if (w[i] === "ver") i++;
      else note(l, `"${w[i]}" is not imported: edgelb's checks send a method, a path and a Host only`);
    }
    px.httpchk = set(next);
    return;
  }
  note(l, "not supported by edgelb's checks; ignored");
}

function stats(px: Proxy, l: Line, w: string[], neg: boolean, note: NoteFn, set: <T>(v: T) => Setting<T>): void {
  switch (w[1]) {
    case "enable":
      px.statsEnable = set(!neg);
      return;
    case "uri":
      px.statsEnable ??= set(true);
      px.statsUri = set(w[2] ?? "/");
      return;
    case "auth":
      px.statsEnable ??= set(true);
      px.statsAuth.push(set(w[2] ?? ""));
      return;
    case "refresh":
      note(l, "edgelb's stats page refreshes itself; ignored");
      return;
    case "admin":
      note(l, "edgelb's stats page is read-only; changes go through the admin API (POST <prefix>/admin/..., admin.auth.bearerEnv)");
      return;
    default:
      note(l, "not supported by edgelb's stats page; ignored");
  }
}

function bind(px: Proxy, l: Line, args: string[], note: NoteFn): void {
  if (!args[0]) return note(l, "expects an address; ignored");
  // TLS: `ssl crt FILE [crt FILE...] [alpn h2,http/1.1]`; other options are named
  let tls: Bind["tls"];
  const other: string[] = [];
  const opts = args.slice(1);
  const crts: string[] = [];
  let h2 = false;
  for (let i = 0; i < opts.length; i++) {
    if (opts[i] === "ssl") continue;
    if ((opts[i] === "crt" || opts[i] === "alpn") && opts[i + 1] !== undefined) {
      if (opts[i] === "crt") crts.push(opts[++i]);
      else h2 = opts[++i].split(",").includes("h2");
      continue;
    }
    other.push(opts[i]);
  }
  if (opts.includes("ssl")) {
    if (!crts.length) note(l, "ssl without a crt file: not imported as HTTPS; add listen.tls.certificates");
    else {
      tls = { crts, h2 };
      for (const c of crts) {
        if (!c.startsWith("/") || c.endsWith("/"))
          note(l, `crt ${c}: edgelb takes absolute paths of PEM files (not a directory): list each certificate in listen.tls.certificates`);
      }
      if (!h2) note(l, "no alpn h2 here: imported with http2 false, as HAProxy served it (set it true to offer HTTP/2)");
    }
  }
  if (other.length) note(l, `bind options are not imported ("${other.join(" ")}")`);
  for (const part of args[0].split(",")) {
    let a = part.replace(/^(ipv4|ipv6|tcp|tcp4|tcp6)@/, "");
    if (/^(unix|abns|fd|sockpair|udp\d?|quic\d?)@/.test(a) || a.startsWith("/")) {
      note(l, `edgelb listens on a TCP host and port only; ${JSON.stringify(part)} is not imported`);
      continue;
    }
    const colon = a.lastIndexOf(":");
    if (colon < 0) {
      note(l, `no port in ${JSON.stringify(part)}; ignored`);
      continue;
    }
    let host = a.slice(0, colon);
    let portText = a.slice(colon + 1);
    if (/^\d+-\d+$/.test(portText)) {
      note(l, `edgelb listens on one port; using the first of ${portText}`);
      portText = portText.split("-")[0];
    }
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65_535) {
      note(l, `bad port in ${JSON.stringify(part)}; ignored`);
      continue;
    }
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    if (host === "" || host === "*") host = "0.0.0.0";
    px.binds.push({ host, port, line: l.n, text: part, ...(tls ? { tls } : {}) });
  }
}

/** Reads server (or default-server) options into `o`; the rest are noted. */
function serverOptions(o: ServerOpts, l: Line, args: string[], note: NoteFn, who = "default-server"): void {
  const set = <T>(value: T): Setting<T> => ({ value, line: l.n });
  for (let i = 0; i < args.length; i++) {
    const opt = args[i];
    if (SERVER_FLAGS.has(opt)) {
      if (opt === "check") o.check = set(true);
      else if (opt === "no-check") o.check = set(false);
      else if (opt === "backup") o.backup = true;
      else if (opt === "no-backup") o.backup = false;
      else if (opt === "disabled") o.disabled = set(true);
      else if (opt === "enabled") o.disabled = set(false);
      else if (opt === "ssl") o.ssl = true;
      else if (opt === "no-ssl") o.ssl = false;
      else note(l, `${who} option "${opt}": ${serverOptionNote(opt)}`, "server");
      continue;
    }
    if (!SERVER_ARGS.has(opt)) {
      note(l, `${who} option "${opt}" is unknown; ignored`, "server");
      continue;
    }
    const val = args[++i];
    if (val === undefined) {
      note(l, `${who} option "${opt}" expects a value; ignored`, "server");
      continue;
    }
    const num = (min: number, max: number, what = opt): number | undefined => {
      if (!/^\d+$/.test(val)) return void note(l, `${who} option "${what}" expects a number, got ${JSON.stringify(val)}; ignored`, "server");
      const n = Number(val);
      if (n < min || n > max) {
        const c = Math.min(max, Math.max(min, n));
        note(l, `${who} option "${what} ${val}" is out of edgelb's range ${min}-${max}; using ${c}`, "server");
        return c;
      }
      return n;
    };
    const time = (): number | undefined => {
      const ms = parseHaproxyTime(val);
      if (ms === undefined) note(l, `${who} option "${opt}" expects a time such as 2000 or 2s, got ${JSON.stringify(val)}; ignored`, "server");
      return ms;
    };
    let v: number | undefined;
    switch (opt) {
      case "weight":
        if ((v = num(0, 256)) !== undefined) o.weight = set(v);
        break;
      case "maxconn":
        if ((v = num(0, 100_000)) !== undefined) o.maxconn = set(v);
        break;
      case "rise":
        if ((v = num(1, 100)) !== undefined) o.rise = set(v);
        break;
      case "fall":
        if ((v = num(1, 100)) !== undefined) o.fall = set(v);
        break;
      case "inter":
        if ((v = time()) !== undefined) o.inter = set(v);
        break;
      case "slowstart":
        if ((v = time()) !== undefined) o.slowstart = set(v);
        break;
      default:
        note(l, `${who} option "${opt} ${val}": ${serverOptionNote(opt)}`, "server");
    }
  }
}

function server(px: Proxy, l: Line, w: string[], note: NoteFn): void {
  const [, name, addr] = w;
  if (!name || !addr) return note(l, "expects a name and an address; ignored");
  const s: Server = { ...px.defaultServer, name, addr, line: l.n };
  serverOptions(s, l, w.slice(3), note, `server ${name}`);
  px.servers.push(s);
}

/** A name edgelb accepts (letters, digits, _ . -, at most 64, starting with a letter or digit). */
function safeName(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9_.-]/g, "-");
  if (!/^[A-Za-z0-9]/.test(s)) s = `x${s}`;
  return s.slice(0, 64);
}

/** `http(s)://host:port` for a server address, or a reason it has none. */
function serverUrl(s: Server, fallbackPort: number | undefined): { url?: string; why?: string; portNote?: string } {
  let a = s.addr.replace(/^(ipv4|ipv6|tcp|tcp4|tcp6)@/, "");
  if (/^(unix|abns|fd|sockpair|udp\d?|quic\d?)@/.test(a) || a.startsWith("/")) return { why: "edgelb reaches origins over TCP (http/https URLs); a socket path is not imported" };
  if (a.includes("$")) return { why: "environment variables in addresses are not expanded; write the address in the result" };
  let host = a, port = "";
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(a);
  if (bracket) (host = bracket[1]), (port = bracket[2] ?? "");
  else if ((a.match(/:/g) ?? []).length === 1) [host, port] = a.split(":");
  else if ((a.match(/:/g) ?? []).length > 1) {
    // IPv6 without brackets: HAProxy takes the part after the last colon as the port
    const i = a.lastIndexOf(":");
    (host = a.slice(0, i)), (port = a.slice(i + 1));
  }
  let portNote: string | undefined;
  if (port === "" || /^[+-]/.test(port)) {
    const p = fallbackPort ?? (s.ssl ? 443 : 80);
    portNote = `no fixed port (HAProxy uses the port the client connected to${port ? `, shifted by ${port}` : ""}); using ${p}`;
    port = String(p);
  }
  if (!/^\d+$/.test(port) || Number(port) > 65_535) return { why: `bad port ${JSON.stringify(port)}` };
  const h = host.includes(":") ? `[${host}]` : host;
  const url = `${s.ssl ? "https" : "http"}://${h}:${port}`;
  try {
    new URL(url);
  } catch {
    return { why: `${JSON.stringify(s.addr)} is not a host name or IP address` };
  }
  return { url, portNote };
}

function build(proxies: Proxy[], globalMaxconn: Setting<number> | undefined, notes: Notes, note: NoteFn): ImportResult {
  const at = (n: number, words: string[] = []): Line => ({ n, words });
  const fronts = proxies.filter((p) => p.kind === "frontend" || p.kind === "listen");
  const backs = proxies.filter((p) => p.kind === "backend" || (p.kind === "listen" && p.servers.length > 0));

  // pools: one per backend (and per listen with servers)
  const poolNames = new Map<string, string>(); // haproxy name -> pool name
  const pools: Record<string, Record<string, unknown>> = {};
  const poolPx = new Map<string, Proxy>();
  for (const px of backs) {
    if (!px.servers.length) {
      note(at(px.line), `backend ${px.name} has no server lines; not imported (an edgelb pool needs at least one origin)`, "backend");
      continue;
    }
    let name = safeName(px.name);
    while (Object.hasOwn(pools, name)) name = `${name.slice(0, 62)}-2`;
    if (name !== px.name) note(at(px.line), `the name ${JSON.stringify(px.name)} becomes ${JSON.stringify(name)} (letters, digits, _ . - only)`, px.kind);
    poolNames.set(px.name, name);
    poolPx.set(name, px);
  }
  for (const [name, px] of poolPx) pools[name] = mapPool(px, fronts, note);
  if (!poolPx.size) note(at(proxies[0]?.line ?? 1), "no backend or listen with server lines: nothing to balance, the result has no pool", proxies[0]?.kind ?? "backend");

  // the listener: the first frontend that sends traffic somewhere, else the first listen with servers
  const serving = (p: Proxy) => p.kind === "frontend" ? !!(p.defaultBackend || p.useBackends.length) : p.servers.length > 0;
  const main = fronts.find((p) => serving(p) && p.binds.length) ?? fronts.find(serving) ?? fronts[0];
  for (const p of fronts) {
    if (p === main) continue;
    if (p.kind === "listen" && !p.servers.length && p.statsEnable?.value)
      note(at(p.line), `a stats-only listen: edgelb serves stats at <prefix>/stats (/__edgelb/stats) on its main listener, not on ${p.binds.map((b) => b.text).join(", ") || "a port of its own"}`, "listen");
    else
      note(at(p.line), `edgelb listens on one address; ${p.kind} ${p.name}${p.binds.length ? ` (${p.binds.map((b) => b.text).join(", ")})` : ""} is not imported as a listener${p.kind === "listen" && p.servers.length ? " (its servers are a pool)" : ""}`, p.kind);
  }
  // every bind of the main frontend is a listener; with `redirect scheme https`, its plain ones redirect
  let listen: Record<string, unknown> | Record<string, unknown>[] = { host: "0.0.0.0", port: 80 };
  if (main?.binds.length) {
    const httpsPort = main.binds.find((b) => b.tls)?.port;
    if (main.redirectHttps !== undefined) {
      if (httpsPort === undefined) note(at(main.redirectHttps, ["redirect"]), "redirect scheme https: this frontend has no ssl bind to send clients to; not imported");
      else note(at(main.redirectHttps, ["redirect"]), `imported as redirectHttps on the plain listeners (every request on them is redirected, whatever its condition; ${httpsPort} is the https port)`);
    }
    const ls = main.binds.map((b) => ({
      host: b.host,
      port: b.port,
      ...(b.tls ? { tls: { certificates: b.tls.crts.map((f) => ({ cert: f, key: f })), http2: b.tls.h2 } } : {}),
      ...(!b.tls && main.redirectHttps !== undefined && httpsPort !== undefined ? { redirectHttps: httpsPort } : {}),
    }));
    listen = ls.length === 1 ? ls[0] : ls;
  } else note(at(main?.line ?? 1), "no bind address found; listening on 0.0.0.0:80", main?.kind ?? "listen");

  // routes and the default pool, from the main frontend
  const routes: { host: string[]; pool: string }[] = [];
  let defaultPool: string | undefined;
  const poolOf = (backend: string, line: number, what: string): string | undefined => {
    const p = poolNames.get(backend);
    if (!p) note(at(line), `names no imported backend (${JSON.stringify(backend)}); ${what} not imported`, what);
    return p;
  };
  if (main?.kind === "listen") defaultPool = poolNames.get(main.name);
  else if (main) {
    if (main.defaultBackend) defaultPool = poolOf(main.defaultBackend.value, main.defaultBackend.line, "default_backend");
    for (const u of main.useBackends) {
      const pool = poolOf(u.backend, u.line, "use_backend");
      if (!pool) continue;
      const hosts = hostsOf(main, u.cond);
      if (typeof hosts === "string") note(at(u.line), `${hosts}; this rule is not imported (edgelb routes by Host only)`, "use_backend");
      else {
        for (const h of hosts.notes) note(at(u.line), h, "use_backend");
        const same = routes.find((r) => r.pool === pool);
        if (same) same.host.push(...hosts.hosts.filter((h) => !same.host.includes(h)));
        else routes.push({ host: hosts.hosts, pool });
      }
    }
  }
  const first = Object.keys(pools)[0];
  if (!defaultPool && first && main?.kind === "frontend" && !main.defaultBackend)
    note(at(main.line), `no default_backend: requests no route matches go to the first pool, ${first}`, "frontend");

  // client side, from the main frontend (and global maxconn)
  const client: Record<string, unknown> = {};
  if (main) {
    const t = main.timeouts;
    const keep = t.get("http-keep-alive") ?? t.get("http-request") ?? t.get("client");
    if (keep) client.keepAlive = dur(keep, DAY, 0, "client.keepAlive", note);
    const req = t.get("http-request");
    if (req) client.headerTimeout = dur(req, DAY, 0, "client.headerTimeout", note);
    const cli = t.get("client");
    if (cli && keep === cli)
      note(at(cli.line), "mapped to client.keepAlive; HAProxy also let a client take that long to send its request headers, edgelb keeps client.headerTimeout at 10s (a slowloris guard; set it to change)");
    else if (cli) note(at(cli.line), "edgelb has no client inactivity timeout beyond client.keepAlive and client.headerTimeout; ignored");
    if (main.kind === "listen") for (const u of main.useBackends) note(at(u.line), "use_backend in a listen section is not imported; use a frontend with routes by Host", "use_backend");
  }
  for (const k of Object.keys(client)) if (client[k] === undefined) delete client[k];
  const caps = [globalMaxconn, main?.maxconn].filter((x): x is Setting<number> => !!x && x.value > 0);
  if (caps.length) {
    const cap = caps.reduce((a, b) => (b.value < a.value ? b : a));
    client.maxConnections = Math.min(cap.value, 1_000_000);
  }

  // forwardFor: one setting in edgelb, per section in HAProxy
  const ffOn = [main, ...poolPx.values()].filter((p): p is Proxy => !!p && !!p.forwardFor?.value);
  const forwardFor = { enabled: ffOn.length > 0 };
  if (ffOn.length) {
    for (const p of poolPx.values()) if (!p.forwardFor?.value && !main?.forwardFor?.value)
      note(at(p.line), `no option forwardfor here, but edgelb sets X-Forwarded-For for every pool once forwardFor is on`, p.kind);
  } else if (main) note(at(main.line), "no option forwardfor: forwardFor.enabled is false, as in HAProxy (origins see the balancer's address only)", main.kind);

  // stats
  const stats: Record<string, unknown> = {};
  const statsPx = proxies.filter((p) => p.statsEnable?.value);
  const users = new Map<string, number>();
  for (const p of statsPx) for (const a of p.statsAuth) {
    const user = a.value.split(":")[0];
    if (!user) note(at(a.line), "expects user:password; ignored", "stats auth");
    else if (!users.has(user)) users.set(user, a.line);
  }
  if (users.size) {
    const basic = [...users].map(([user, line]) => {
      const passwordEnv = users.size === 1 ? "EDGELB_STATS_PASSWORD" : `EDGELB_STATS_PASSWORD_${user.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
      note(at(line), `user ${JSON.stringify(user)} imported; the password is not copied: set it in the environment variable ${passwordEnv} (systemd: Environment= or EnvironmentFile=; edge: wrangler secret put ${passwordEnv})`, "stats auth");
      return { user, passwordEnv };
    });
    stats.auth = { basic };
  }
  for (const p of statsPx) {
    if (p.statsUri)
      note(at(p.statsUri.line), `edgelb's stats page is <prefix>/stats, /__edgelb/stats by default (?format=json, ?format=csv); the path ${JSON.stringify(p.statsUri.value)} is not kept`, "stats uri");
    if (!users.size && p.statsEnable)
      note(at(p.statsEnable.line), "without stats.auth, edgelb shows stats only to clients on loopback; add stats.auth to read them from elsewhere", "stats enable");
  }

  const config: Record<string, unknown> = { listen, pools };
  if (defaultPool && defaultPool !== first) config.defaultPool = defaultPool;
  if (routes.length) config.routes = routes;
  config.forwardFor = forwardFor;
  if (Object.keys(client).length) config.client = client;
  if (Object.keys(stats).length) config.stats = stats;
  return { config, notes: [...notes.list].sort((a, b) => a.line - b.line) };
}

/** A duration for edgelb from HAProxy ms, clamped to [min, max]; 0 (HAProxy: no timeout) is left out. */
function dur(s: Setting<number>, max: number, min: number, field: string, note: NoteFn): string | undefined {
  if (s.value === 0) {
    note({ n: s.line, words: [] }, `0 means no timeout in HAProxy; edgelb has no unlimited ${field}, its default is kept`, "timeout");
    return undefined;
  }
  if (s.value > max || s.value < min) {
    const c = Math.min(max, Math.max(min, s.value));
    note({ n: s.line, words: [] }, `${formatDuration(s.value)} is out of range for ${field}; using ${formatDuration(c)}`, "timeout");
    return formatDuration(c);
  }
  return formatDuration(s.value);
}

function mapPool(px: Proxy, fronts: Proxy[], note: NoteFn): Record<string, unknown> {
  const at = (n: number, words: string[] = []): Line => ({ n, words });
  const pool: Record<string, unknown> = {};

  // balance
  const b = px.balance;
  const alg = b?.value[0] ?? "roundrobin";
  const bl = at(b?.line ?? px.line, ["balance"]);
  let balance = "roundrobin";
  if (alg === "roundrobin") balance = "roundrobin";
  else if (alg === "leastconn") balance = "leastconn";
  else if (alg === "static-rr") {
    balance = "roundrobin";
    note(bl, "static-rr becomes roundrobin: edgelb's smooth weighted round-robin also follows weight changes at run time (agent, slow start)");
  } else if (/^random(\(\d+\))?$/.test(alg)) {
    balance = "random";
    const draws = /\((\d+)\)/.exec(alg)?.[1];
    if (draws && draws !== "2") note(bl, `edgelb's random draws two origins and takes the less loaded (random(2)); ${alg} is not imported as is`);
  } else if (alg === "source") {
    balance = "source";
  } else if (alg === "first") {
    note(bl, "edgelb has no balance first: it becomes leastconn, which also prefers the least busy origin");
    balance = "leastconn";
  } else note(bl, `edgelb has no ${alg} balancing (of the hash-based algorithms only source is): it becomes roundrobin`);
  pool.balance = balance;

  // origins
  const seen = new Set<string>();
  const frontPort = fronts.find((f) => f.useBackends.some((u) => u.backend === px.name) || f.defaultBackend?.value === px.name || f === px)?.binds[0]?.port;
  const kept: Server[] = [];
  const origins: Record<string, unknown>[] = [];
  for (const s of px.servers) {
    const sl = at(s.line, ["server"]);
    const u = serverUrl(s, frontPort);
    if (!u.url) {
      note(sl, `server ${s.name}: ${u.why}; not imported`);
      continue;
    }
    if (u.portNote) note(sl, `server ${s.name}: ${u.portNote}`);
    let name = safeName(s.name);
    if (name !== s.name) note(sl, `server ${s.name}: the name becomes ${JSON.stringify(name)} (letters, digits, _ . - only)`);
    while (seen.has(name)) name = `${name.slice(0, 62)}-2`;
    seen.add(name);
    const o: Record<string, unknown> = { name, url: u.url };
    if (s.disabled?.value) {
      o.weight = 0;
      note(at(s.disabled.line, ["server"]), `server ${s.name} is disabled: imported with weight 0 (no traffic); edgelb's config has no maintenance state, use POST <prefix>/admin/... to put it in maint`);
    } else if (s.weight && s.weight.value !== 1) o.weight = s.weight.value;
    if (s.maxconn && s.maxconn.value > 0) o.maxconn = s.maxconn.value;
    if (s.backup) o.backup = true;
    origins.push(o);
    kept.push(s);
  }
  pool.origins = origins;
  if (!origins.length) note(at(px.line), `${px.kind} ${px.name}: no server could be imported; the result will not pass edgelb check until an origin is added`, px.kind);
  const backups = kept.filter((s) => s.backup);
  if (backups.length > 1 && !px.allbackups)
    note(at(backups[1].line, ["server"]), "HAProxy sends to the first backup server only (no option allbackups); edgelb spreads over every backup origin by weight");

  // checks: per server in HAProxy, per pool in edgelb
  const checked = kept.filter((s) => s.check?.value);
  const check: Record<string, unknown> = { enabled: checked.length > 0 };
  if (checked.length) {
    for (const s of kept) if (!s.check?.value)
      note(at(s.line, ["server"]), `server ${s.name} has no check, but edgelb checks every origin of a pool once checks are on`);
    const hc = px.httpchk?.value;
    if (hc) {
      if (hc.method !== "GET") check.method = hc.method;
      if (hc.path !== "/") check.path = hc.path;
      if (hc.host) check.host = hc.host;
    } else {
      note(at(checked[0].line, ["check"]),
        `HAProxy checked ${px.name}'s servers with a TCP connect (no option httpchk); edgelb checks over HTTP: GET / expecting 200-399 (set check.path, check.method and check.expect to fit the origins)`, "check");
    }
    if (px.expect) check.expect = px.expect.value;
    const first = checked[0];
    const perPool = (key: "inter" | "rise" | "fall" | "slowstart", label: string) => {
      const v = first[key];
      for (const s of checked.slice(1)) {
        const w = s[key];
        if ((w?.value ?? undefined) !== (v?.value ?? undefined))
          note(at(s.line, ["server"]), `server ${s.name}: ${label} differs from server ${first.name}'s; edgelb has one per pool, ${first.name}'s is used`);
      }
      return v;
    };
    const inter = perPool("inter", "inter");
    let interval = 2000;
    if (inter) {
      const d = dur(inter, 3_600_000, 1, "check.interval", note);
      if (d) {
        check.interval = d;
        interval = Math.min(3_600_000, Math.max(1, inter.value));
      }
    }
    const ct = px.timeouts.get("check");
    if (ct) {
      const max = Math.min(60_000, interval);
      const d = dur(ct, max, 1, `check.timeout (at most check.interval and 1m)`, note);
      if (d) check.timeout = d;
    }
    const rise = perPool("rise", "rise");
    if (rise) check.rise = rise.value;
    const fall = perPool("fall", "fall");
    if (fall) check.fall = fall.value;
  } else if (px.httpchk) {
    note(at(px.httpchk.line), "no server has check, so HAProxy ran no checks: check.enabled is false");
  }
  pool.check = check;

  // retries, redispatch
  if (px.retries) {
    let r = px.retries.value;
    if (r > 10) {
      note(at(px.retries.line, ["retries"]), `edgelb allows at most 10 retries; using 10 instead of ${r}`);
      r = 10;
    }
    pool.retries = r;
  }
  pool.redispatch = px.redispatch?.value ?? false;

  // timeouts (the server side of a listen, or of a backend)
  const timeouts: Record<string, unknown> = {};
  const t = px.timeouts;
  const connect = t.get("connect");
  if (connect) timeouts.connect = dur(connect, DAY, 0, "timeouts.connect", note);
  const srv = t.get("server");
  if (srv) {
    timeouts.header = dur(srv, DAY, 0, "timeouts.header", note);
    timeouts.idle = timeouts.header;
  }
  const queue = t.get("queue");
  // HAProxy's queue timeout defaults to the connect timeout; edgelb's is 5s
  if (queue) timeouts.queue = dur(queue, DAY, 0, "timeouts.queue", note);
  else if (connect && connect.value !== 5000 && connect.value > 0) timeouts.queue = dur(connect, DAY, 0, "timeouts.queue", note);
  for (const k of Object.keys(timeouts)) if (timeouts[k] === undefined) delete timeouts[k];
  if (Object.keys(timeouts).length) pool.timeouts = timeouts;

  // slow start: per server in HAProxy, per pool in edgelb
  const slow = kept.find((s) => s.slowstart)?.slowstart;
  if (slow) {
    for (const s of kept) if (s.slowstart && s.slowstart.value !== slow.value)
      note(at(s.line, ["server"]), `server ${s.name}: slowstart differs; edgelb has one per pool, ${formatDuration(slow.value)} is used`);
    const d = dur(slow, DAY, 0, "slowStart", note);
    if (d) pool.slowStart = d;
  }

  if (px.kind === "backend" && px.maxconn && px.maxconn.line > px.line)
    note(at(px.maxconn.line, ["maxconn"]), "maxconn in a backend limits nothing in HAProxy either; set maxconn on each origin");
  return pool;
}

/** The Host names a `use_backend ... if COND` routes, or why it cannot be imported. */
function hostsOf(px: Proxy, cond: string[]): { hosts: string[]; notes: string[] } | string {
  if (!cond.length) return "an unconditional use_backend";
  if (cond[0] !== "if") return `only "if" conditions can be imported, not ${JSON.stringify(cond.join(" "))}`;
  // terms separated by || or "or"; each term one ACL (named, or anonymous in braces)
  const terms: string[][] = [[]];
  for (let i = 1; i < cond.length; i++) {
    if (cond[i] === "||" || cond[i] === "or") terms.push([]);
    else if (cond[i] === "{") {
      const end = cond.indexOf("}", i);
      if (end < 0) return "an unclosed anonymous ACL";
      terms[terms.length - 1].push(`{${cond.slice(i + 1, end).join("\u0000")}`);
      i = end;
    } else terms[terms.length - 1].push(cond[i]);
  }
  const hosts: string[] = [];
  const notes: string[] = [];
  for (const term of terms) {
    if (term.length !== 1) return `the condition ${JSON.stringify(cond.slice(1).join(" "))} combines ACLs with AND`;
    const t = term[0];
    if (t.startsWith("!")) return `the negated ACL ${t}`;
    const defs = t.startsWith("{") ? [t.slice(1).split("\u0000")] : px.acls.get(t)?.map((l) => l.words.slice(2));
    if (!defs) return `the ACL ${t} is not defined in ${px.name}`;
    for (const def of defs) {
      const r = aclHosts(def);
      if (typeof r === "string") return r;
      hosts.push(...r.hosts.filter((h) => !hosts.includes(h)));
      notes.push(...r.notes);
    }
  }
  return hosts.length ? { hosts, notes } : "no host name in the condition";
}

/** Hosts from one ACL definition (`hdr(host) -i a.example b.example`), or why not. */
function aclHosts(def: string[]): { hosts: string[]; notes: string[] } | string {
  const [fetch, ...rest] = def;
  const f = (fetch ?? "").toLowerCase().replace(/,lower$/, "");
  let match: "str" | "end" | "dom";
  if (/^(req\.)?hdr\(host(,-?\d+)?\)$/.test(f)) match = "str";
  else if (/^hdr_end\(host\)$/.test(f)) match = "end";
  else if (/^hdr_dom\(host\)$/.test(f)) match = "dom";
  else return `the ACL fetch ${JSON.stringify(fetch)} (edgelb routes on the Host header only: hdr(host), hdr_end(host), hdr_dom(host))`;
  const values: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i];
    if (w === "-i" || w === "--") continue;
    if (w === "-m") {
      const m = rest[++i];
      if (m === "str" || m === "end" || m === "dom") match = m;
      else return `the ACL match -m ${m}`;
      continue;
    }
    if (w === "-f" || w === "-M") return "an ACL that reads its values from a file";
    if (w.startsWith("-")) return `the ACL flag ${w}`;
    values.push(w.toLowerCase());
  }
  const hosts: string[] = [];
  const notes: string[] = [];
  for (let v of values) {
    if (/:\d+$/.test(v) && !v.endsWith("]")) {
      v = v.replace(/:\d+$/, "");
      notes.push(`edgelb matches the Host without its port; ${JSON.stringify(v)} is matched on any port`);
    }
    if (match === "str") hosts.push(v);
    else if (match === "end") {
      if (v.startsWith(".")) hosts.push(`*${v}`);
      else {
        hosts.push(v, `*.${v}`);
        notes.push(`hdr_end(host) ${v} also matched names that merely end in it (such as x${v}); edgelb routes ${v} and *.${v}`);
      }
    } else {
      hosts.push(v, `*.${v}`);
      notes.push(`hdr_dom(host) ${v} becomes ${v} and *.${v}`);
    }
  }
  return { hosts, notes };
}
