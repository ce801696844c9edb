// edgelb's Worker bundle (dist/, `npm run build:worker`) under bare `workerd serve`, as the bench
// runs it (bench/conf/workerd-edgelb.capnp): for the tests that need the runtime as in production
// rather than the vitest pool's (test/workerd/).
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const WORKERD = join(ROOT, "node_modules/.bin/workerd");

export interface EdgeUnderWorkerd {
  port: number;
  child: ChildProcess;
  /** what workerd wrote on stderr so far */
  stderr(): string;
}

/**
 * Starts workerd in `dir` with edgelb's bundle, `config` as EDGELB_CONFIG and `texts` as more text
 * bindings (secrets: example values only), and waits until its port takes connections. The caller
 * stops `child` by its pid.
 */
export async function startEdgeUnderWorkerd(dir: string, config: unknown, texts: Record<string, string> = {}): Promise<EdgeUnderWorkerd> {
  const bundle = join(ROOT, "dist/index.js");
  if (!existsSync(bundle)) throw new Error("dist/index.js is missing: `npm test` builds it first (npm run build:worker)");
  mkdirSync(dir, { recursive: true });
  copyFileSync(bundle, join(dir, "index.js"));
  return serveUnderWorkerd(dir, ["index.js"], config, texts);
}

/** workerd serving the ES `modules` already in `dir` (the first is the main one) with the bench template's bindings and a fresh Durable Object directory. */
export async function serveUnderWorkerd(dir: string, modules: string[], config: unknown, texts: Record<string, string> = {}): Promise<EdgeUnderWorkerd> {
  rmSync(join(dir, "do"), { recursive: true, force: true });
  mkdirSync(join(dir, "do"), { recursive: true });
  writeFileSync(join(dir, "edgelb-config.json"), JSON.stringify(config));
  const port = await freePort();
  const bindings = Object.entries(texts).map(([name, value]) => `\n    (name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)}),`).join("");
  const capnp = readFileSync(join(ROOT, "bench/conf/workerd-edgelb.capnp"), "utf8")
    .replaceAll("@PORT@", String(port))
    .replaceAll("@STORAGE@", join(dir, "do"))
    .replaceAll("@MODULES@", modules.map((m) => `(name = "${m}", esModule = embed "${m}")`).join(", "))
    .replace(`(name = "EDGELB_CONFIG", text = embed "edgelb-config.json"),`, `$&${bindings}`);
  for (const name of Object.keys(texts)) if (!capnp.includes(name)) throw new Error(`bench/conf/workerd-edgelb.capnp: no place for binding ${name}`);
  writeFileSync(join(dir, "workerd.capnp"), capnp);
  let err = "";
  const child = spawn(WORKERD, ["serve", join(dir, "workerd.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d) => (err += d));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`workerd exited: ${err}`);
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.destroy(), r(true)));
      s.on("error", () => r(false));
    });
    if (up) return { port, child, stderr: () => err };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`workerd did not take connections on ${port} within 10 s: ${err}`);
}
