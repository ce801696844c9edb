import type { FailureKind } from "../core/proxy/retry.ts";

/**
 * Maps what an origin connection (node/h1.ts, undici) and the socket report to core's failure kinds. `requestSent` = the client called
 * onRequestStart for this try (the connection was up and the request was being written).
 */
export function failureOf(err: unknown, requestSent: boolean): FailureKind {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  const code = e?.code ?? "";
  const cause = e?.cause?.code ?? "";
  if (code === "UND_ERR_CONNECT_TIMEOUT" || cause === "UND_ERR_CONNECT_TIMEOUT") return "connect-timeout";
  if (code === "ECONNREFUSED" || cause === "ECONNREFUSED") return "connect-refused";
  if (code === "UND_ERR_HEADERS_TIMEOUT") return "header-timeout";
  if (e?.name === "HTTPParserError" || code.startsWith("HPE_") || cause.startsWith("HPE_") || code === "UND_ERR_INFO" || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH") {
    return "bad-response";
  }
  if (!requestSent) return "connect-error";
  return "empty-response";
}
