import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HaproxyAgentServer } from "../../origin-agent/haproxy.ts";
import { freePort } from "../support/harness.ts";
import { AGENT, start, stopAll, tempDir, TEST_KEY, waitFor, writeProc } from "./helpers.ts";

/**
 * HAProxy compatibility: the agent answers HAProxy's agent-check, and a real HAProxy (Debian's
 * package) changes the server's weight, drain and up/down from it, as its stats socket shows.
 */

/** The haproxy binary, or null (then the real-HAProxy test is skipped, saying why). */
function findHaproxy(): string | null {
  for (const bin of ["haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]) {
    const r = spawnSync(bin, ["-v"], { encoding: "utf8" });
    if (r.status === 0 && /HAProxy version/i.test(r.stdout)) return bin;
  }
  return null;
}
const HAPROXY = findHaproxy();


/** One line from an agent-check port, as HAProxy reads it. */
function agentLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let text = "";
    s.on("data", (d) => (text += d));
    s.on("end", () => resolve(text));
    s.on("error", reject);
    // what HAProxy's agent-send would write; the agent answers whatever it gets
    s.write("hello\n");
  });
}

describe("the agent-check listener (protocol)", () => {
  it("answers one line and closes; the line follows set()", async () => {
    const srv = new HaproxyAgentServer();
    const { port } = await srv.listen("127.0.0.1", 0);
    try {
      expect(await agentLine(port)).toBe("ready up 100%\n");
      srv.set("drain up 0% #loadPerCpu 2.4 past hard 2\n");
      expect(await agentLine(port)).toBe("drain up 0% #loadPerCpu 2.4 past hard 2\n");
    } finally {
      await srv.close();
    }
  });
});

interface ServerState {
  opState: number;
  adminState: number;
  uweight: number;
  iweight: number;
}

/** `show servers state <backend>` on HAProxy's stats socket: the row of one server. */
function serverState(sock: string, backend: string, server: string): Promise<ServerState | null> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let text = "";
    s.on("data", (d) => (text += d));
    s.on("end", () => {
      // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight ...
      const row = text.split("\n").map((l) => l.split(" ")).find((f) => f[1] === backend && f[3] === server);
      resolve(row ? { opState: Number(row[5]), adminState: Number(row[6]), uweight: Number(row[7]), iweight: Number(row[8]) } : null);
    });
    s.on("error", reject);
    s.end(`show servers state ${backend}\n`);
  });
}

/** HAProxy's admin-state bit for a drain (SRV_ADMF_FDRAIN) and for forced maintenance (SRV_ADMF_FMAINT). */
const FDRAIN = 0x08;
const SRV_STOPPED = 0;
const SRV_RUNNING = 2;

const title = HAPROXY
  ? "a real HAProxy follows the agent (agent-check, stats socket)"
  : "a real HAProxy follows the agent (SKIPPED: no haproxy binary; on Debian: apt-get install -y haproxy)";

describe.skipIf(!HAPROXY)(title, () => {
  let app: http.Server;
  let appStatus = 200;
  let receiver: http.Server;
  const dir = tempDir("haproxy");
  beforeAll(async () => {
    app = http.createServer((_req, res) => ((res.statusCode = appStatus), res.end()));
    receiver = http.createServer((_req, res) => res.end('{"ok":true}'));
    await Promise.all([app, receiver].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
  });
  afterAll(async () => {
    for (const s of [app, receiver]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  afterEach(stopAll);

  it("weight %, drain past hard and back after the hold, down when the app fails", async () => {
    const proc = join(dir, "proc");
    writeProc(proc, { load: 0.8, cpus: 4 });
    const agentPort = await freePort();
    const cfg = join(dir, "agent.json");
    const port = (s: http.Server) => (s.address() as net.AddressInfo).port;
    writeFileSync(
      cfg,
      JSON.stringify({
        pool: "web",
        origin: "s1",
        targets: [`http://127.0.0.1:${port(receiver)}`],
        keyEnv: "EDGELB_TEST_AGENT_KEY",
        interval: "200ms",
        holdTime: "1s",
        raiseAfter: "0",
        procRoot: proc,
        thresholds: { loadPerCpu: { soft: 1, hard: 2 } },
        appHealth: { url: `http://127.0.0.1:${port(app)}/health`, timeout: "150ms" },
        haproxyAgent: { host: "127.0.0.1", port: agentPort },
      }),
    );
    const agent = start(AGENT, ["--config", cfg], { EDGELB_TEST_AGENT_KEY: TEST_KEY });
    await waitFor("the agent to listen", () => agent.events(), (ev) => ev.some((e) => e.event === "started"), 10_000);

    const sock = join(dir, "haproxy.sock");
    const hcfg = join(dir, "haproxy.cfg");
    // s1 is never sent traffic (no frontend); the agent check runs on its own, every 200 ms
    writeFileSync(
      hcfg,
      [
        "global",
        `  stats socket ${sock} mode 600 level admin`,
        "defaults",
        "  mode http",
        "  timeout connect 1s",
        "  timeout client 5s",
        "  timeout server 5s",
        "backend web",
        `  server s1 127.0.0.1:9 weight 100 agent-check agent-addr 127.0.0.1 agent-port ${agentPort} agent-inter 200ms`,
        "",
      ].join("\n"),
    );
    const hx = spawn(HAPROXY!, ["-db", "-f", hcfg], { stdio: ["ignore", "ignore", "pipe"] });
    let hxLog = "";
    hx.stderr.on("data", (d) => (hxLog += d));
    const hxExit = new Promise((r) => hx.once("exit", r));
    try {
      const state = () => serverState(sock, "web", "s1").catch(() => null);
      let s = await waitFor("haproxy's stats socket", state, (x) => x !== null, 10_000);
      expect(s).toMatchObject({ opState: SRV_RUNNING, iweight: 100 });

      writeProc(proc, { load: 6, cpus: 4 }); // 1.5 per CPU -> 50 %
      s = await waitFor("weight 50", state, (x) => x?.uweight === 50, 5000);
      expect(s!.adminState & FDRAIN).toBe(0);

      writeProc(proc, { load: 10, cpus: 4 }); // past hard
      s = await waitFor("drain", state, (x) => ((x?.adminState ?? 0) & FDRAIN) !== 0, 5000);
      expect(hxLog).toMatch(/s1 enters drain state/);

      writeProc(proc, { load: 0.4, cpus: 4 });
      const calm = Date.now();
      s = await waitFor("ready after the hold", state, (x) => x !== null && (x.adminState & FDRAIN) === 0, 5000);
      expect(Date.now() - calm).toBeGreaterThanOrEqual(900);
      s = await waitFor("weight 100", state, (x) => x?.uweight === 100, 5000);

      appStatus = 503;
      s = await waitFor("down", state, (x) => x?.opState === SRV_STOPPED, 5000);
      expect(hxLog).toMatch(/app health: status 503/);
      appStatus = 200;
      await waitFor("up again", state, (x) => x?.opState === SRV_RUNNING, 5000);

      // the operator's drain (SIGUSR1) reaches HAProxy too
      process.kill(agent.pid, "SIGUSR1");
      await waitFor("forced drain", state, (x) => ((x?.adminState ?? 0) & FDRAIN) !== 0, 5000);
      process.kill(agent.pid, "SIGUSR2");
      await waitFor("ready", state, (x) => x !== null && (x.adminState & FDRAIN) === 0, 5000);
    } finally {
      hx.kill("SIGKILL");
      await hxExit;
    }
  });
});
