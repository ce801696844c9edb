// A certificate authority made for one test run with Debian's openssl: a CA, leaf certificates it
// signs for given names (valid, expired), all as PEM files in a temporary folder.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./tmp.ts";

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM file path), for clients' `ca` and origins' `ca`. */
  caFile: string;
  ca: Buffer;
  /** Signs a leaf certificate for `names` (subjectAltName DNS, first one also the CN); `days` < 0 makes an expired one. */
  issue(file: string, names: string[], days?: number): { cert: string; key: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A new CA named `name` in a fresh temporary folder (removed after the test file that made it). */
export function makeCa(name = "edgelb test CA"): TestCa {
  const dir = tempDir("edgelb-ca-");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", `/CN=${name}`], dir);
  const caFile = join(dir, "ca.pem");
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    issue(file, names, days = 2) {
      const key = join(dir, `${file}.key`), cert = join(dir, `${file}.pem`), csr = join(dir, `${file}.csr`), ext = join(dir, `${file}.ext`);
      writeFileSync(ext, `subjectAltName=${names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",")}\n`);
      openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${names[0]}`], dir);
      openssl(["x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", cert, "-days", String(days), "-extfile", ext], dir);
      // the chain after the leaf, as a server certificate file usually holds it
      writeFileSync(cert, Buffer.concat([readFileSync(cert), readFileSync(caFile)]));
      return { cert, key };
    },
  };
}
