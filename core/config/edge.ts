import type { Config } from "./schema.ts";
import type { ConfigIssue } from "./parse.ts";

/** Ports a Cloudflare Worker's fetch can reach (the proxied HTTP/HTTPS ports). */
const HTTP_PORTS = new Set(["80", "8080", "8880", "2052", "2082", "2086", "2095"]);
const HTTPS_PORTS = new Set(["443", "2053", "2083", "2087", "2096", "8443"]);

/**
 * Problems that only matter for the edge build: a deployed Worker cannot fetch an IP address
 * directly (Cloudflare error 1003) nor ports outside Cloudflare's proxied ones. Local tests and
 * `wrangler dev` can, so these are warnings, not errors.
 */
export function edgeWarnings(config: Config): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const [pname, pool] of Object.entries(config.pools)) {
    pool.origins.forEach((o, i) => {
      const u = new URL(o.url);
      const path = `pools.${pname}.origins[${i}].url`;
      if (/^\d+\.\d+\.\d+\.\d+$/.test(u.hostname) || u.hostname.startsWith("[")) {
        out.push({ path, message: "is an IP address: a deployed Worker cannot fetch IP addresses (error 1003); use a DNS name", value: o.url });
      }
      if (o.ca !== undefined && u.protocol === "https:") {
        out.push({ path: `pools.${pname}.origins[${i}].ca`, message: "is not used by a deployed Worker: its fetch trusts the public CAs only (use a public certificate or Cloudflare's Origin CA with Full (strict))", value: o.ca });
      }
      if (!o.verify && u.protocol === "https:") {
        out.push({ path: `pools.${pname}.origins[${i}].verify`, message: "cannot be turned off in a deployed Worker: its fetch always verifies origin certificates", value: false });
      }
      const port = u.port || (u.protocol === "https:" ? "443" : "80");
      if (!(u.protocol === "https:" ? HTTPS_PORTS : HTTP_PORTS).has(port)) {
        out.push({ path, message: `uses port ${port}, which a deployed Worker cannot reach (allowed: ${[...(u.protocol === "https:" ? HTTPS_PORTS : HTTP_PORTS)].join(", ")})`, value: o.url });
      }
    });
  }
  config.notify.webhooks.forEach((w, i) => {
    out.push({ path: `notify.webhooks[${i}]`, message: "is not sent by the edge build (the Node build sends webhooks; at the edge, watch /__edgelb/metrics)", value: w.url });
  });
  return out;
}
