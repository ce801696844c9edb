/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `id.timestamp.body` with the origin's key, sent as `webhook-signature: v1,<base64>`.
 * Keys are `whsec_<base64>` or any other string used as raw UTF-8 bytes.
 */

const enc = new TextEncoder();

/** Header names (Standard Webhooks). */
export const HEADER_ID = "webhook-id";
export const HEADER_TIMESTAMP = "webhook-timestamp";
export const HEADER_SIGNATURE = "webhook-signature";

/** Accepted clock skew between agent and receiver, seconds (Standard Webhooks' 5 minutes). */
export const TOLERANCE_S = 300;

function keyBytes(key: string): Uint8Array<ArrayBuffer> {
  if (key.startsWith("whsec_")) {
    const bin = atob(key.slice(6));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  return new Uint8Array(enc.encode(key));
}

type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const keyCache = new Map<string, Promise<Key>>();
/** Imports a key (cached); rejects for a key that is not one (empty, or whsec_ with bad base64). */
function hmacKey(key: string): Promise<Key> {
  let k = keyCache.get(key);
  if (!k) {
    k = (async () => crypto.subtle.importKey("raw", keyBytes(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]))();
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(key, k);
    // a key that cannot be imported is not remembered (and never matches anything)
    k.catch(() => keyCache.delete(key));
  }
  return k;
}

/** Equal bytes, in time that depends only on the lengths. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function b64(bytes: ArrayBuffer): string {
  let s = "";
  const u = new Uint8Array(bytes);
  for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
  return btoa(s);
}

function b64decode(s: string): Uint8Array<ArrayBuffer> | null {
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** Signs a body; returns the three headers to send. `timestamp` is in seconds. */
export async function sign(key: string, id: string, timestamp: number, body: string): Promise<Record<string, string>> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(key), enc.encode(`${id}.${timestamp}.${body}`));
  return { [HEADER_ID]: id, [HEADER_TIMESTAMP]: String(timestamp), [HEADER_SIGNATURE]: `v1,${b64(mac)}` };
}

export type SignatureCheck = { ok: true } | { ok: false; why: "headers" | "timestamp" | "signature" };

/**
 * Verifies id, timestamp (within +/-TOLERANCE_S of `nowMs`) and signature against any of `keys`
 * (two keys are valid at once during a rotation). MACs are compared in constant time; a key that
 * cannot be used (missing, empty, bad whsec_ base64) never verifies and never throws.
 */
export async function verifySignature(
  headers: { id: string | null; timestamp: string | null; signature: string | null },
  body: string,
  keys: readonly string[],
  nowMs: number,
): Promise<SignatureCheck> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id) || !/^\d{1,12}$/.test(timestamp)) return { ok: false, why: "headers" };
  const ts = Number(timestamp);
  if (Math.abs(nowMs / 1000 - ts) > TOLERANCE_S) return { ok: false, why: "timestamp" };
  const data = enc.encode(`${id}.${timestamp}.${body}`);
  // space-delimited (Standard Webhooks); a trailing comma is what Node leaves when the header was sent twice
  const sigs = signature
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .map((s) => b64decode(s.slice(3).replace(/,$/, "")))
    .filter((s): s is Uint8Array<ArrayBuffer> => s !== null && s.length === 32);
  if (sigs.length === 0) return { ok: false, why: "signature" };
  let ok = false;
  for (const key of keys) {
    if (!key) continue;
    let mac: Uint8Array;
    try {
      // one HMAC per key, however many signatures the header lists
      mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(key), data));
    } catch {
      // a key that is not one (empty after whsec_, bad base64) never verifies, and does not stop the others
      continue;
    }
    for (const sig of sigs) if (sameBytes(mac, sig)) ok = true;
  }
  return ok ? { ok: true } : { ok: false, why: "signature" };
}
