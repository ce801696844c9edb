/**
 * Which certificate a TLS client asking for `servername` (SNI) gets: the first whose names hold it
 * exactly, else the first with a wildcard for its parent ("*.example.no" covers "shop.example.no",
 * not "example.no" nor "a.shop.example.no", as RFC 6125 §6.4.3), else the first certificate (the
 * default). Names are lower case; a trailing dot in the request is ignored.
 */
export function certificateFor(names: readonly (readonly string[])[], servername: string | undefined): number {
  if (!servername) return 0;
  const name = servername.toLowerCase().replace(/\.$/, "");
  const exact = names.findIndex((n) => n.includes(name));
  if (exact !== -1) return exact;
  const dot = name.indexOf(".");
  if (dot <= 0) return 0;
  const wild = `*${name.slice(dot)}`;
  const w = names.findIndex((n) => n.includes(wild));
  return w === -1 ? 0 : w;
}

/**
 * The SNI table for a TLS server that searches its entries last-added first and takes the first
 * whose name matches (`*` standing for one label): Node's `server.addContext`. Added in this order,
 * the search gives what `certificateFor` gives: exact names before wildcards, an earlier certificate
 * before a later one, no match -> the default. With one certificate the table is empty, so the
 * handshake asks no callback at all (a callback per handshake costs the handshake rate).
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
