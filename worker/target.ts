/**
 * Characters a path or query may hold for `new URL` to give it back unchanged: 1 = anywhere
 * (unreserved, sub-delims but ";", ":", "@", "/"), 2 = in the query only ("%", ";", "?").
 * Anything else (controls, space, '"', "#", "<", ">", "\\", "^", "`", "{", "|", "}", non-ASCII)
 * sends the request to the URL parser.
 */
const CLASS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&()*+,=:@/") CLASS[c.charCodeAt(0)] = 1;
for (const c of "%;?") CLASS[c.charCodeAt(0)] = 2;

/**
 * The path and query of `req.url` without a URL object, when the URL parser would give them back
 * unchanged: "http(s)://" + an authority with no "?", "#", "\\" or "@" + a path of plain
 * characters with no empty ("//") or dot segment ("/./", "/../", a final "/." or "/.."), and a
 * query of plain characters (an empty one dropped, as new URL does). Anything else returns null, and the caller parses the URL as before.
 * workerd passes the client's request-target through in req.url as it was sent (dot segments and
 * all), and fetch normalizes the upstream URL the same way either way (test/workerd/wire.test.ts).
 * A path this accepts is also canonical for controlTarget (no "%", "\\", ";", "//" or dot segment).
 */
export function plainTarget(u: string): string | null {
  const from = u.startsWith("http://") ? 7 : u.startsWith("https://") ? 8 : -1;
  if (from === -1) return null;
  const slash = u.indexOf("/", from);
  if (slash <= from) return null;
  for (let k = from; k < slash; k++) {
    const c = u.charCodeAt(k);
    if (c === 63 /* ? */ || c === 35 /* # */ || c === 92 /* \ */ || c === 64 /* @ */) return null;
  }
  const n = u.length;
  let k = slash;
  // the path: class 1 only; a "/" may not be followed by "/", "." + (end | "/" | "?"), or ".." + (end | "/" | "?")
  for (; k < n; k++) {
    const c = u.charCodeAt(k);
    if (c === 63 /* ? */) break;
    if (c >= 128 || CLASS[c] !== 1) return null;
    if (c === 47 /* / */ && k + 1 < n) {
      const d = u.charCodeAt(k + 1);
      if (d === 47) return null;
      if (d === 46 /* . */) {
        const e = k + 2 < n ? u.charCodeAt(k + 2) : 47;
        if (e === 47 || e === 63) return null;
        if (e === 46 && (k + 3 >= n || u.charCodeAt(k + 3) === 47 || u.charCodeAt(k + 3) === 63)) return null;
      }
    }
  }
  // an empty query ("/x?") is no query for new URL
  if (k === n - 1) return u.slice(slash, k);
  // the query: class 1 or 2
  for (; k < n; k++) {
    const c = u.charCodeAt(k);
    if (c >= 128 || CLASS[c] === 0) return null;
  }
  return u.slice(slash);
}

/**
 * controlTarget's answer for a path plainTarget accepted, without a regex or a copy in the common
 * case: a path whose first prefix.length characters are not the prefix in any letter case is
 * "proxy" (controlTarget gives the same for such a canonical path); only a path that starts like
 * the prefix goes to controlTarget. `prefixLower` is the prefix lower-cased.
 */
export function startsLikePrefix(path: string, prefixLower: string): boolean {
  const m = prefixLower.length;
  if (path.length < m) return false;
  for (let k = 0; k < m; k++) {
    let c = path.charCodeAt(k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== prefixLower.charCodeAt(k)) return false;
  }
  return true;
}
