/**
 * The upstream request target: only the configured origin plus the request's path and query.
 * Never `new URL(req.url, base)`: a target like `//evil.example/x` would then name another host.
 */

export type Target = { ok: true; path: string } | { ok: false; status: 400; reason: string };

/**
 * Validates a request-target (RFC 9112 §3.2) and returns the origin-form path to send upstream.
 * Origin-form (`/path?query`) is kept byte for byte, `//evil/x` included: it stays a path on the
 * configured origin. Absolute-form is accepted only when its authority is the request's Host
 * (then reduced to origin-form); asterisk- and authority-form are refused.
 */
export function upstreamTarget(target: string, host: string): Target {
  if (target.length === 0) return bad("empty request-target");
  if (target.charCodeAt(0) === 47 /* / */) {
    return hasBadChar(target) ? bad("request-target has a character not allowed") : { ok: true, path: target };
  }
  const m = /^(https?):\/\/([^/?#]*)([^#]*)$/i.exec(target);
  if (!m) return bad("request-target must be origin-form");
  if (m[2].includes("@")) return bad("userinfo in request-target");
  if (m[2] === "") return bad("absolute-form without a host");
  if (m[2].toLowerCase() !== host.toLowerCase()) return bad("absolute-form authority differs from Host");
  const rest = m[3] === "" ? "/" : m[3].startsWith("?") ? `/${m[3]}` : m[3];
  return hasBadChar(rest) ? bad("request-target has a character not allowed") : { ok: true, path: rest };
}

function hasBadChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127 || c === 35 /* # */ || c > 126) return true;
  }
  return false;
}

function bad(reason: string): Target {
  return { ok: false, status: 400, reason };
}

/** The full upstream URL for runtimes that need one (the Worker's fetch): origin + path, nothing resolved. */
export function upstreamUrl(origin: string, path: string): string {
  // a path not starting with "/" would extend the authority ("@evil/x", ".evil.example/x"): never
  return path.charCodeAt(0) === 47 /* / */ ? origin + path : `${origin}/${path}`;
}
