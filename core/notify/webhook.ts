import { HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign, verifySignature, type SignatureCheck } from "../agent/sign.ts";
import type { HealthChange, HealthChangeKind } from "../health/store.ts";

/**
 * Webhook notifications of origin state changes: the event's body, its signature and the retry
 * schedule. Signed exactly like agent reports (Standard Webhooks: HMAC-SHA256 over
 * `id.timestamp.body`, headers webhook-id / webhook-timestamp / webhook-signature), so a receiver
 * verifies with the same code as the agent ingest: `verifyEvent` below, or any Standard Webhooks
 * library. The id stays the same across retries (receivers deduplicate on it); the timestamp and
 * signature are those of each try.
 */

/** The JSON body POSTed for one change. `at` is when it happened (ISO 8601), `source` the balancer that saw it. */
export interface OriginEvent {
  type: "origin.state";
  pool: string;
  origin: string;
  kind: HealthChangeKind;
  from: string;
  to: string;
  reason: string;
  at: string;
  source: string;
}

export function originEvent(pool: string, c: HealthChange, source: string): OriginEvent {
  return { type: "origin.state", pool, origin: c.origin, kind: c.kind, from: c.from, to: c.to, reason: c.reason, at: new Date(c.at).toISOString(), source };
}

/** A fresh delivery id (the Standard Webhooks `msg_` form); `rand` gives 16 random bytes. */
export function eventId(rand: () => Uint8Array = () => crypto.getRandomValues(new Uint8Array(16))): string {
  let s = "msg_";
  for (const b of rand()) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The headers of one try: content type and the three Standard Webhooks headers, signed at `nowMs`. */
export async function signedHeaders(secret: string, id: string, body: string, nowMs: number): Promise<Record<string, string>> {
  return { "content-type": "application/json", "user-agent": "edgelb-notify", ...(await sign(secret, id, Math.floor(nowMs / 1000), body)) };
}

/**
 * What a receiver does: checks id, timestamp (+/-5 min) and signature against its secret(s), in
 * constant time. `header` reads a request header by (lower-case) name.
 */
export function verifyEvent(header: (name: string) => string | null | undefined, body: string, secrets: readonly string[], nowMs: number): Promise<SignatureCheck> {
  return verifySignature(
    { id: header(HEADER_ID) ?? null, timestamp: header(HEADER_TIMESTAMP) ?? null, signature: header(HEADER_SIGNATURE) ?? null },
    body,
    secrets,
    nowMs,
  );
}

/**
 * Whether a try's outcome calls for another: a network error or time-out (status 0), 408, 429 and
 * 5xx are retried; a 2xx is delivered; any other status (400, 401 for a bad signature, 404, 410)
 * will not change by asking again, and ends the delivery.
 */
export function retryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * Wait before try number `attempt` + 1 (attempt 1 = the first failed): exponential from `baseMs`,
 * capped at `maxMs`, with "equal jitter" (between half and the whole), so receivers that come back
 * are not hit by every balancer at once.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, rand: () => number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + (rand() * d) / 2);
}
