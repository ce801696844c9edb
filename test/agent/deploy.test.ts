import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "../support/tmp.ts";

const UNIT = fileURLToPath(new URL("../../deploy/edgelb-agent.service", import.meta.url));
const unit = readFileSync(UNIT, "utf8");
const settings = new Map<string, string[]>();
for (const line of unit.split("\n")) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2]]);
}
const one = (k: string) => settings.get(k)?.at(-1);
const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });

describe("deploy/edgelb-agent.service", () => {
  it("is hardened: no privileges, read-only system, /proc readable (not writable), key as a credential", () => {
    expect(one("DynamicUser")).toBe("yes");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("ProtectKernelTunables")).toBe("yes");
    // ProcSubset=pid would hide /proc/loadavg, meminfo, vmstat and pressure/*
    expect(one("ProcSubset")).toBe("all");
    expect(one("LoadCredential")).toMatch(/^agent-key:/);
    expect(one("ExecStart")).toMatch(/edgelb-agent\.js --config \S+$/);
    // never a key on the command line
    expect(one("ExecStart")).not.toMatch(/whsec_|--key/);
  });

  it.skipIf(analyze.status !== 0)("passes systemd-analyze verify (skipped where systemd-analyze is missing)", () => {
    const r = spawnSync("systemd-analyze", ["verify", UNIT], { encoding: "utf8" });
    // verify checks that the ExecStart binary exists: /usr/bin/node may be missing on this machine
    const problems = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() && !/Command \/usr\/bin\/node is not executable|is not executable: No such file/.test(l));
    expect(problems).toEqual([]);
  });
});

/** `KEY=value` lines of a unit (comments and sections left out), in order. */
function unitSettings(file: string): [string, string][] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => /^([A-Za-z]+)=(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2]]);
}

describe("deploy/edgelb.service and deploy/edgelb@.service (edgelb serve)", () => {
  const SERVE = fileURLToPath(new URL("../../deploy/edgelb.service", import.meta.url));
  const SLOTS = fileURLToPath(new URL("../../deploy/edgelb@.service", import.meta.url));
  const s = new Map<string, string[]>();
  for (const [k, v] of unitSettings(SERVE)) s.set(k, [...(s.get(k) ?? []), v]);
  const last = (k: string) => s.get(k)?.at(-1);

  it("runs edgelb serve with its config, reloads with SIGHUP, stops with SIGTERM in time, restarts on failure", () => {
    expect(last("ExecStart")).toMatch(/^\/usr\/bin\/node \/opt\/edgelb\/bin\/edgelb\.js serve --config \/etc\/edgelb\/edgelb\.json --ready-file \/run\/edgelb\/ready$/);
    expect(last("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(last("KillSignal")).toBe("SIGTERM");
    // the drain (30 s for requests in flight, 1 s linger, 2 s for webhooks) fits before systemd's SIGKILL
    expect(Number(last("TimeoutStopSec")?.replace(/s$/, ""))).toBeGreaterThan(33);
    expect(last("Restart")).toBe("on-failure");
    expect(Number(last("LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
    // the start job waits for this process to listen (a probe of a reusePort port could reach the old one)
    expect(last("Type")).toBe("exec");
    expect(last("RuntimeDirectory")).toBe("edgelb");
    expect(last("ExecStartPost")).toContain("/run/edgelb/ready");
    // secrets by reference, in a root-only file read before privileges drop; never on a command line
    expect(last("EnvironmentFile")).toBe("-/etc/edgelb/edgelb.env");
    expect(last("ExecStart")).not.toMatch(/whsec_|token|password/i);
  });

  it("is hardened like the agent's unit, with the one capability a port below 1024 needs", () => {
    expect(last("DynamicUser")).toBe("yes");
    // a fixed name: every unit that runs edgelb serve shares one UID (SO_REUSEPORT requires it)
    expect(last("User")).toBe("edgelb");
    expect(last("NoNewPrivileges")).toBe("yes");
    expect(last("ProtectSystem")).toBe("strict");
    expect(last("ProtectHome")).toBe("yes");
    expect(last("PrivateTmp")).toBe("yes");
    expect(last("PrivateDevices")).toBe("yes");
    expect(last("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    expect(last("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
    expect(last("ProtectKernelTunables")).toBe("yes");
    expect(last("RestrictAddressFamilies")).toBe("AF_INET AF_INET6 AF_UNIX");
    expect(s.get("SystemCallFilter")).toEqual(["@system-service", "~@privileged"]);
    expect(last("MemoryDenyWriteExecute")).toBeUndefined();
  });

  it("the slots template has the same settings but its description and per-slot runtime directory", () => {
    const slot = unitSettings(SLOTS).map(([k, v]) => [k, v.replaceAll("edgelb-%i", "edgelb").replace(/, slot %i$/, "")]);
    expect(slot).toEqual(unitSettings(SERVE));
    expect(unitSettings(SLOTS).find(([k]) => k === "RuntimeDirectory")?.[1]).toBe("edgelb-%i");
  });

  it.skipIf(analyze.status !== 0)("both pass systemd-analyze verify (skipped where systemd-analyze is missing)", () => {
    const dir = tempDir("edgelb-units-");
    // a template is verified as an instance
    copyFileSync(SLOTS, join(dir, "edgelb@a.service"));
    for (const unit of [SERVE, join(dir, "edgelb@a.service")]) {
      const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
      const problems = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() && !/Command \/usr\/bin\/node is not executable|is not executable: No such file/.test(l));
      expect(problems, unit).toEqual([]);
      expect(r.status, unit).toBe(0);
    }
  });
});
