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
function hmacKey(key: string): Promise<Key> {
  let k = keyCache.get(key);
  if (!k) {
    k = crypto.subtle.importKey("raw", keyBytes(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(key, k);
  }
  return k;
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
 * (two keys are valid at once during a rotation). crypto.subtle.verify compares in constant time.
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
  const sigs = signature.split(" ").filter((s) => s.startsWith("v1,")).map((s) => b64decode(s.slice(3))).filter((s): s is Uint8Array<ArrayBuffer> => s !== null && s.length === 32);
  for (const key of keys) {
    if (!key) continue;
    const k = await hmacKey(key);
    for (const sig of sigs) if (await crypto.subtle.verify("HMAC", k, sig, data)) return { ok: true };
  }
  return { ok: false, why: "signature" };
}
