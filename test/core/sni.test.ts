// Issue 9: which certificate each SNI name gets, and the table the Node build hands to node:tls.
import { describe, expect, it } from "vitest";
import { certificateFor, httpsRedirect, sniTable } from "../../core/proxy/sni.ts";

const names = [["shop.test", "www.shop.test"], ["admin.test", "a.wild.test"], ["*.wild.test", "*.admin.test"], ["shop.test", "other.test"]];

/** node:tls's search (lib/internal/tls/wrap.js SNICallback): last added first, `*` = one label, case-insensitive; none -> the default (0). */
function nodeSearch(table: { name: string; index: number }[], servername: string): number {
  for (let i = table.length - 1; i >= 0; i--) {
    const re = new RegExp(`^${table[i].name.replace(/([.^$+?\-\\[\]{}])/g, "\\$1").replaceAll("*", "[^.]*")}$`, "i");
    if (re.test(servername)) return table[i].index;
  }
  return 0;
}

describe("SNI", () => {
  it("certificateFor: exact names first, then a one-label wildcard, an earlier certificate first, else the default", () => {
    expect(certificateFor(names, "shop.test")).toBe(0);
    expect(certificateFor(names, "WWW.Shop.Test.")).toBe(0);
    expect(certificateFor(names, "other.test")).toBe(3);
    expect(certificateFor(names, "a.wild.test")).toBe(1);
    expect(certificateFor(names, "b.wild.test")).toBe(2);
    expect(certificateFor(names, "x.admin.test")).toBe(2);
    expect(certificateFor(names, "a.b.wild.test")).toBe(0);
    expect(certificateFor(names, "wild.test")).toBe(0);
    expect(certificateFor(names, undefined)).toBe(0);
  });

  it("sniTable, searched as node:tls searches it, picks what certificateFor picks", () => {
    const table = sniTable(names);
    for (const sn of ["shop.test", "www.shop.test", "Admin.Test", "other.test", "a.wild.test", "b.wild.test", "x.admin.test", "a.b.wild.test", "wild.test", "nowhere.test"]) {
      expect([sn, nodeSearch(table, sn)]).toEqual([sn, certificateFor(names, sn)]);
    }
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
