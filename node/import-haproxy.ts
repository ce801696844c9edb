import { lazyFsp, util } from "./builtins.ts";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { importHaproxy } from "../core/config/haproxy.ts";
import { formatIssue, parseConfig } from "../core/config/parse.ts";

/** The JSON Schema shipped with the package (schema/edgelb.schema.json). */
export const SCHEMA_FILE = fileURLToPath(new URL("../schema/edgelb.schema.json", import.meta.url));

const USAGE = "usage: edgelb import-haproxy [-o edgelb.json] [--schema REF] haproxy.cfg";

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/**
 * The `$schema` reference of a config written into `dir`: the package's schema file, relative to
 * `dir` ("./node_modules/edgelb/schema/edgelb.schema.json" in a project that installed edgelb).
 */
export function schemaRef(dir: string): string {
  const rel = relative(resolve(dir), SCHEMA_FILE).split(sep).join("/");
  return rel.startsWith("../") || rel.startsWith("/") ? rel : `./${rel}`;
}

/**
 * `edgelb import-haproxy [-o FILE] [--schema REF] haproxy.cfg`: prints (or writes to FILE) an
 * equivalent edgelb.json with a `$schema` key, and names on stderr every directive it could not map,
 * as `haproxy.cfg:LINE: directive: message`. Exit 0 (notes or not), 1 when the file cannot be read
 * (or the output cannot be written), 2 on a usage error or when the result does not pass `edgelb check`.
 */
export async function importHaproxyCommand(args: string[], io: Io): Promise<number> {
  let values: { output?: string; schema?: string; help?: boolean }, positionals: string[];
  try {
    ({ values, positionals } = util.parseArgs({
      args,
      options: { output: { type: "string", short: "o" }, schema: { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    }));
  } catch (e) {
    io.stderr(`edgelb import-haproxy: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr(`edgelb import-haproxy: expects one haproxy.cfg file\n${USAGE}\n`);
    return 2;
  }
  const file = positionals[0];
  let text: string;
  try {
    text = await lazyFsp().readFile(file, "utf8");
  } catch (e) {
    io.stderr(`edgelb import-haproxy: cannot read ${file}: ${(e as Error).message}\n`);
    return 1;
  }

  const { config, notes } = importHaproxy(text);
  for (const n of notes) io.stderr(`${file}:${n.line}: ${n.directive}: ${n.message}\n`);
  const out = { $schema: values.schema ?? schemaRef(values.output ? dirname(values.output) : "."), ...config };
  const r = parseConfig(out);
  if (!r.ok) {
    io.stderr(`edgelb import-haproxy: the result does not pass edgelb check:\n`);
    for (const i of r.issues) io.stderr(`  ${formatIssue(i)}\n`);
    return 2;
  }
  const json = `${JSON.stringify(out, null, 2)}\n`;
  if (!values.output) {
    io.stdout(json);
    return 0;
  }
  try {
    await lazyFsp().writeFile(values.output, json);
  } catch (e) {
    io.stderr(`edgelb import-haproxy: cannot write ${values.output}: ${(e as Error).message}\n`);
    return 1;
  }
  io.stderr(`${values.output}: written (${notes.length} note(s) above)\n`);
  return 0;
}
