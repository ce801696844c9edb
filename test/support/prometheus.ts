/// <reference path="./parse-prometheus-text-format.d.ts" />
// Checks of a Prometheus text exposition (format 0.0.4) for the tests: parsed with
// parse-prometheus-text-format (it throws on a malformed line), plus the rules that parser lets pass
// (it types a family without a TYPE line as UNTYPED and takes samples before their HELP): every
// family has HELP and TYPE before its samples, each once; histograms are cumulative and end with
// +Inf = _count. That parser folds every series of a histogram into one (it keeps only unlabelled
// _sum/_count), so histograms are read from the lines here (histogramSeries).
import parsePrometheusTextFormat, { type PromFamily } from "parse-prometheus-text-format";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/;

/** The family a sample line belongs to (histogram/summary suffixes taken off when the family has that type). */
function familyOf(sample: string, types: Map<string, string>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      if (types.get(base) === "histogram" || types.get(base) === "summary") return base;
    }
  }
  return sample;
}

/** Label pairs of a sample line's {...} (escapes undone). */
function labelsOf(block: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!block) return out;
  for (const m of block.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  return out;
}

export interface HistogramSeries {
  labels: Record<string, string>;
  /** Cumulative counts by upper bound, in the order written. */
  buckets: [le: string, count: number][];
  sum: number;
  count: number;
}

/** Every series of histogram `name`, read from the text lines (labels without `le`). */
export function histogramSeries(text: string, name: string): HistogramSeries[] {
  const series = new Map<string, HistogramSeries>();
  for (const line of text.split("\n")) {
    const m = SAMPLE.exec(line);
    if (!m || !m[1].startsWith(name) || ![`${name}_bucket`, `${name}_sum`, `${name}_count`].includes(m[1])) continue;
    const { le, ...labels } = labelsOf(m[2]);
    const key = JSON.stringify(Object.entries(labels).sort());
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels, buckets: [], sum: NaN, count: NaN }));
    const v = Number(m[3].replace("+Inf", "Infinity"));
    if (m[1].endsWith("_bucket")) s.buckets.push([le, v]);
    else if (m[1].endsWith("_sum")) s.sum = v;
    else s.count = v;
  }
  return [...series.values()];
}

/** Every problem of `text` as one line each; [] when it is well formed. */
export function lintExposition(text: string): string[] {
  const problems: string[] = [];
  if (text.length && !text.endsWith("\n")) problems.push("does not end with a line feed");
  const help = new Map<string, number>(), types = new Map<string, string>(), sampled = new Set<string>();
  let current = "";
  text.split("\n").forEach((line, n) => {
    const at = `line ${n + 1}`;
    if (line === "") return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) problems.push(`${at}: bad metric name ${name}`);
      if (sampled.has(name)) problems.push(`${at}: ${kind} of ${name} after its samples`);
      if (kind === "HELP") {
        if (help.has(name)) problems.push(`${at}: second HELP for ${name}`);
        if (!rest.trim()) problems.push(`${at}: empty HELP for ${name}`);
        help.set(name, n);
      } else {
        if (types.has(name)) problems.push(`${at}: second TYPE for ${name}`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) problems.push(`${at}: bad TYPE ${rest}`);
        types.set(name, rest);
      }
      current = name;
      return;
    }
    if (line.startsWith("#")) return;
    const m = SAMPLE.exec(line);
    if (!m) return void problems.push(`${at}: not a sample line: ${line}`);
    const fam = familyOf(m[1], types);
    if (!help.has(fam)) problems.push(`${at}: ${fam} has no HELP before its samples`);
    if (!types.has(fam)) problems.push(`${at}: ${fam} has no TYPE before its samples`);
    if (fam !== current) problems.push(`${at}: sample of ${fam} outside its family's block`);
    if (types.get(fam) === "counter" && !fam.endsWith("_total")) problems.push(`${at}: counter ${fam} does not end in _total`);
    if (!/^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(m[3])) problems.push(`${at}: bad value ${m[3]}`);
    sampled.add(fam);
  });
  try {
    parse(text);
  } catch (e) {
    problems.push(`parse-prometheus-text-format: ${(e as Error).message}`);
  }
  for (const [name, type] of types) {
    if (type !== "histogram") continue;
    for (const s of histogramSeries(text, name)) {
      const where = `${name}${JSON.stringify(s.labels)}`;
      const b = s.buckets.map(([le, n]) => [le === "+Inf" ? Infinity : Number(le), n] as const);
      if (b.some(([le]) => Number.isNaN(le))) problems.push(`${where}: a bucket without a numeric le`);
      for (let k = 1; k < b.length; k++) {
        if (!(b[k][0] > b[k - 1][0])) problems.push(`${where}: le=${b[k][0]} written after le=${b[k - 1][0]}`);
        if (b[k][1] < b[k - 1][1]) problems.push(`${where}: bucket le=${b[k][0]} below le=${b[k - 1][0]} (not cumulative)`);
      }
      if (b.at(-1)?.[0] !== Infinity) problems.push(`${where}: no +Inf bucket last`);
      else if (b.at(-1)![1] !== s.count) problems.push(`${where}: +Inf bucket ${b.at(-1)![1]} != count ${s.count}`);
      if (Number.isNaN(s.sum)) problems.push(`${where}: no _sum`);
    }
  }
  return problems;
}

export function parse(text: string): PromFamily[] {
  return parsePrometheusTextFormat(text);
}

/** The family `name` of a parsed exposition (throws when absent). */
export function family(fams: PromFamily[], name: string): PromFamily {
  const f = fams.find((x) => x.name === name);
  if (!f) throw new Error(`no metric family ${name}`);
  return f;
}

/** Sum of the values of `name` whose labels include `match`. */
export function total(fams: PromFamily[], name: string, match: Record<string, string> = {}): number {
  return family(fams, name)
    .metrics.filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v))
    .reduce((a, m) => a + Number(m.value), 0);
}

/** The value of the one sample of `name` with exactly these labels (throws when there is not exactly one). */
export function value(fams: PromFamily[], name: string, labels: Record<string, string> = {}): number {
  const canon = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1)));
  const hits = family(fams, name).metrics.filter((m) => canon(m.labels ?? {}) === canon(labels));
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${name}${JSON.stringify(labels)}`);
  return Number(hits[0].value);
}
