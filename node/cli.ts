import type { ParseArgsOptionsConfig } from "node:util";
import { fs, lazyV8, util } from "./builtins.ts";
import { formatIssue, parseConfigText, type ConfigIssue, type ParseResult } from "../core/config/parse.ts";
import type { Config, ListenerConfig } from "../core/config/schema.ts";
import { checkOriginCas, loadAllCertificates, type LoadedCert } from "./tls.ts";
import { edgeWarnings } from "../core/config/edge.ts";
import { Balancer } from "./balancer.ts";
import { LogOpenError } from "./log.ts";
import { runDemo } from "./demo.ts";
import { importHaproxyCommand } from "./import-haproxy.ts";

/** After SIGTERM, open keep-alive connections stay this long (each next answer says "connection: close"). */
const STOP_LINGER_MS = 1_000;

const USAGE = `usage:
  edgelb serve --config edgelb.json    run the balancer (SIGHUP reloads and reopens the log file,
        [--ready-file FILE]            SIGTERM stops accepting and drains; with listen.reusePort a
                                       new process can take the port over first). --ready-file: the
                                       pid is written there once listening (systemd waits for it)
  edgelb check --config edgelb.json    validate a config: exit 0, or 1 with one line per problem
  edgelb demo                          two demo origins and a balancer on 127.0.0.1:8080
  edgelb import-haproxy haproxy.cfg    print an equivalent edgelb.json (-o FILE to write it); unmapped
                                       directives are named on stderr with their line`;

/**
 * A config for `serve` and `check`: validated, then the files it names read and checked (TLS
 * certificates and keys, origin CA files), each problem naming its path and file.
 */
export function loadServeConfig(file: string): { ok: true; config: Config; certs: (LoadedCert[] | null)[]; warnings: ConfigIssue[] } | { ok: false; problems: string[] } {
  const r = loadConfig(file);
  if (!r.ok) return { ok: false, problems: r.issues.map(formatIssue) };
  const certs = loadAllCertificates(r.config);
  const problems = [...(certs.ok ? [] : certs.problems), ...checkOriginCas(r.config)];
  if (problems.length || !certs.ok) return { ok: false, problems };
  return { ok: true, config: r.config, certs: certs.byListener, warnings: r.warnings };
}

/** Reads and validates a config file; a missing or unreadable file is one issue naming the path. */
export function loadConfig(file: string): ParseResult {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return { ok: false, issues: [{ path: "(file)", message: `cannot read ${file}: ${(e as Error).message}`, value: undefined }] };
  }
  return parseConfigText(text);
}

function configArg(args: string[], extra: { readyFile?: boolean } = {}): { config: string; readyFile?: string } {
  const options: ParseArgsOptionsConfig = { config: { type: "string", short: "c" } };
  if (extra.readyFile) options["ready-file"] = { type: "string" };
  let values: { config?: string; "ready-file"?: string };
  try {
    ({ values } = util.parseArgs({ args, options, allowPositionals: false }) as { values: { config?: string; "ready-file"?: string } });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (!values.config) {
    process.stderr.write(`missing --config FILE\n${USAGE}\n`);
    process.exit(2);
  }
  return { config: values.config, readyFile: values["ready-file"] };
}

/**
 * V8 lets its old generation grow to up to 4x what survived the last full collection. Requests that
 * wait in a pool's queue (thousands of them at 9,000 connections, each a few KiB alive for the wait)
 * all reach the old generation, and the heap then grew to 150-190 MiB for 45 MiB alive: 300-400 MiB
 * of RSS. Growing by 1.5x at most keeps it under 256 MiB there, for a few % of CPU in more full
 * collections only when that much is promoted (bench/HISTORY.md). `node --heap-growing-percent=N` wins.
 * Set a second after the process listens (V8 reads it at each full collection; none is due that
 * early, and loading node:v8 was ~4 ms of a cold start).
 */
const HEAP_GROWING_PERCENT = 50;

async function serve(file: string, readyFile?: string): Promise<void> {
  const r = loadServeConfig(file);
  if (!r.ok) {
    for (const p of r.problems) process.stderr.write(`${file}: ${p}\n`);
    process.exit(1);
  }
  for (const w of r.warnings) process.stderr.write(`${file}: warning: ${formatIssue(w)}\n`);
  let lb: Balancer;
  try {
    lb = new Balancer(r.config, undefined, r.certs);
  } catch (e) {
    if (!(e instanceof LogOpenError)) throw e;
    process.stderr.write(`${file}: ${e.message}\n`);
    process.exit(1);
  }
  try {
    await lb.listen();
  } catch (e) {
    const { host, port, reusePort } = (e as { listener?: ListenerConfig }).listener ?? r.config.listen[0];
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const hint = code === "EADDRINUSE" ? (reusePort ? " (the process holding it was not started with listen.reusePort)" : " (to start a new process while the old one runs, set listen.reusePort in both)") : "";
    process.stderr.write(`${file}: cannot listen on ${host}:${port}: ${code}${hint}\n`);
    lb.log.flush();
    process.exit(1);
  }
  lb.addresses().forEach((a, i) => process.stdout.write(`edgelb listening on ${r.config.listen[i].tls ? "https" : "http"}://${a.address}:${a.port}\n`));
  // for a supervisor: "this process listens now" (ExecStartPost waits for it; with reusePort, a
  // probe of the port could be answered by the process being replaced)
  if (readyFile) fs.writeFileSync(readyFile, `${process.pid}\n`);
  if (!process.execArgv.some((a) => a.startsWith("--heap-growing-percent") || a.startsWith("--heap_growing_percent"))) {
    setTimeout(() => lazyV8().setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`), 1000).unref();
  }
  process.on("SIGHUP", () => {
    // logrotate moved the file away: write to a new one from now on
    lb.log.reopen();
    const next = loadServeConfig(file);
    if (!next.ok) {
      lb.reloadRefused(file, next.problems);
      return;
    }
    lb.reload(next.config, file, next.certs);
  });
  const stop = (sig: string) => {
    lb.log.info({ event: "stopping", signal: sig });
    if (readyFile) fs.rmSync(readyFile, { force: true });
    void lb.close(30_000, STOP_LINGER_MS).then(() => {
      lb.log.info({ event: "stopped", signal: sig });
      lb.log.flush();
      process.exit(0);
    });
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "serve": {
      const a = configArg(rest, { readyFile: true });
      return serve(a.config, a.readyFile);
    }
    case "check": {
      const file = configArg(rest).config;
      const r = loadServeConfig(file);
      if (!r.ok) {
        for (const p of r.problems) process.stdout.write(`${p}\n`);
        process.exit(1);
      }
      for (const w of r.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
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
