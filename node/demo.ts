import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseConfig, formatIssue } from "../core/config/parse.ts";
import { Balancer } from "./balancer.ts";

const ORIGINS = [
  { name: "web01", port: 9101 },
  { name: "web02", port: 9102 },
];

/** Starts a demo origin as its own process (so a newcomer can kill it) and waits until it listens. */
function startOrigin(name: string, port: number): Promise<ChildProcess> {
  // next to this module: demo-origin.ts in the sources, demo-origin.mjs in the bundle (dist-node/)
  const file = new URL(import.meta.url.endsWith(".mjs") ? "./demo-origin.mjs" : "./demo-origin.ts", import.meta.url);
  // (node:child_process through getBuiltinModule: an ES import would load it at every `edgelb serve` start)
  const { spawn } = process.getBuiltinModule("node:child_process");
  const child = spawn(process.execPath, [fileURLToPath(file), name, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`demo origin ${name} exited (${code}); is port ${port} free?`)));
    child.stdout!.once("data", () => resolve(child));
  });
}

/** `edgelb demo` (what `npm start` runs): two origins on loopback and a balancer on 127.0.0.1:8080. */
export async function runDemo(): Promise<void> {
  const children = await Promise.all(ORIGINS.map((o) => startOrigin(o.name, o.port)));
  const r = parseConfig({
    listen: { host: "127.0.0.1", port: 8080 },
    pools: {
      webfarm: {
        origins: ORIGINS.map((o) => ({ name: o.name, url: `http://127.0.0.1:${o.port}` })),
        check: { interval: "1s", timeout: "500ms", rise: 2, fall: 2 },
        slowStart: "10s",
      },
    },
  });
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
  const lb = new Balancer(r.config);
  await lb.listen();
  const [a, b] = children;
  process.stdout.write(`
edgelb demo: a balancer on http://127.0.0.1:8080 in front of two origins
  web01  http://127.0.0.1:9101  pid ${a.pid}
  web02  http://127.0.0.1:9102  pid ${b.pid}

Try:
  for i in 1 2 3 4; do curl -s http://127.0.0.1:8080/; done     # alternates web01 / web02
  kill ${a.pid}                                                   # web01 dies; requests keep working
  curl -s http://127.0.0.1:8080/__edgelb/stats?format=json        # web01 DOWN after 2 failed checks
  open http://127.0.0.1:8080/__edgelb/stats                       # the stats page
Ctrl-C stops everything.
`);
  const stop = () => {
    for (const c of children) c.kill("SIGTERM");
    void lb.close(2000).then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  for (const c of children) c.removeAllListeners("exit");
}
