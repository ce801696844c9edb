/**
 * Which certificate a TLS client asking for a name (SNI) gets, as the table a TLS server searches
 * last-added first, taking the first entry whose name matches, case-insensitively, `*` standing
 * for one label (Node's `server.addContext`). In this order the search gives: the first certificate
 * whose names hold the name exactly, else the first with a wildcard for its parent ("*.example.no"
 * covers "shop.example.no", not "example.no" nor "a.shop.example.no", as RFC 6125 §6.4.3), else the
 * default (the first certificate). With one certificate the table is empty, so the handshake asks
 * no callback at all (a callback per handshake costs the handshake rate).
 */
export function sniTable(names: readonly (readonly string[])[]): { name: string; index: number }[] {
  if (names.length < 2) return [];
  const wild: { name: string; index: number }[] = [];
  const exact: { name: string; index: number }[] = [];
  for (let i = names.length - 1; i >= 0; i--) {
    for (const name of names[i]) (name.startsWith("*.") ? wild : exact).push({ name, index: i });
  }
  return [...wild, ...exact];
}

/** Where a request on a redirecting listener goes: https on `port` (443 is left out), same host and target. */
export function httpsRedirect(host: string | undefined, target: string, port: number): string | null {
  if (!host) return null;
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(host);
  if (!m || !m[1]) return null;
  const path = target.startsWith("/") ? target : "/";
  return `https://${m[1]}${port === 443 ? "" : `:${port}`}${path}`;
}
