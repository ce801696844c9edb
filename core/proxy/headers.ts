/**
 * Header rules as data, both directions. Headers travel as flat arrays [name, value, name, value, ...]
 * (Node's rawHeaders, undici's rawHeaders, and pairs from a Web `Headers`), so no adapter builds
 * objects on the hot path and duplicates survive.
 */

/** Hop-by-hop headers, never forwarded in either direction (RFC 9110 §7.6.1; RFC 9112 §9.6; Proxy-* as Caddy and hono). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Request headers the proxy consumes itself: `Expect: 100-continue` is answered to the client by the
 * runtime (node:http sends 100 Continue; Cloudflare handles it at the edge) before the body is read,
 * so the origin gets the body without being asked (RFC 9110 §10.1.1 lets a proxy do so).
 */
export const CONSUMED: ReadonlySet<string> = new Set(["expect"]);

/**
 * A client that lists these in `Connection` asks us to drop headers that define the message or
 * its credentials: refused with 400 (RFC 9110 §7.6.1 lets a proxy strip listed headers, but
 * stripping these would change the message boundary or authentication at the origin).
 */
export const CONNECTION_FORBIDDEN: ReadonlySet<string> = new Set(["host", "content-length", "transfer-encoding", "authorization"]);

/** Headers we set ourselves from the socket; a client's copies are discarded unless its peer is trusted. */
const FORWARDING: ReadonlySet<string> = new Set(["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"]);

/** 1 at the lengths of the names in `names`: a name of another length is none of them, with no lower-casing to find out. */
function lengthsOf(...sets: ReadonlySet<string>[]): Uint8Array {
  const out = new Uint8Array(64);
  for (const set of sets) for (const n of set) out[n.length] = 1;
  return out;
}
const HOP_LENGTHS = lengthsOf(HOP_BY_HOP);
const REQUEST_LENGTHS = lengthsOf(HOP_BY_HOP, CONSUMED, FORWARDING);

/** What we know about the client side of one request. */
export interface ClientInfo {
  /** Socket peer address (or CF-Connecting-IP at the edge). */
  peer: string;
  /** "http" or "https" as the client spoke to us. */
  proto: string;
  /** The Host the client asked for. */
  host: string;
  /** The peer is a configured trusted proxy: its X-Forwarded-* are kept and extended. */
  trusted: boolean;
}

export interface ForwardOptions {
  /** Set X-Forwarded-For/-Proto/-Host. */
  enabled: boolean;
  /** Also set RFC 7239 Forwarded. */
  forwarded: boolean;
}

export class HeaderError extends Error {
  readonly status = 400;
}

/**
 * Lower-cased tokens of every Connection header in `raw` that name more than the hop-by-hop
 * headers (those are removed anyway; the CONNECTION_FORBIDDEN ones stay, to be refused); empty
 * when there is none.
 */
function connectionTokens(raw: readonly string[]): string[] {
  let out: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === "connection") {
      for (const t of raw[i + 1].split(",")) {
        const tok = t.trim().toLowerCase();
        // a hop-by-hop name goes anyway: `Connection: keep-alive` (every keep-alive origin and
        // browser sends it) lists nothing more, and the headers need no lower-casing one by one
        if (tok && (!HOP_BY_HOP.has(tok) || CONNECTION_FORBIDDEN.has(tok))) (out ??= []).push(tok);
      }
    }
  }
  return out ?? [];
}

/**
 * Request headers for the origin: hop-by-hop and Connection-listed headers removed first, then
 * X-Forwarded-For/-Proto/-Host (and optionally Forwarded) set from the client socket. Throws
 * HeaderError (400) when Connection names Host, Content-Length, Transfer-Encoding or Authorization.
 * Host is passed through unchanged, as HAProxy does, so name-based virtual hosts keep working.
 */
export function requestHeaders(raw: readonly string[], client: ClientInfo, fwd: ForwardOptions): string[] {
  const listed = connectionTokens(raw);
  for (const t of listed) if (CONNECTION_FORBIDDEN.has(t)) throw new HeaderError(`Connection names ${t}`);
  const out: string[] = [];
  let xff: string | null = null, xfp: string | null = null, xfh: string | null = null, fw: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (listed.length === 0 && (name.length >= 64 || REQUEST_LENGTHS[name.length] === 0)) {
      out.push(name, raw[i + 1]);
      continue;
    }
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || CONSUMED.has(lower) || (listed.length !== 0 && listed.includes(lower))) continue;
    if (fwd.enabled && FORWARDING.has(lower)) {
      if (client.trusted) {
        const v = raw[i + 1];
        if (lower === "x-forwarded-for") xff = xff === null ? v : `${xff}, ${v}`;
        else if (lower === "x-forwarded-proto") xfp ??= v;
        else if (lower === "x-forwarded-host") xfh ??= v;
        else fw = fw === null ? v : `${fw}, ${v}`;
      }
      continue;
    }
    out.push(name, raw[i + 1]);
  }
  if (fwd.enabled) {
    // no socket address (closed socket, unix socket): RFC 7239 §6.2 "unknown", never an empty element
    const peer = client.peer || "unknown";
    out.push("x-forwarded-for", xff === null ? peer : `${xff}, ${peer}`);
    out.push("x-forwarded-proto", xfp ?? client.proto);
    if (client.host) out.push("x-forwarded-host", xfh ?? client.host);
    if (fwd.forwarded) {
      const node = peer.includes(":") ? `"[${peer}]"` : peer;
      const hostPart = client.host ? `;host=${quoteIfNeeded(client.host)}` : "";
      const own = `for=${node};proto=${client.proto}${hostPart}`;
      out.push("forwarded", fw === null ? own : `${fw}, ${own}`);
    } else if (fw !== null) {
      // we add no Forwarded element of our own, but a trusted proxy's stays as it sent it
      out.push("forwarded", fw);
    }
  }
  return out;
}

/** Response headers for the client: hop-by-hop and Connection-listed ones removed. */
export function responseHeaders(raw: readonly string[]): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (listed.length !== 0 || (name.length < 64 && HOP_LENGTHS[name.length] === 1)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || (listed.length !== 0 && listed.includes(lower))) continue;
    }
    out.push(name, raw[i + 1]);
  }
  return out;
}

/**
 * The same request rules on a Web `Headers` edited in place, for a runtime whose fetch takes one
 * (the edge): copying the client's headers natively and deleting a fixed list costs a few calls
 * into the runtime, where flattening and rebuilding them costs one per header and direction.
 * Only for an untrusted client (the edge trusts no client's X-Forwarded-*: CF-Connecting-IP is
 * the peer); test/core/proxy.test.ts checks it against requestHeaders on one table of inputs.
 * Throws HeaderError as requestHeaders does.
 */
export function editRequestHeaders(h: Headers, client: Omit<ClientInfo, "trusted">, fwd: ForwardOptions): void {
  requestEditor(NOTHING, fwd)(h, client);
}

const NOTHING: ReadonlySet<string> = new Set();

/**
 * editRequestHeaders with its name lists worked out once (per config, not per request), for a
 * runtime whose HTTP client removes some hop-by-hop request headers itself when it writes the
 * request (`strippedOnWire`: workerd's fetch drops Connection, Keep-Alive, TE, Trailer, Upgrade,
 * Transfer-Encoding; test/workerd/wire.test.ts pins it), so those cost no call; `alsoDrop` are
 * more names to remove (the edge's CF-* headers). X-Forwarded-For/-Proto/-Host and Forwarded are
 * replaced by `set`, which removes the client's copies, so they are deleted only when not set.
 * What reaches the origin is what editRequestHeaders gives minus `strippedOnWire` (test/core/proxy.test.ts).
 */
export function requestEditor(
  strippedOnWire: ReadonlySet<string>,
  fwd: ForwardOptions,
  alsoDrop: readonly string[] = [],
): (h: Headers, client: Omit<ClientInfo, "trusted">) => void {
  const drop = [...HOP_BY_HOP, ...CONSUMED].filter((n) => n !== "connection" && !strippedOnWire.has(n));
  if (fwd.enabled && !fwd.forwarded) drop.push("forwarded");
  for (const n of alsoDrop) if (!drop.includes(n)) drop.push(n);
  const dropConnection = !strippedOnWire.has("connection");
  return (h, client) => {
    const conn = h.get("connection");
    if (conn !== null) {
      for (const t of connectionTokens(["connection", conn])) {
        if (CONNECTION_FORBIDDEN.has(t)) throw new HeaderError(`Connection names ${t}`);
        if (!strippedOnWire.has(t)) h.delete(t);
      }
      if (dropConnection) h.delete("connection");
    }
    for (let k = 0; k < drop.length; k++) h.delete(drop[k]);
    if (!fwd.enabled) return;
    const peer = client.peer || "unknown";
    h.set("x-forwarded-for", peer);
    h.set("x-forwarded-proto", client.proto);
    if (client.host) h.set("x-forwarded-host", client.host);
    else h.delete("x-forwarded-host");
    if (fwd.forwarded) {
      const node = peer.includes(":") ? `"[${peer}]"` : peer;
      h.set("forwarded", `for=${node};proto=${client.proto}${client.host ? `;host=${quoteIfNeeded(client.host)}` : ""}`);
    }
  };
}

/**
 * The response rule on a Web `Headers`, for a runtime whose HTTP server removes some hop-by-hop
 * headers itself when it writes a response (`strippedOnWire`; workerd drops Connection, Keep-Alive,
 * TE, Trailer, Upgrade, Transfer-Encoding). The function returned gives the names to remove (every
 * hop-by-hop and Connection-listed one present), or null when the response can go on untouched:
 * none is present, or only ones the runtime strips. It asks the Headers only about the names the
 * runtime leaves, so the common answer (null) costs a few calls.
 */
export function responseDropper(strippedOnWire: ReadonlySet<string>): (h: Headers) => string[] | null {
  const mustGo = [...HOP_BY_HOP].filter((n) => !strippedOnWire.has(n));
  return (h) => {
    const conn = h.get("connection");
    // "keep-alive" (what most origins send) lists nothing more to remove
    const listed = conn === null || ONLY_HOP.has(conn.toLowerCase()) ? NONE : connectionTokens(["connection", conn]).filter((t) => !HOP_BY_HOP.has(t));
    let found = false;
    for (let k = 0; !found && k < mustGo.length; k++) found = h.has(mustGo[k]);
    for (let k = 0; !found && k < listed.length; k++) found = h.has(listed[k]);
    if (!found) return null;
    const out: string[] = [];
    for (const name of HOP_BY_HOP) if (h.has(name)) out.push(name);
    for (const t of listed) if (h.has(t)) out.push(t);
    return out;
  };
}

const NONE: readonly string[] = [];
const ONLY_HOP: ReadonlySet<string> = new Set(["keep-alive"]);

/** RFC 7239 §4: a value that is not a token must be a quoted string. */
function quoteIfNeeded(v: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v) ? v : `"${v.replace(/["\\]/g, "\\$&")}"`;
}

/** Whether `peer` is in the trusted list (exact addresses; IPv4-mapped IPv6 compared as IPv4). */
export function isTrusted(peer: string, trusted: readonly string[]): boolean {
  if (trusted.length === 0 || peer === "") return false;
  const p = normalizeAddr(peer);
  for (const t of trusted) if (normalizeAddr(t) === p) return true;
  return false;
}

/** Lower-cased (IPv6 hex digits), IPv4-mapped IPv6 reduced to its IPv4 address. */
function normalizeAddr(a: string): string {
  const l = a.trim().toLowerCase();
  return l.startsWith("::ffff:") && l.includes(".") ? l.slice(7) : l;
}
