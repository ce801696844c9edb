// Issue 9: which certificate each SNI name gets, and the table the Node build hands to node:tls.
import { describe, expect, it } from "vitest";
import { httpsRedirect, sniTable } from "../../core/proxy/sni.ts";

const names = [["shop.test", "www.shop.test"], ["admin.test", "a.wild.test"], ["*.wild.test", "*.admin.test"], ["shop.test", "other.test"]];

/** node:tls's search (lib/internal/tls/wrap.js SNICallback): last added first, `*` = one label, case-insensitive; no name or no match -> the default (0). */
function nodeSearch(table: { name: string; index: number }[], servername: string | undefined): number {
  if (servername === undefined) return 0;
  for (let i = table.length - 1; i >= 0; i--) {
    const re = new RegExp(`^${table[i].name.replace(/([.^$+?\-\\[\]{}])/g, "\\$1").replaceAll("*", "[^.]*")}$`, "i");
    if (re.test(servername)) return table[i].index;
  }
  return 0;
}

describe("SNI", () => {
  it("the table, searched as node:tls searches it: exact names first, then a one-label wildcard, an earlier certificate first, else the default", () => {
    const pick = (sn: string | undefined) => nodeSearch(sniTable(names), sn);
    expect(pick(undefined)).toBe(0);
    const want: Record<string, number> = { "shop.test": 0, "www.shop.test": 0, "WWW.Shop.Test.": 0, "Admin.Test": 1, "other.test": 3, "a.wild.test": 1, "b.wild.test": 2, "x.admin.test": 2, "a.b.wild.test": 0, "wild.test": 0, "nowhere.test": 0 };
    for (const [sn, i] of Object.entries(want)) expect([sn, pick(sn)]).toEqual([sn, i]);
  });

  it("sniTable is empty with one certificate: the default serves every name and no callback runs", () => {
    expect(sniTable([["shop.test", "*.shop.test"]])).toEqual([]);
    expect(sniTable(names).length).toBe(8);
  });

  it("httpsRedirect keeps host and target, drops the port, leaves 443 out", () => {
    expect(httpsRedirect("shop.test:8080", "/a?b=1", 8443)).toBe("https://shop.test:8443/a?b=1");
    expect(httpsRedirect("shop.test", "/", 443)).toBe("https://shop.test/");
    expect(httpsRedirect("[::1]:80", "*", 443)).toBe("https://[::1]/");
    expect(httpsRedirect(undefined, "/", 443)).toBeNull();
    expect(httpsRedirect(":80", "/", 443)).toBeNull();
  });
});
