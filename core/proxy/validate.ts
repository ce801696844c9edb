/**
 * Request validation decisions (RFC 9110, RFC 9112) a runtime's HTTP parser leaves to us: what
 * defines the message boundary (Content-Length, Transfer-Encoding), Host, the method, and the
 * number of header fields. Runtimes parse; this decides. Headers are the flat raw array
 * [name, value, ...] as received, so repeated fields are seen (Node's parser keeps only the first
 * Host, silently).
 */

/** Most header field lines in one request (HAProxy's `tune.http.maxhdr` is 101); past it: 431. */
export const MAX_HEADER_FIELDS = 100;

/**
 * ok: the head may be forwarded; `host` is its one Host (undefined: an HTTP/1.0 request without one)
 * and `framedBody` says its framing announces a body (Transfer-Encoding, or a Content-Length other
 * than 0), so the runtime needs no header lookup of its own for either.
 */
export type Validation = { ok: true; host: string | undefined; framedBody: boolean } | { ok: false; status: 400 | 414 | 431; reason: string };

/** What the runtime parsed of one request head. */
export interface RequestHead {
  method?: string;
  /** "1.1", "1.0" */
  httpVersion: string;
  rawHeaders: readonly string[];
}

/** uri-host [":" port] (RFC 9110 §7.2): an IP-literal or a reg-name without ",", "@", "/", spaces or controls. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]*)(?::[0-9]{0,5})?$/;
const DIGITS = /^[0-9]{1,15}$/;

/** Decides whether a parsed request head may be forwarded; the first problem found is named. */
export function validateRequest(head: RequestHead): Validation {
  const raw = head.rawHeaders;
  if (raw.length / 2 > MAX_HEADER_FIELDS) return bad(431, `more than ${MAX_HEADER_FIELDS} header fields`);
  if (head.method === "CONNECT") return bad(400, "CONNECT is not served (a reverse proxy, not a tunnel)");
  let hosts = 0, host = "";
  let cl: string | null = null, clLines = 0;
  let te: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // length first: most names are not one of these three
    if (name.length === 4 && name.toLowerCase() === "host") {
      hosts++;
      host = raw[i + 1];
    } else if (name.length === 14 && name.toLowerCase() === "content-length") {
      clLines++;
      cl = raw[i + 1];
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      te = te === null ? raw[i + 1] : `${te},${raw[i + 1]}`;
    }
  }
  // RFC 9112 §3.2: a request with no Host (HTTP/1.1), more than one, or an invalid one gets 400
  if (hosts > 1) return bad(400, "more than one Host header");
  if (hosts === 0 && head.httpVersion !== "1.0") return bad(400, "no Host header");
  if (!HOST.test(trimOws(host))) return bad(400, "Host is not a host name with an optional port");
  if (te !== null) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; §6.3: with Content-Length, an error
    if (head.httpVersion === "1.0") return bad(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (clLines > 0) return bad(400, "both Transfer-Encoding and Content-Length");
    // only chunked, once: we decode it and frame the body ourselves, so any other coding would be
    // lost on the way to the origin (nginx answers 501 here; a 400 closes the connection too)
    if (trimOws(te).toLowerCase() !== "chunked") return bad(400, "Transfer-Encoding other than chunked");
  }
  if (clLines > 1) return bad(400, "more than one Content-Length header");
  if (cl !== null && !DIGITS.test(trimOws(cl))) return bad(400, "Content-Length is not a number");
  return { ok: true, host: hosts === 0 ? undefined : host, framedBody: te !== null || (cl !== null && cl !== "0") };
}

/**
 * The status for a request head that passed the size limit before it was complete: 414 while the
 * request line is still open (the bytes read so far start a request line and hold no LF up to where
 * the limit was hit), else 431. `packet` is what the parser was reading when it gave up; when it
 * does not start the request, it cannot tell, and the answer is 431.
 */
export function headOverflowStatus(packet: Uint8Array, offset: number): 414 | 431 {
  const end = Math.min(packet.length, Math.max(0, offset));
  let i = 0;
  // a method token, then SP
  while (i < end && isTchar(packet[i])) i++;
  if (i === 0 || i >= end || packet[i] !== 32) return 431;
  for (; i < end; i++) if (packet[i] === 10) return 431;
  return 414;
}

/**
 * Where a request-target goes: `control` (the byte-exact control prefix, served by the control
 * app, which checks auth), `lookalike` (another spelling of a control path: "//__edgelb/admin",
 * "/x/../__edgelb/admin", "/%2e%2e/__edgelb/admin", "/__edgelb/%61dmin", "/__EDGELB/admin",
 * absolute-form: answered 404 by the balancer, never forwarded, so an origin that normalizes paths
 * never sees a control request, nor the credentials sent with it), or `proxy`.
 */
export function controlTarget(target: string, prefix: string): "control" | "lookalike" | "proxy" {
  const q = target.search(/[?#]/);
  let path = q === -1 ? target : target.slice(0, q);
  let absolute = false;
  if (path.charCodeAt(0) !== 47 /* / */) {
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(path);
    if (!m) return "proxy";
    path = path.slice(m[0].length) || "/";
    absolute = true;
  }
  if (!absolute && path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47)) {
    return NOT_CANONICAL.test(path) ? "lookalike" : "control";
  }
  // the common case: a plain path that does not start like the prefix in any letter case
  const p = prefix.toLowerCase();
  if (!NOT_CANONICAL.test(path)) {
    const head = path.slice(0, p.length).toLowerCase();
    if (head !== p || (path.length > p.length && path.charCodeAt(p.length) !== 47)) return "proxy";
    return "lookalike";
  }
  const n = normalizePath(path).toLowerCase();
  return n === p || n.startsWith(`${p}/`) ? "lookalike" : "proxy";
}

/** What an origin may undo: escapes, backslashes, empty and dot segments, ";params". */
const NOT_CANONICAL = /[%\\;]|\/\/|\/\.\.?(?:\/|$)/;

/** The path as a lenient origin might see it: decoded (up to 3 times), "\\" as "/", ";params" and dot segments gone. */
function normalizePath(path: string): string {
  let p = path;
  for (let i = 0; i < 3 && p.includes("%"); i++) {
    const d = p.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (d === p) break;
    p = d;
  }
  const out: string[] = [];
  for (const raw of p.replace(/\\/g, "/").split("/")) {
    const seg = raw.split(";")[0];
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}

function isTchar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, "");
}

function bad(status: 400 | 414 | 431, reason: string): Validation {
  return { ok: false, status, reason };
}
