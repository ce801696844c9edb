import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP } from "../core/agent/sign.ts";

/**
 * core/agent/sign.ts's `sign`, synchronously with node:crypto: the same Standard Webhooks headers
 * (HMAC-SHA256 over `id.timestamp.body`, `whsec_<base64>` keys or raw UTF-8), byte for byte
 * (test/agent/send.test.ts checks both on the same inputs). Web Crypto runs each HMAC as a job on
 * libuv's thread pool; at one report a second that hand-off cost the agent ~1 ms of CPU per report,
 * a fifth of its budget.
 */
export function signSync(key: KeyObject, id: string, timestamp: number, body: string): Record<string, string> {
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { [HEADER_ID]: id, [HEADER_TIMESTAMP]: String(timestamp), [HEADER_SIGNATURE]: `v1,${mac}` };
}

/** The key, decoded once (as core/agent/sign.ts does); throws for an empty or undecodable key. */
export function hmacKey(key: string): KeyObject {
  // a KeyObject, not the bytes: createHmac re-checks raw key material on every call
  return createSecretKey(keyBytes(key));
}

/** The key's bytes: whsec_<base64>, or any other string as UTF-8. */
export function keyBytes(key: string): Buffer {
  let bytes: Buffer;
  if (key.startsWith("whsec_")) {
    const b64 = key.slice(6);
    // atob, as core does: it refuses what is not base64 (Buffer.from would skip it silently)
    bytes = Buffer.from(atob(b64), "latin1");
  } else bytes = Buffer.from(key, "utf8");
  if (bytes.length === 0) throw new Error("the key is empty");
  return bytes;
}
