import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { derive, INITIAL_STATE } from "../core/agent/derive.ts";
import { OriginAgent, deriveConfig, stderrLog } from "./agent.ts";
import { Collector } from "./collect.ts";
import { formatIssue, loadKey, parseAgentConfigText, type AgentConfigResult } from "./config.ts";
import { hmacKey } from "./sign.ts";

const USAGE = `usage:
  edgelb-agent --config agent.json          run the origin agent: sample, derive, report signed
                                            (SIGUSR1 forces drain, SIGUSR2 ready, SIGTERM sends a last drain and exits)
  edgelb-agent --config agent.json --check  validate the config and the key: exit 0, or 1 with one line per problem
  edgelb-agent --config agent.json --once   sample once and print the report it would send (sends nothing)`;

function load(file: string): AgentConfigResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { ok: false, issues: [{ path: "(file)", message: `cannot read ${file}: ${(e as Error).message}`, value: undefined }] };
  }
  return parseAgentConfigText(text);
}

export async function main(argv: string[]): Promise<void> {
  let values: { config?: string; check?: boolean; once?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: "string", short: "c" }, check: { type: "boolean" }, once: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (!values.config) {
    process.stderr.write(`missing --config FILE\n${USAGE}\n`);
    process.exit(2);
  }
  const file = values.config;
  const r = load(file);
  if (!r.ok) {
    for (const i of r.issues) process.stderr.write(`${file}: ${formatIssue(i)}\n`);
    process.exit(1);
  }
  const cfg = r.config;
  let key: string;
  try {
    key = loadKey(cfg, process.env, (f) => readFileSync(f, "utf8"));
  } catch (e) {
    process.stderr.write(`${file}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  try {
    // a key that is not one (whsec_ with bad base64, or nothing after whsec_) fails here, not at the first report
    hmacKey(key);
  } catch (e) {
    process.stderr.write(`${file}: ${cfg.keyEnv ? "keyEnv" : "keyFile"}: the key is not usable (${(e as Error).message}); use whsec_<base64> or a plain string\n`);
    process.exit(1);
  }

  if (values.check) {
    process.stdout.write(`${file}: ok (${cfg.pool}/${cfg.origin} -> ${cfg.targets.map((t) => t.url.href).join(", ")})\n`);
    return;
  }
  if (values.once) {
    const readings = await new Collector(cfg.procRoot, cfg.appHealth).sample(Date.now());
    const d = derive(readings, INITIAL_STATE, deriveConfig(cfg), Date.now());
    process.stdout.write(`${JSON.stringify({ health: d.health, admin: d.admin, weightPct: d.weightPct, ...(d.reason ? { reason: d.reason } : {}), readings }, null, 2)}\n`);
    return;
  }

  const agent = new OriginAgent(cfg, key, { now: Date.now, rand: Math.random, log: stderrLog });
  try {
    await agent.start();
  } catch (e) {
    process.stderr.write(`${file}: haproxyAgent: cannot listen: ${(e as Error).message}\n`);
    process.exit(1);
  }
  process.on("SIGUSR1", () => agent.force("drain"));
  process.on("SIGUSR2", () => agent.force("ready"));
  // the config is read once; a reload is a restart (seq carries on from the clock or the state file)
  process.on("SIGHUP", () => stderrLog("warn", { event: "sighup-ignored", note: "restart the agent to read agent.json again" }));
  const stop = (sig: string) => {
    // a second signal while the last report is on its way: exit at once
    process.once(sig, () => process.exit(1));
    void agent.stop(sig).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
