import type { AuthConfig } from "../config/schema.ts";

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Compares two strings in time that depends only on their lengths, never on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = enc.encode(a), y = enc.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i % (y.length || 1)];
  return diff === 0;
}

/** Secrets are looked up by name (env var or wrangler secret), never stored in the config. */
export type SecretLookup = (name: string) => string | undefined;

/**
 * Checks an Authorization header against the configured Basic users and bearer token.
 * A configured secret that is missing from the environment never matches.
 */
export function authorized(header: string | undefined | null, auth: AuthConfig, secret: SecretLookup): boolean {
  if (!header) return false;
  const sp = header.indexOf(" ");
  if (sp === -1) return false;
  const scheme = header.slice(0, sp).toLowerCase();
  const value = header.slice(sp + 1).trim();
  if (scheme === "bearer" && auth.bearerEnv) {
    const token = secret(auth.bearerEnv);
    return !!token && timingSafeEqual(value, token);
  }
  if (scheme === "basic" && auth.basic.length) {
    let decoded: string;
    try {
      // RFC 7617: user-pass is UTF-8 (atob alone yields one char per byte, so "blåbær" never matched)
      const bin = atob(value);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      decoded = utf8.decode(bytes);
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon === -1) return false;
    const user = decoded.slice(0, colon), pass = decoded.slice(colon + 1);
    let ok = false;
    for (const u of auth.basic) {
      const p = secret(u.passwordEnv);
      // evaluate every user and both comparisons (no short circuit) so the time does not tell
      // which name exists
      const userOk = timingSafeEqual(user, u.user);
      const passOk = timingSafeEqual(pass, p ?? "");
      if (p && userOk && passOk) ok = true;
    }
    return ok;
  }
  return false;
}

/** Loopback peers (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopback(peer: string): boolean {
  return peer === "::1" || peer.startsWith("127.") || peer.startsWith("::ffff:127.");
}
