import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configJsonSchema } from "../core/config/json-schema.ts";
import { SCHEMA_FILE } from "./import-haproxy.ts";

const SCHEMA_SOURCE = fileURLToPath(new URL("../core/config/schema.ts", import.meta.url));

/** The text of schema/edgelb.schema.json as generated now from core/config/schema.ts. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(readFileSync(SCHEMA_SOURCE, "utf8")), null, 2)}\n`;
}

// `npm run schema` writes the file; `npm run schema -- --check` exits 1 when it is stale
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderConfigJsonSchema();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(SCHEMA_FILE, "utf8");
    } catch {}
    if (current !== text) {
      process.stderr.write(`${SCHEMA_FILE} is stale: run npm run schema\n`);
      process.exit(1);
    }
    process.stdout.write(`${SCHEMA_FILE}: current\n`);
  } else {
    writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`${SCHEMA_FILE}: written\n`);
  }
}
