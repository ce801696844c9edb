/**
 * Hop-by-hop response headers that workerd's HTTP server removes itself when it writes a Worker's
 * response (test/workerd/wire.test.ts pins it): when these are the only ones, the origin's response
 * is returned as it is, with no copy. Proxy-* and Connection-listed names are not removed by it.
 */
export const STRIPPED_ON_WIRE: ReadonlySet<string> = new Set(["connection", "keep-alive", "te", "trailer", "upgrade", "transfer-encoding"]);
