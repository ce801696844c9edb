import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/parse.ts";
import { importHaproxyCommand, SCHEMA_FILE, schemaRef } from "../../node/import-haproxy.ts";
import { killOrigins, send, startBalancer, startOrigin, synced, waitFor, type TestOrigin } from "../support/harness.ts";
import { tempDir } from "../support/tmp.ts";

const FIXTURE = fileURLToPath(new URL("../../deploy/examples/haproxy-1.4-webfarm.cfg", import.meta.url));
const dir = tempDir("edgelb-import-");

/** Runs the command in process; returns its exit code and what it printed. */
async function run(...args: string[]) {
  let stdout = "", stderr = "";
  const code = await importHaproxyCommand(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe("edgelb import-haproxy (in process)", () => {
  it("prints the edgelb.json with $schema first, and each note on stderr as FILE:LINE: directive: message; exit 0", async () => {
    const r = await run(FIXTURE);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json)[0]).toBe("$schema");
    expect(resolve(json.$schema)).toBe(SCHEMA_FILE);
    expect(parseConfig(json).ok).toBe(true);
    expect(json.pools.webfarm.origins).toHaveLength(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.every((l) => l.startsWith(`${FIXTURE}:`))).toBe(true);
    expect(lines.map((l) => l.slice(FIXTURE.length + 1).split(": ").slice(0, 2).join(": "))).toEqual([
      "4: log", "6: user", "7: group", "8: daemon", "10: log", "12: option httplog", "13: option dontlognull",
      "18: clitimeout", "22: stats enable", "23: stats uri", "25: option httpclose", "27: check",
    ]);
  });

  it("-o writes the file, with a $schema path that resolves from where the file is", async () => {
    const out = join(dir, "sub", "..", "edgelb.json");
    const r = await run("-o", out, FIXTURE);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const json = JSON.parse(readFileSync(out, "utf8"));
    expect(resolve(dirname(out), json.$schema)).toBe(SCHEMA_FILE);
    expect(json.$schema).toBe(schemaRef(dir));
    expect(r.stderr).toMatch(/written \(12 note\(s\) above\)\n$/);
    // --schema sets the reference as given (a URL, say)
    const s = await run("--schema", "https://example.no/edgelb.schema.json", FIXTURE);
    expect(JSON.parse(s.stdout).$schema).toBe("https://example.no/edgelb.schema.json");
  });

  it("exit 1 when the file cannot be read; 2 on a usage error or when the result does not pass edgelb check", async () => {
    const missing = await run(join(dir, "nope.cfg"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.cfg/);
    expect(missing.stdout).toBe("");

    expect((await run()).code).toBe(2);
    expect((await run("--bogus", FIXTURE)).code).toBe(2);

    const empty = join(dir, "empty.cfg");
    writeFileSync(empty, "frontend f\n    bind :80\n    default_backend b\nbackend b\n    balance roundrobin\n");
    const bad = await run(empty);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/empty\.cfg:4: backend: backend b has no server lines/);
    expect(bad.stderr).toMatch(/does not pass edgelb check:\n {2}pools: must define at least one pool/);
  });
});

describe("the imported fixture serves", () => {
  let web01: TestOrigin, web02: TestOrigin;
  beforeAll(async () => {
    [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  });
  afterAll(killOrigins);

  it("with its addresses replaced by two loopback origins: both serve, X-Forwarded-For is set", async () => {
    const r = await run(FIXTURE);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout);
    const urls: Record<string, string> = { "http://192.168.1.10:80": web01.url, "http://192.168.1.11:80": web02.url };
    for (const o of cfg.pools.webfarm.origins) o.url = urls[o.url];
    delete cfg.listen; // startBalancer listens on 127.0.0.1:0
    const b = await startBalancer(cfg);
    try {
      const seen: (string | null)[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await send(b.url, { path: `/imported/${i}` });
        expect(res.status).toBe(200);
        seen.push(res.origin);
      }
      expect(new Set(seen)).toEqual(new Set(["web01", "web02"]));
      await synced(web01, web02);
      const proxied = [...web01.requests, ...web02.requests].filter((q) => q.url.startsWith("/imported/"));
      expect(proxied).toHaveLength(6);
      for (const q of proxied) {
        const xff = q.headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === "x-forwarded-for");
        expect(xff).toBeGreaterThanOrEqual(0);
        expect(q.headers[xff + 1]).toBe("127.0.0.1");
      }
      // the imported checks run (GET / every 2s, edgelb's defaults for a plain `check`)
      await waitFor(async () => {
        await synced(web01, web02);
        return [web01, web02].every((o) => o.requests.some((q) => q.method === "GET" && q.url === "/"));
      }, 8000);
    } finally {
      await b.close();
    }
  });
});

describe("edgelb import-haproxy (the CLI as a process)", () => {
  it("bin/edgelb.js import-haproxy FILE: exit 0, the JSON on stdout (it passes edgelb check), the notes on stderr", async () => {
    const { spawnSync } = await import("node:child_process");
    const bin = fileURLToPath(new URL("../../bin/edgelb.js", import.meta.url));
    const r = spawnSync(process.execPath, [bin, "import-haproxy", FIXTURE], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)[0]).toBe("$schema");
    expect(parseConfig(out).ok).toBe(true);
    expect(out.pools.webfarm.origins.map((o: { url: string }) => o.url)).toEqual(["http://192.168.1.10:80", "http://192.168.1.11:80"]);
    expect(r.stderr).toContain(`${FIXTURE}:25: option httpclose:`);
    // and edgelb check agrees, as a process too
    const file = join(dir, "cli-import.json");
    writeFileSync(file, r.stdout);
    const check = spawnSync(process.execPath, [bin, "check", "--config", file], { encoding: "utf8", timeout: 20_000 });
    expect(check.status).toBe(0);
    expect(check.stdout).toContain("ok (1 pool(s), 2 origin(s))");
    // the only remarks: the edge build cannot fetch IP addresses
    expect(check.stderr.trimEnd().split("\n").every((l) => l.startsWith("warning (edge build only)"))).toBe(true);
  });
});
