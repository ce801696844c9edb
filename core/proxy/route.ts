import type { Config } from "../config/schema.ts";

/**
 * Picks the pool for a Host header: exact names, then "*.suffix" names (longest first), then the
 * default pool. The port and letter case of the Host do not matter.
 */
export function createRouter(config: Pick<Config, "routes" | "defaultPool">): (host: string | null | undefined) => string {
  const exact = new Map<string, string>();
  const suffix: [string, string][] = [];
  for (const r of config.routes) {
    for (const h of r.host) {
      const name = h.toLowerCase();
      if (name.startsWith("*.")) suffix.push([name.slice(1), r.pool]);
      else if (!exact.has(name)) exact.set(name, r.pool);
    }
  }
  suffix.sort((a, b) => b[0].length - a[0].length);
  const fallback = config.defaultPool;
  if (exact.size === 0 && suffix.length === 0) return () => fallback;
  return (host) => {
    if (!host) return fallback;
    let h = host.toLowerCase();
    const colon = h.lastIndexOf(":");
    if (colon !== -1 && !h.endsWith("]")) h = h.slice(0, colon);
    const hit = exact.get(h);
    if (hit) return hit;
    for (const [s, pool] of suffix) if (h.endsWith(s)) return pool;
    return fallback;
  };
}
