import { toJsonSchema } from "@valibot/to-json-schema";
import { ConfigSchema } from "./schema.ts";

/**
 * The JSON Schema (draft-07) of edgelb.json, generated from the valibot schema in schema.ts, for
 * editors (completion, hover, red squiggles). It is written to schema/edgelb.schema.json by
 * `npm run schema`, and a test regenerates it to check the committed file is current.
 *
 * What JSON Schema cannot say (a duration's bounds, the check timeout against its interval,
 * duplicate names, routes naming a pool) stays with `edgelb check`; the schema is a help for
 * writing the file, parseConfig is the judge.
 *
 * Descriptions come from the doc comments in schema.ts (pass its source text): each object literal
 * there is matched to the schema object with the same set of keys.
 */
export function configJsonSchema(schemaSource?: string): Record<string, unknown> {
  const json = toJsonSchema(ConfigSchema, {
    target: "draft-07",
    typeMode: "input",
    errorMode: "throw",
    // `check` actions carry rules JSON Schema cannot hold in general; the ones below have a pattern
    overrideAction: ({ valibotAction, jsonSchema }) => {
      if (valibotAction.type !== "check") return undefined;
      const msg = String((valibotAction as { message?: unknown }).message ?? "");
      const out: Record<string, unknown> = { ...jsonSchema };
      if (msg.startsWith("must be a duration with a unit")) out.pattern = DURATION_PATTERN;
      else if (msg.startsWith("must be http(s)://")) out.pattern = URL_PATTERN;
      else if (msg.startsWith("must be a status spec")) out.pattern = STATUS_PATTERN;
      else if (msg === "must define at least one pool") out.minProperties = 1;
      return out;
    },
  }) as Record<string, unknown>;
  const docs = schemaSource ? objectDocs(schemaSource) : [];
  attachDocs(json, docs);
  const props = json.properties as Record<string, Record<string, unknown>>;
  props.$schema = { description: "The JSON Schema of this file, for editors; edgelb ignores it.", ...props.$schema };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "edgelb.json",
    description: "The edgelb config: one file drives the self-hosted (Node) and the edge (Cloudflare Worker) builds. Durations are strings with a unit (\"500ms\", \"2s\", \"1m30s\"). `edgelb check --config FILE` validates it fully.",
    ...withoutKeys(json, ["$schema"]),
  };
}

/** "0", or numbers with units: "500ms", "2s", "1m30s", "1.5s". */
export const DURATION_PATTERN = "^(0|([0-9]+(\\.[0-9]+)?(ms|s|m|h))+)$";
/** http(s)://host[:port], nothing after but an optional "/". */
export const URL_PATTERN = "^https?://[^/?#@\\s]+/?$";
const STATUS_ITEM = "\\s*([1-5]xx|[0-9]{3}(-[0-9]{3})?)\\s*";
/** "200", "2xx", "200-399", or a comma list of them. */
export const STATUS_PATTERN = `^${STATUS_ITEM}(,${STATUS_ITEM})*$`;

function withoutKeys(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** Sets `description` on every property of every object node whose key set matches one in `docs`. */
function attachDocs(node: unknown, docs: ObjectDocs[]): void {
  if (Array.isArray(node)) return node.forEach((n) => attachDocs(n, docs));
  if (typeof node !== "object" || node === null) return;
  const n = node as Record<string, unknown>;
  const props = n.properties as Record<string, Record<string, unknown>> | undefined;
  if (props && typeof props === "object") {
    const keys = Object.keys(props).sort().join(",");
    const same = docs.filter((d) => d.keys.slice().sort().join(",") === keys);
    for (const k of Object.keys(props)) {
      // the same key set in two places with different comments (or one without): no guess
      const texts = [...new Set(same.map((d) => d.docs[k] ?? ""))];
      if (texts.length === 1 && texts[0] && props[k].description === undefined) props[k] = { description: texts[0], ...props[k] };
    }
  }
  for (const v of Object.values(n)) attachDocs(v, docs);
}

interface ObjectDocs {
  keys: string[];
  docs: Record<string, string>;
}

type Tok = { t: "id" | "p" | "doc" | "other"; v: string };

/**
 * The keys and doc comments of every `strictObject({ ... })` literal in TypeScript source. A small
 * lexer (strings, templates, regex literals and comments skipped) is enough for schema.ts.
 */
export function objectDocs(src: string): ObjectDocs[] {
  const toks = lex(src);
  const out: ObjectDocs[] = [];
  for (let i = 0; i + 2 < toks.length; i++) {
    if (!(toks[i].t === "id" && toks[i].v === "strictObject" && toks[i + 1].v === "(" && toks[i + 2].v === "{")) continue;
    const keys: string[] = [];
    const docs: Record<string, string> = {};
    let depth = 0;
    let expectKey = true;
    let doc: string | undefined;
    for (let j = i + 2; j < toks.length; j++) {
      const { t, v } = toks[j];
      if (t === "p" && "([{".includes(v)) {
        depth++;
        if (depth === 1) expectKey = true;
        continue;
      }
      if (t === "p" && ")]}".includes(v)) {
        if (--depth === 0) break;
        continue;
      }
      if (depth !== 1) continue;
      if (t === "doc") doc = v;
      else if (t === "p" && v === ",") (expectKey = true), (doc = undefined);
      else if (expectKey && t === "id") {
        keys.push(v);
        if (doc) docs[v] = doc;
        expectKey = false;
        doc = undefined;
      } else expectKey = false;
    }
    out.push({ keys, docs });
  }
  return out;
}

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const lastSignificant = () => {
    for (let k = toks.length - 1; k >= 0; k--) if (toks[k].t !== "doc") return toks[k];
    return undefined;
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (src.startsWith("/**", i) && !src.startsWith("/**/", i)) {
      const end = src.indexOf("*/", i + 3);
      const body = src.slice(i + 3, end < 0 ? src.length : end);
      toks.push({ t: "doc", v: body.split("\n").map((l) => l.replace(/^\s*\*?\s?/, "")).join(" ").replace(/\s+/g, " ").trim() });
      i = end < 0 ? src.length : end + 2;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (src.startsWith("//", i)) {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === "\\" ? 2 : 1;
      toks.push({ t: "other", v: src.slice(i, j + 1) });
      i = j + 1;
    } else if (c === "/") {
      const prev = lastSignificant();
      const regexAllowed = !prev || (prev.t === "p" && "([{,=:!&|?;}".includes(prev.v)) || (prev.t === "id" && prev.v === "return");
      if (regexAllowed) {
        let j = i + 1;
        let inClass = false;
        while (j < src.length && (inClass || src[j] !== "/")) {
          if (src[j] === "\\") j++;
          else if (src[j] === "[") inClass = true;
          else if (src[j] === "]") inClass = false;
          j++;
        }
        j++;
        while (j < src.length && /[a-z]/.test(src[j])) j++;
        toks.push({ t: "other", v: src.slice(i, j) });
        i = j;
      } else {
        toks.push({ t: "p", v: "/" });
        i++;
      }
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_$]/.test(src[j])) j++;
      toks.push({ t: "id", v: src.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[0-9_.xXa-fA-F]/.test(src[j])) j++;
      toks.push({ t: "other", v: src.slice(i, j) });
      i = j;
    } else {
      toks.push({ t: "p", v: c });
      i++;
    }
  }
  return toks;
}
