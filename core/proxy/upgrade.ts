/**
 * Upgrade (WebSocket) decisions as data: which upgrades become tunnels, the headers on the way to
 * the origin and back on a 101, and whether a failed try of a tunnel may go to another origin.
 * The runtime opens the connections and moves the bytes.
 */
import { HOP_BY_HOP, requestHeaders, type ClientInfo, type ForwardOptions } from "./headers.ts";
import { FAILURES, type FailureKind, type RetryDecision, type Trip } from "./retry.ts";

/** Lower-cased tokens of a comma-separated header value (Connection, Upgrade). */
function tokens(v: string | undefined | null): string[] {
  if (!v) return [];
  const out: string[] = [];
  for (const t of v.split(",")) {
    const tok = t.trim().toLowerCase();
    if (tok) out.push(tok);
  }
  return out;
}

/** The protocol name of an Upgrade token, without its version ("websocket/13" -> "websocket"). */
const protocolOf = (tok: string) => tok.split("/")[0].trim();

/**
 * Whether a request asks for a WebSocket upgrade: `Upgrade` names websocket and `Connection`
 * names upgrade (RFC 6455 §4.1). Only these are tunnelled; any other Upgrade (h2c, TLS/1.0) is
 * served as a plain request with Upgrade removed like every hop-by-hop header.
 */
export function isWebSocketUpgrade(upgrade: string | undefined | null, connection: string | undefined | null): boolean {
  return tokens(upgrade).some((t) => protocolOf(t) === "websocket") && tokens(connection).includes("upgrade");
}

/** Every Upgrade value of a raw header list, joined (a client may split it over lines). */
function upgradeValue(raw: readonly string[]): string {
  let v: string | null = null;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === "upgrade") v = v === null ? raw[i + 1] : `${v}, ${raw[i + 1]}`;
  return v ?? "";
}

/**
 * Request headers of an upgrade for the origin: the rules of any request (hop-by-hop and
 * Connection-listed headers removed, X-Forwarded-* set; throws HeaderError as requestHeaders
 * does), then `Connection: upgrade` and the client's own `Upgrade` value put back, since they are
 * what asks the origin for the tunnel.
 */
export function upgradeRequestHeaders(raw: readonly string[], client: ClientInfo, fwd: ForwardOptions): string[] {
  const out = requestHeaders(raw, client, fwd);
  out.push("connection", "upgrade", "upgrade", upgradeValue(raw));
  return out;
}

/** Whether the origin's answer opens the tunnel: a 101 switching to websocket, as asked. */
export function acceptsTunnel(status: number, raw: readonly string[]): boolean {
  return status === 101 && isWebSocketUpgrade(upgradeValue(raw), "upgrade");
}

/**
 * Response headers of a 101 for the client: hop-by-hop ones removed as on any response, except
 * Upgrade, which says what the connection became; `Connection: upgrade` is set once. Headers the
 * origin listed in Connection go, but never the Sec-WebSocket-* ones the handshake needs.
 */
export function switchingHeaders(raw: readonly string[]): string[] {
  const listed: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === "connection") listed.push(...tokens(raw[i + 1]));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (lower === "upgrade") {
      out.push(raw[i], raw[i + 1]);
      continue;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    if (listed.includes(lower) && !lower.startsWith("sec-websocket-")) continue;
    out.push(raw[i], raw[i + 1]);
  }
  out.push("connection", "upgrade");
  return out;
}

/**
 * Whether a failed try of a tunnel goes to another origin: only when its bytes never reached one
 * (refused, timed out or failed while connecting), under the pool's usual rules (`retryOn`
 * conn-failure, `retries`, the retry budget). Once the request was sent, never: the origin may
 * have acted on it, and a tunnel is not a request to repeat.
 */
export function tunnelFailed(trip: Trip, kind: FailureKind): RetryDecision {
  const rule = FAILURES[kind];
  if (rule.sent) return { retry: false, status: rule.status, reason: "method" };
  return trip.failed(kind);
}
