// Summarizes a bench/run.sh work dir into markdown + JSON (plain JS, no dependencies).
//   node bench/summarize.mjs [WORK=/tmp/edgelb-bench] [OUT=bench/results]
// Reads WORK/{runs,rss,failed,meta}.tsv; writes OUT/latest.md and OUT/latest.json; prints the markdown.
import fs from 'node:fs';
import path from 'node:path';

const WORK = process.argv[2] ?? '/tmp/edgelb-bench';
const OUT = process.argv[3] ?? path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
const REF = 'haproxy-ka';
const DIRECT = 'direct';

const tsv = (f) => {
  const p = path.join(WORK, f);
  if (!fs.existsSync(p)) return [];
  const [head, ...lines] = fs.readFileSync(p, 'utf8').trim().split('\n');
  const cols = head.split('\t');
  return lines.filter(Boolean).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
};
const num = (v) => (v === undefined || v === '' || v === '-' ? NaN : Number(v));
const med = (a) => {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN;
};
const round = (x, d) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const f2 = (x) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const fr = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');

const meta = Object.fromEntries(tsv('meta.tsv').map((r) => [r.key, r.value]));
const runs = tsv('runs.tsv').map((r) => ({
  config: r.config, scenario: r.scenario, run: Number(r.run),
  rps: num(r.rps), requests: num(r.requests), p50_ms: num(r.p50_ms), p99_ms: num(r.p99_ms),
  errors: num(r.errors), wall_ms: num(r.wall_ms), proxy_cpu_pct: num(r.proxy_cpu_pct),
  proxy_cpu_us_per_req: num(r.proxy_cpu_us_per_req),
}));
const rss = tsv('rss.tsv').map((r) => ({ config: r.config, pid: Number(r.pid), comm: r.comm, VmHWM_kB: num(r.VmHWM_kB) }));
const failed = tsv('failed.tsv');

const configs = [...new Set(runs.map((r) => r.config))];
const scenarios = [...new Set(runs.map((r) => r.scenario))];
const peakRssMiB = (cfg) => {
  const rows = rss.filter((r) => r.config === cfg && Number.isFinite(r.VmHWM_kB));
  return rows.length ? rows.reduce((s, r) => s + r.VmHWM_kB, 0) / 1024 : NaN;
};
const stat = (cfg, sc) => {
  const g = runs.filter((r) => r.config === cfg && r.scenario === sc);
  if (!g.length) return null;
  return {
    config: cfg, scenario: sc, runs: g.length,
    rps: med(g.map((r) => r.rps)),
    rps_min: Math.min(...g.map((r) => r.rps)), rps_max: Math.max(...g.map((r) => r.rps)),
    cpu_us_per_req: med(g.map((r) => r.proxy_cpu_us_per_req)),
    proxy_cpu_pct: med(g.map((r) => r.proxy_cpu_pct)),
    p50_ms: med(g.map((r) => r.p50_ms)), p99_ms: med(g.map((r) => r.p99_ms)),
    errors: g.reduce((s, r) => s + (Number.isFinite(r.errors) ? r.errors : 0), 0),
    peak_rss_mib: peakRssMiB(cfg),
  };
};

const summary = [];
for (const sc of scenarios) {
  const ref = stat(REF, sc);
  for (const cfg of configs) {
    const x = stat(cfg, sc);
    if (!x) continue;
    summary.push({ ...x, rps_vs_haproxy: ref ? x.rps / ref.rps : NaN, cpu_vs_haproxy: ref ? x.cpu_us_per_req / ref.cpu_us_per_req : NaN });
  }
}
const directC1 = stat(DIRECT, 'c1-100b');
const added = configs.filter((c) => c !== DIRECT).map((c) => {
  const x = stat(c, 'c1-100b');
  return x && {
    config: c, p50_ms: x.p50_ms, direct_p50_ms: directC1?.p50_ms ?? NaN,
    added_p50_ms: directC1 ? x.p50_ms - directC1.p50_ms : NaN,
    added_p99_ms: directC1 ? x.p99_ms - directC1.p99_ms : NaN,
  };
}).filter(Boolean);

// ---- markdown
let md = `## edgelb vs HAProxy benchmark\n\n`;
md += `${meta.date ?? ''} · git ${meta.git ?? '?'} · ${meta.cpu ?? ''} · ${meta.pinned ? `pinned: ${meta.pinned}` : ''}\n`;
md += `${meta.runs ?? '?'} run(s) × ${meta.dur_s ?? '?'} s per scenario after a ${meta.warm_s ?? '?'} s warm-up${meta.quick === '1' ? ' (--quick: indicative only)' : ''}; `;
md += `wrk -t1 --latency --timeout 2s · ${meta.haproxy ?? ''} · ${meta.nginx ?? ''} · ${meta.wrk ?? ''} · node ${meta.node ?? ''}\n\n`;
md += `Medians over the runs; errors = sum of socket errors + non-2xx/3xx over the runs; p50/p99 are wrk's; `;
md += `CPU µs/req = utime+stime of the proxy's processes ÷ requests served; ratios are to \`${REF}\`; peak RSS = VmHWM after all runs.\n\n`;
md += '| config | scenario | req/s | ÷ HAProxy | CPU µs/req | ÷ HAProxy | proxy CPU % | p50 ms | p99 ms | errors | peak RSS MiB |\n';
md += '|---|---|---|---|---|---|---|---|---|---|---|\n';
for (const s of summary) {
  md += `| ${s.config} | ${s.scenario} | ${f0(s.rps)} | ${fr(s.rps_vs_haproxy)} | ${f2(s.cpu_us_per_req)} | ${fr(s.cpu_vs_haproxy)} | ${Number.isFinite(s.proxy_cpu_pct) ? s.proxy_cpu_pct.toFixed(0) : '–'} | ${f3(s.p50_ms)} | ${f3(s.p99_ms)} | ${s.errors} | ${Number.isFinite(s.peak_rss_mib) ? s.peak_rss_mib.toFixed(1) : '–'} |\n`;
}
if (added.length) {
  md += `\n### Added latency at c1 (/100b): p50 through the proxy − p50 direct\n\n| config | p50 ms | direct p50 ms | added p50 µs | added p99 µs |\n|---|---|---|---|---|\n`;
  for (const a of added) md += `| ${a.config} | ${f3(a.p50_ms)} | ${f3(a.direct_p50_ms)} | ${f0(a.added_p50_ms * 1000)} | ${f0(a.added_p99_ms * 1000)} |\n`;
}
if (failed.length) {
  md += `\n### Failed configs\n\n| config | reason |\n|---|---|\n`;
  for (const f of failed) md += `| ${f.config} | ${String(f.reason).replace(/\|/g, '\\|')} |\n`;
}

const json = {
  meta, reference: REF,
  summary: summary.map((s) => ({
    config: s.config, scenario: s.scenario, runs: s.runs,
    rps: round(s.rps, 1), rps_min: round(s.rps_min, 1), rps_max: round(s.rps_max, 1), rps_vs_haproxy: round(s.rps_vs_haproxy, 3),
    cpu_us_per_req: round(s.cpu_us_per_req, 2), cpu_vs_haproxy: round(s.cpu_vs_haproxy, 3), proxy_cpu_pct: round(s.proxy_cpu_pct, 1),
    p50_ms: round(s.p50_ms, 3), p99_ms: round(s.p99_ms, 3), errors: s.errors, peak_rss_mib: round(s.peak_rss_mib, 1),
  })),
  added_latency_c1: added.map((a) => ({ config: a.config, p50_ms: round(a.p50_ms, 3), direct_p50_ms: round(a.direct_p50_ms, 3), added_p50_ms: round(a.added_p50_ms, 3), added_p99_ms: round(a.added_p99_ms, 3) })),
  failed,
  runs: runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v]))),
  rss,
};
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, 'latest.md'), md);
fs.writeFileSync(path.join(OUT, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
process.stdout.write(md);
