import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const UNIT = fileURLToPath(new URL("../../deploy/edgelb-agent.service", import.meta.url));
const unit = readFileSync(UNIT, "utf8");
const settings = new Map<string, string[]>();
for (const line of unit.split("\n")) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2]]);
}
const one = (k: string) => settings.get(k)?.at(-1);

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

  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  it.skipIf(analyze.status !== 0)("passes systemd-analyze verify (skipped where systemd-analyze is missing)", () => {
    const r = spawnSync("systemd-analyze", ["verify", UNIT], { encoding: "utf8" });
    // verify checks that the ExecStart binary exists: /usr/bin/node may be missing on this machine
    const problems = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim() && !/Command \/usr\/bin\/node is not executable|is not executable: No such file/.test(l));
    expect(problems).toEqual([]);
  });
});
