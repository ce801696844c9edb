import { afterEach, describe, expect, it } from "vitest";
import dns from "node:dns";
import net, { type AddressInfo, type Server } from "node:net";
import { listenOn } from "../../node/listen.ts";

// node/listen.ts: an IP-literal host is bound on a handle made here, not through server.listen's
// dns.lookup (and its IPv6 filter); a host name still goes through the lookup; errors are Node's.
const lookup = dns.lookup;
let lookups = 0;
const open: Server[] = [];

function counted(): void {
  lookups = 0;
  (dns as { lookup: unknown }).lookup = (...args: unknown[]) => {
    lookups++;
    return (lookup as (...a: unknown[]) => unknown)(...args);
  };
}

afterEach(async () => {
  (dns as { lookup: unknown }).lookup = lookup;
  await Promise.all(open.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(host: string, port: number, reusePort = false): Promise<Server> {
  const s = net.createServer((c) => c.end("hi"));
  await listenOn(s, { host, port, backlog: 100, reusePort });
  open.push(s);
  return s;
}

function get(port: number, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, host);
    let d = "";
    c.setEncoding("latin1").on("data", (x) => (d += x)).on("end", () => resolve(d)).on("error", reject);
  });
}

describe("listenOn (node/listen.ts)", () => {
  it("binds an IPv4 or IPv6 address without a name lookup, and the server accepts on it", async () => {
    counted();
    const a = await listen("127.0.0.1", 0);
    const pa = (a.address() as AddressInfo).port;
    expect(a.address()).toMatchObject({ address: "127.0.0.1", family: "IPv4" });
    expect(await get(pa)).toBe("hi");
    const b = await listen("::1", 0).catch(() => null); // a machine without IPv6 loopback skips this half
    if (b) {
      expect(b.address()).toMatchObject({ address: "::1", family: "IPv6" });
      expect(await get((b.address() as AddressInfo).port, "::1")).toBe("hi");
    }
    expect(lookups).toBe(0);
  });

  it("a host name still goes through the lookup", async () => {
    counted();
    const s = await listen("localhost", 0);
    expect(lookups).toBe(1);
    expect((s.address() as AddressInfo).port).toBeGreaterThan(0);
  });

  it("reusePort sockets share a port; a plain socket on a taken port gets Node's EADDRINUSE with the address", async () => {
    const a = await listen("127.0.0.1", 0, true);
    const port = (a.address() as AddressInfo).port;
    const b = await listen("127.0.0.1", port, true);
    expect((b.address() as AddressInfo).port).toBe(port);
    const e = await listen("127.0.0.1", port, false).then(() => null, (x: NodeJS.ErrnoException & { address?: string; port?: number }) => x);
    expect(e).toMatchObject({ code: "EADDRINUSE", syscall: "listen", address: "127.0.0.1", port });
    expect(e?.message).toBe(`listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
    // nothing half-made stays bound: the two shared sockets still serve
    expect(await get(port)).toBe("hi");
  });

  it("an address this machine does not have is EADDRNOTAVAIL, named", async () => {
    const e = await listen("192.0.2.1", 0).then(() => null, (x: NodeJS.ErrnoException) => x);
    expect(e).toMatchObject({ code: "EADDRNOTAVAIL", syscall: "listen" });
    expect(e?.message).toBe("listen EADDRNOTAVAIL: address not available 192.0.2.1:0");
  });
});
