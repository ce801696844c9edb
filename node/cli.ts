import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatIssue, parseConfigText, type ParseResult } from "../core/config/parse.ts";
import { edgeWarnings } from "../core/config/edge.ts";
import { Balancer } from "./balancer.ts";
import { runDemo } from "./demo.ts";
import { importHaproxyCommand } from "./import-haproxy.ts";

const USAGE = `usage:
  edgelb serve --config edgelb.json    run the balancer (SIGHUP reloads, SIGTERM stops gracefully)
  edgelb check --config edgelb.json    validate a config: exit 0, or 1 with one line per problem
  edgelb demo                          two demo origins and a balancer on 127.0.0.1:8080
  edgelb import-haproxy haproxy.cfg    print an equivalent edgelb.json (-o FILE to write it); unmapped
                                       directives are named on stderr with their line`;

/** Reads and validates a config file; a missing or unreadable file is one issue naming the path. */
export function loadConfig(file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { ok: false, issues: [{ path: "(file)", message: `cannot read ${file}: ${(e as Error).message}`, value: undefined }] };
  }
  return parseConfigText(text);
}

function configArg(args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" } }, allowPositionals: false });
  if (!values.config) {
    process.stderr.write(`missing --config FILE\n${USAGE}\n`);
    process.exit(2);
  }
  return values.config;
}

async function serve(file: string): Promise<void> {
  const r = loadConfig(file);
  if (!r.ok) {
    for (const i of r.issues) process.stderr.write(`${file}: ${formatIssue(i)}\n`);
    process.exit(1);
  }
  const lb = new Balancer(r.config);
  const a = await lb.listen();
  process.stdout.write(`edgelb listening on http://${a.address}:${a.port}\n`);
  process.on("SIGHUP", () => {
    const next = loadConfig(file);
    if (!next.ok) {
      lb.reloadRefused(file, next.issues.map(formatIssue));
      return;
    }
    lb.reload(next.config, file);
  });
  const stop = (sig: string) => {
    lb.log.info({ event: "stopping", signal: sig });
    void lb.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "serve":
      return serve(configArg(rest));
    case "check": {
      const file = configArg(rest);
      const r = loadConfig(file);
      if (!r.ok) {
        for (const i of r.issues) process.stdout.write(`${formatIssue(i)}\n`);
        process.exit(1);
      }
      const origins = Object.values(r.config.pools).reduce((n, p) => n + p.origins.length, 0);
      for (const w of edgeWarnings(r.config)) process.stderr.write(`warning (edge build only): ${formatIssue(w)}\n`);
      process.stdout.write(`${file}: ok (${Object.keys(r.config.pools).length} pool(s), ${origins} origin(s))\n`);
      return;
    }
    case "demo":
      return runDemo();
    case "import-haproxy":
      // exitCode, not exit(): a piped stdout is written out in full
      process.exitCode = await importHaproxyCommand(rest, { stdout: (t) => void process.stdout.write(t), stderr: (t) => void process.stderr.write(t) });
      return;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n${USAGE}\n`);
      process.exit(2);
  }
}
