import type { CheckConfig, StatusRange } from "../config/schema.ts";

/** The probe both builds send: method, path and headers (Host = the origin's unless configured). */
export function checkRequest(check: CheckConfig, originUrl: string): { url: string; method: string; headers: Record<string, string> } {
  const host = check.host ?? originUrl.replace(/^https?:\/\//, "");
  return { url: originUrl + check.path, method: check.method, headers: { host, "user-agent": "edgelb-check" } };
}

/** Whether a check's status counts as healthy (HAProxy `http-check expect status`). */
export function checkPassed(status: number, expect: readonly StatusRange[]): boolean {
  for (const [lo, hi] of expect) if (status >= lo && status <= hi) return true;
  return false;
}
