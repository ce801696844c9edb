// Summarizes a bench/run.sh work dir into markdown + JSON (plain JS, no dependencies).
//   node bench/summarize.mjs [WORK=/tmp/edgelb-bench] [OUT=bench/results]
// Reads WORK/{runs,rss,failed,meta,do_calls}.tsv; writes OUT/latest.md and OUT/latest.json; prints the markdown.
// Ratios: the Node build and the other configs to `haproxy-ka`; the Worker configs (workerd-*) also
// to `workerd-anchor` (the trivial round-robin Worker under the same bare workerd), in a second table.
import fs from 'node:fs';
import path from 'node:path';

const WORK = process.argv[2] ?? '/tmp/edgelb-bench';
const OUT = process.argv[3] ?? path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
const REF = 'haproxy-ka';
const DIRECT = 'direct';
const WREF = 'workerd-anchor';
const isWorker = (c) => c.startsWith('workerd-');
// the Worker target (issue): req/s >= 0.90 x workerd-anchor, raw p99 <= 1.2 x, no Durable Object call
// on the request path once warm
const TARGET = { rps: 0.9, p99: 1.2 };
/** issue 7: the Node build's CPU per request at c64 100 B, at most this many times HAProxy's */
const NODE_CPU_TARGET = 1.25;

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
  errors: num(r.errors), raw_p50_ms: num(r.raw_p50_ms), raw_p99_ms: num(r.raw_p99_ms), raw_p999_ms: num(r.raw_p999_ms),
  wall_ms: num(r.wall_ms), proxy_cpu_pct: num(r.proxy_cpu_pct),
  cpu0_other_pct: num(r.cpu0_other_pct), cpu1_other_pct: num(r.cpu1_other_pct),
  proxy_cpu_us_per_req: num(r.proxy_cpu_us_per_req),
}));
const rss = tsv('rss.tsv').map((r) => ({ config: r.config, round: r.round ?? '1', pid: Number(r.pid), comm: r.comm, VmHWM_kB: num(r.VmHWM_kB) }));
const failed = tsv('failed.tsv');
const cold = tsv('coldstart.tsv').map((r) => ({ config: r.config, run: Number(r.run), ms: num(r.ms) }));
const coldMs = (cfg) => { const v = cold.filter((c) => c.config === cfg && Number.isFinite(c.ms)).map((c) => c.ms); return v.length ? { median: med(v), min: Math.min(...v), max: Math.max(...v), n: v.length } : null; };
const doCalls = tsv('do_calls.tsv').map((r) => ({
  config: r.config, scenario: r.scenario, wrk_requests: num(r.wrk_requests), pool_requests: num(r.pool_requests),
  onRequestPath: num(r.onRequestPath), background: num(r.background), flushes: num(r.flushes), errors: num(r.errors),
  checked_origins: num(r.checked_origins), note: r.note === '-' ? '' : (r.note ?? ''),
}));
const perReq = (d, k) => (d && d.pool_requests > 0 ? d[k] / d.pool_requests : NaN);
// interleaved rounds give one row per round: summed
const callsOf = (cfg, sc) => {
  const rows = doCalls.filter((d) => d.config === cfg && d.scenario === sc);
  if (!rows.length) return null;
  const sum = { ...rows[0] };
  for (const k of ['wrk_requests', 'pool_requests', 'onRequestPath', 'background', 'flushes', 'errors']) sum[k] = rows.reduce((s, r) => s + r[k], 0);
  sum.note = [...new Set(rows.map((r) => r.note).filter(Boolean))].join('; ');
  return sum;
};
const rawAvailable = runs.some((r) => Number.isFinite(r.raw_p99_ms));

const configs = [...new Set(runs.map((r) => r.config))];
const scenarios = [...new Set(runs.map((r) => r.scenario))];
// VmHWM summed over a config's processes in one round (one start of the proxy); the highest round
const peakRssMiB = (cfg) => {
  const rows = rss.filter((r) => r.config === cfg && Number.isFinite(r.VmHWM_kB));
  const byRound = new Map();
  for (const r of rows) byRound.set(r.round, (byRound.get(r.round) ?? 0) + r.VmHWM_kB);
  return byRound.size ? Math.max(...byRound.values()) / 1024 : NaN;
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
    raw_p50_ms: med(g.map((r) => r.raw_p50_ms)), raw_p99_ms: med(g.map((r) => r.raw_p99_ms)), raw_p999_ms: med(g.map((r) => r.raw_p999_ms)),
    errors: g.reduce((s, r) => s + (Number.isFinite(r.errors) ? r.errors : 0), 0),
    peak_rss_mib: peakRssMiB(cfg),
  };
};

// 9,000 connections: a table of its own (its RSS is measured after that run, not per round)
const C9K = 'c9000-100b';
const c9kRows = tsv('c9000.tsv').map((r) => ({ config: r.config, round: r.round, unaccepted: num(r.unaccepted), VmHWM_kB: num(r.VmHWM_kB) }));
const c9k = configs.map((cfg) => {
  const x = stat(cfg, C9K);
  if (!x) return null;
  const rows = c9kRows.filter((r) => r.config === cfg);
  const rss = rows.map((r) => r.VmHWM_kB).filter(Number.isFinite);
  return {
    config: cfg, runs: x.runs, rps: x.rps, rps_min: x.rps_min, rps_max: x.rps_max, cpu_us_per_req: x.cpu_us_per_req, p50_ms: x.p50_ms, p99_ms: x.p99_ms,
    errors: x.errors, unaccepted_max: Math.max(...rows.map((r) => r.unaccepted).filter(Number.isFinite), 0),
    rss_mib: rss.length ? Math.max(...rss) / 1024 : NaN,
  };
}).filter(Boolean);
const c9kRef = c9k.find((x) => x.config === REF);
for (const x of c9k) x.rps_vs_haproxy = c9kRef ? x.rps / c9kRef.rps : NaN;

const summary = [];
for (const sc of scenarios.filter((sc) => sc !== C9K)) {
  // HTTPS scenarios are compared with HAProxy terminating the same certificate
  const ref = stat(sc.startsWith('tls-') ? 'haproxy-tls' : REF, sc);
  for (const cfg of configs) {
    const x = stat(cfg, sc);
    if (!x) continue;
    summary.push({ ...x, rps_vs_haproxy: ref ? x.rps / ref.rps : NaN, cpu_vs_haproxy: ref ? x.cpu_us_per_req / ref.cpu_us_per_req : NaN });
  }
}
// the Worker configs against the trivial Worker; tail by raw p99 when wrk-raw gave it, else wrk's p99
const tailOf = (x) => (rawAvailable ? x.raw_p99_ms : x.p99_ms);
const worker = [];
for (const sc of scenarios) {
  const ref = stat(WREF, sc);
  for (const cfg of configs.filter(isWorker)) {
    const x = stat(cfg, sc);
    if (!x) continue;
    const d = callsOf(cfg, sc);
    const w = {
      ...x, rps_vs_anchor: ref ? x.rps / ref.rps : NaN, cpu_vs_anchor: ref ? x.cpu_us_per_req / ref.cpu_us_per_req : NaN,
      p99_vs_anchor: ref ? tailOf(x) / tailOf(ref) : NaN, do_calls: d,
    };
    if (cfg !== WREF && ref) {
      w.target = {
        rps: { ratio: w.rps_vs_anchor, ok: w.rps_vs_anchor >= TARGET.rps },
        p99: { basis: rawAvailable ? 'raw p99' : "wrk's p99 (no raw percentiles)", ratio: w.p99_vs_anchor, ok: w.p99_vs_anchor <= TARGET.p99 },
        doOnRequestPath: d ? { calls: d.onRequestPath, ok: d.onRequestPath === 0 } : null,
      };
    }
    worker.push(w);
  }
}
// a pair phase's res.tsv (bench/ab-workerd.sh, bench/ab-node.sh): per round, the reference (v0) and
// the proxy (v1), each { rps, us, p99 }; the rounds where both served
function pairedRounds(file) {
  const rounds = {};
  for (const r of tsv(file)) (rounds[r.round] ??= {})[r.variant] = { rps: num(r.rps), us: num(r.us_req), p99: num(r.raw_p99) };
  return Object.values(rounds).filter((x) => x.v0 && x.v1 && x.v0.rps > 0 && x.v1.rps > 0);
}
// the Worker pair (run.sh after the rounds, bench/ab-workerd.sh): v0 = the trivial Worker, v1 = edgelb's,
// both up at once and alternating 3 s runs; ratios are per round, then the median
let paired = null;
{
  const pairs = pairedRounds('worker-ab/res.tsv');
  if (pairs.length) {
    const rps = med(pairs.map((x) => x.v1.rps / x.v0.rps)), cpu = med(pairs.map((x) => x.v1.us / x.v0.us)), p99 = med(pairs.map((x) => x.v1.p99 / x.v0.p99));
    paired = {
      scenario: 'c64-100b', rounds: pairs.length, run_s: 3,
      anchor_rps: med(pairs.map((x) => x.v0.rps)), edgelb_rps: med(pairs.map((x) => x.v1.rps)),
      rps_vs_anchor: rps, cpu_vs_anchor: cpu, raw_p99_vs_anchor: p99,
      rps_ok: rps >= TARGET.rps, p99_ok: p99 <= TARGET.p99,
    };
  }
}
// the Node pair (run.sh after the rounds, bench/ab-node.sh): v0 = HAProxy (haproxy-ka's config), v1 = edgelb
// serve, both up at once and taking 1 s turns at c64 100 B; ratios per round, then the median and quartiles
let nodePair = null;
{
  const pairs = pairedRounds('node-ab/res.tsv').filter((x) => x.v0.us > 0);
  if (pairs.length) {
    const cpu = pairs.map((x) => x.v1.us / x.v0.us).sort((a, b) => a - b);
    const q = (f) => cpu[Math.min(cpu.length - 1, Math.floor(f * cpu.length))];
    nodePair = {
      scenario: 'c64-100b', rounds: pairs.length, run_s: 1,
      haproxy_rps: med(pairs.map((x) => x.v0.rps)), edgelb_rps: med(pairs.map((x) => x.v1.rps)),
      haproxy_cpu_us: med(pairs.map((x) => x.v0.us)), edgelb_cpu_us: med(pairs.map((x) => x.v1.us)),
      rps_vs_haproxy: med(pairs.map((x) => x.v1.rps / x.v0.rps)), cpu_vs_haproxy: med(cpu), cpu_q1: q(0.25), cpu_q3: q(0.75),
      cpu_ok: med(cpu) <= NODE_CPU_TARGET,
    };
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
let md = `## edgelb vs HAProxy benchmark${configs.some(isWorker) ? ' (and the Worker build vs a trivial Worker)' : ''}\n\n`;
md += `${meta.date ?? ''} · git ${meta.git ?? '?'} · ${meta.cpu ?? ''} · ${meta.pinned ? `pinned: ${meta.pinned}` : ''}\n`;
md += `${meta.runs ?? '?'} run(s) × ${meta.dur_s ?? '?'} s per scenario after a ${meta.warm_s ?? '?'} s warm-up${meta.quick === '1' ? ' (--quick: indicative only)' : ''}; `;
md += `wrk -t1 --latency --timeout 2s · ${meta.haproxy ?? ''} · ${meta.nginx ?? ''} · ${meta.wrk ?? ''} · node ${meta.node ?? ''}${configs.some(isWorker) ? ` · workerd ${meta.workerd ?? '?'}` : ''}\n\n`;
md += `Medians over the runs; errors = sum of socket errors + non-2xx/3xx over the runs; p50/p99 are wrk's; `;
md += `CPU µs/req = utime+stime of the proxy's processes ÷ requests served; ratios are to \`${REF}\`; peak RSS = VmHWM at the end of a round (the highest round). Runs are interleaved: round 1 of every config, then round 2, ...\n\n`;
md += rawAvailable
  ? `raw p99 = the uncorrected p99 of the anchors' patched wrk (${meta.wrk_path ?? 'wrk-raw'}).\n\n`
  : `No raw percentiles: stock wrk (the anchors' wrk-raw was not found), so the raw p99 column is empty and the Worker tail ratio uses wrk's corrected p99.\n\n`;
const rssCell = (s) => (Number.isFinite(s.peak_rss_mib) ? s.peak_rss_mib.toFixed(1) : '–');
const pct = (s) => (Number.isFinite(s.proxy_cpu_pct) ? s.proxy_cpu_pct.toFixed(0) : '–');
md += '| config | scenario | req/s | ÷ HAProxy | CPU µs/req | ÷ HAProxy | proxy CPU % | p50 ms | p99 ms | raw p99 ms | errors | peak RSS MiB |\n';
md += '|---|---|---|---|---|---|---|---|---|---|---|---|\n';
for (const s of summary) {
  md += `| ${s.config} | ${s.scenario} | ${f0(s.rps)} | ${fr(s.rps_vs_haproxy)} | ${f2(s.cpu_us_per_req)} | ${fr(s.cpu_vs_haproxy)} | ${pct(s)} | ${f3(s.p50_ms)} | ${f3(s.p99_ms)} | ${f3(s.raw_p99_ms)} | ${s.errors} | ${rssCell(s)} |\n`;
}
// per-request rates are tiny by design once warm (a background refresh per snapshot TTL, a flush per batch)
const fpr = (x) => (!Number.isFinite(x) ? '–' : x === 0 ? '0' : x >= 0.01 ? x.toFixed(3) : x.toExponential(1));
if (worker.length) {
  const tail = rawAvailable ? 'raw p99' : "p99 (wrk's)";
  md += `\n### Worker build under bare workerd, ratios to \`${WREF}\` (the trivial round-robin Worker, same workerd)\n\n`;
  md += `DO calls/req = the Durable Object calls of the stats' \`durableObjectCalls\` over the recorded runs ÷ the pool's \`requests\` delta `;
  md += `(onRequestPath / background / flushes). Target: req/s ≥ ${TARGET.rps.toFixed(2)}×, ${tail} ≤ ${TARGET.p99.toFixed(1)}×, no call on the request path once warm.\n\n`;
  md += `| config | scenario | req/s | ÷ anchor | CPU µs/req | ÷ anchor | proxy CPU % | p50 ms | p99 ms | raw p99 ms | ${tail} ÷ anchor | errors | peak RSS MiB | DO calls/req (onRequestPath / background / flushes) |\n`;
  md += '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
  for (const w of worker) {
    const d = w.do_calls;
    const dc = d ? `${fpr(perReq(d, 'onRequestPath'))} / ${fpr(perReq(d, 'background'))} / ${fpr(perReq(d, 'flushes'))}` : '–';
    md += `| ${w.config} | ${w.scenario} | ${f0(w.rps)} | ${fr(w.rps_vs_anchor)} | ${f2(w.cpu_us_per_req)} | ${fr(w.cpu_vs_anchor)} | ${pct(w)} | ${f3(w.p50_ms)} | ${f3(w.p99_ms)} | ${f3(w.raw_p99_ms)} | ${fr(w.p99_vs_anchor)} | ${w.errors} | ${rssCell(w)} | ${dc} |\n`;
  }
  const t = worker.filter((w) => w.target);
  if (t.length) {
    const mark = (ok) => (ok ? '✓' : '✗');
    md += `\n| target check | scenario | req/s ÷ anchor ≥ ${TARGET.rps.toFixed(2)} | ${tail} ÷ anchor ≤ ${TARGET.p99.toFixed(1)} | DO calls on the request path = 0 |\n|---|---|---|---|---|\n`;
    for (const w of t) {
      const o = w.target.doOnRequestPath;
      md += `| ${w.config} | ${w.scenario} | ${fr(w.target.rps.ratio)} ${mark(w.target.rps.ok)} | ${fr(w.target.p99.ratio)} ${mark(w.target.p99.ok)} | ${o ? `${o.calls} ${mark(o.ok)}` : '–'} |\n`;
    }
  }
}
if (paired) {
  const mark = (ok) => (ok ? '✓' : '✗');
  md += `\n### Worker pair, interleaved (the figure for the Worker target)\n\n`;
  md += `Both Workers up at once on the proxy's CPU, ${paired.rounds} rounds of ${paired.run_s} s runs at c64 100 B taking turns (bench/ab-workerd.sh); `;
  md += `each ratio is taken per round, then the median, so a slow minute of the VM falls on both alike.\n\n`;
  md += `| req/s, trivial Worker | req/s, edgelb | req/s ÷ anchor ≥ ${TARGET.rps.toFixed(2)} | CPU µs/req ÷ anchor | raw p99 ÷ anchor ≤ ${TARGET.p99.toFixed(1)} |\n|---|---|---|---|---|\n`;
  md += `| ${f0(paired.anchor_rps)} | ${f0(paired.edgelb_rps)} | ${fr(paired.rps_vs_anchor)} ${mark(paired.rps_ok)} | ${fr(paired.cpu_vs_anchor)} | ${fr(paired.raw_p99_vs_anchor)} ${mark(paired.p99_ok)} |\n`;
}
if (doCalls.length) {
  md += `\n### Durable Object calls (workerd-edgelb), counts\n\n`;
  md += `Per scenario: over its recorded runs (after the warm-up). since-start: since the isolate started (cold start, readiness probes, warm-ups included). `;
  md += `checked = origins whose \`lastCheck\` is set (health checks by the object's alarms ran).\n\n`;
  md += '| config | scenario | wrk requests | pool requests | onRequestPath | background | flushes | errors | checked | note |\n|---|---|---|---|---|---|---|---|---|---|\n';
  const c = (x) => (Number.isFinite(x) ? String(x) : '–');
  for (const d of doCalls) {
    md += `| ${d.config} | ${d.scenario} | ${f0(d.wrk_requests)} | ${f0(d.pool_requests)} | ${c(d.onRequestPath)} | ${c(d.background)} | ${c(d.flushes)} | ${c(d.errors)} | ${c(d.checked_origins)} | ${d.note} |\n`;
  }
}
if (nodePair) {
  md += `\n### Node pair, interleaved (the figure for the CPU per request target)\n\n`;
  md += `HAProxy (\`${REF}\`'s config) and edgelb serve up at once on the proxy's CPU, ${nodePair.rounds} rounds of ${nodePair.run_s} s runs at c64 100 B taking turns (bench/ab-node.sh); `;
  md += `each ratio is taken per round, then the median (quartiles in brackets), so a slow minute of the VM falls on both alike.\n\n`;
  md += `| req/s, HAProxy | req/s, edgelb | req/s ÷ HAProxy | CPU µs/req, HAProxy | CPU µs/req, edgelb | CPU ÷ HAProxy ≤ ${NODE_CPU_TARGET.toFixed(2)} |\n|---|---|---|---|---|---|\n`;
  md += `| ${f0(nodePair.haproxy_rps)} | ${f0(nodePair.edgelb_rps)} | ${fr(nodePair.rps_vs_haproxy)} | ${f2(nodePair.haproxy_cpu_us)} | ${f2(nodePair.edgelb_cpu_us)} | ${fr(nodePair.cpu_vs_haproxy)} (${fr(nodePair.cpu_q1)}-${fr(nodePair.cpu_q3)}) ${nodePair.cpu_ok ? '✓' : '✗'} |\n`;
}
if (c9k.length) {
  md += `\n### 9,000 concurrent keep-alive connections (wrk -c9000, /100b; maxconn 256 per origin on both)\n\n`;
  md += `errors = wrk's socket errors + non-2xx over the runs (a response slower than wrk's 2 s timeout counts as a timeout); `;
  md += `unaccepted = connections in the proxy's listen queue mid-run, the highest of the runs (the kernel accepted them, the proxy not: HAProxy stops accepting at its global maxconn 8000, and their requests get no answer, which wrk does not count); RSS = VmHWM after the run, the highest.\n\n`;
  md += '| config | req/s | ÷ HAProxy | CPU µs/req | p50 ms | p99 ms | errors | unaccepted | RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n';
  for (const x of c9k) md += `| ${x.config} | ${f0(x.rps)} | ${fr(x.rps_vs_haproxy)} | ${f2(x.cpu_us_per_req)} | ${f3(x.p50_ms)} | ${f3(x.p99_ms)} | ${x.errors} | ${x.unaccepted_max} | ${Number.isFinite(x.rss_mib) ? x.rss_mib.toFixed(0) : '–'} |\n`;
}
if (added.length) {
  md += `\n### Added latency at c1 (/100b): p50 through the proxy − p50 direct\n\n| config | p50 ms | direct p50 ms | added p50 µs | added p99 µs |\n|---|---|---|---|---|\n`;
  for (const a of added) md += `| ${a.config} | ${f3(a.p50_ms)} | ${f3(a.direct_p50_ms)} | ${f0(a.added_p50_ms * 1000)} | ${f0(a.added_p99_ms * 1000)} |\n`;
}
const coldCfgs = [...new Set(cold.map((c) => c.config))];
if (coldCfgs.length) {
  const ref = coldMs(REF);
  md += `\n### Cold start: spawn to the first proxied 200 (median of ${cold.length / coldCfgs.length} starts after a discarded one; polled every 2 ms)\n\n| config | median ms | min–max ms | ÷ ${REF} |\n|---|---|---|---|\n`;
  for (const c of coldCfgs) {
    const m = coldMs(c);
    md += `| ${c} | ${f0(m.median)} | ${f0(m.min)}–${f0(m.max)} | ${ref ? fr(m.median / ref.median) : '–'} |\n`;
  }
}
// other processes on the machine during the runs: per-core busy time that is neither the proxy, the
// origins nor wrk. CPU0 shows 5-15% of such time even on an idle machine (kernel network work not
// charged to wrk or nginx), CPU1 about 0, hence the two thresholds.
const NOISE = { cpu0: 25, cpu1: 5 };
const noisy = runs.filter((r) => r.cpu0_other_pct > NOISE.cpu0 || r.cpu1_other_pct > NOISE.cpu1);
if (noisy.length) {
  md += `\n### ⚠ Other load on the machine during ${noisy.length} of ${runs.length} runs (CPU time besides proxy, origins and wrk > ${NOISE.cpu0}% of CPU0 or > ${NOISE.cpu1}% of CPU1): those figures are not clean\n\n`;
  md += '| config | scenario | run | other CPU0 % (wrk + origins core) | other CPU1 % (proxy core) |\n|---|---|---|---|---|\n';
  for (const r of noisy) md += `| ${r.config} | ${r.scenario} | ${r.run} | ${f2(r.cpu0_other_pct)} | ${f2(r.cpu1_other_pct)} |\n`;
}
if (failed.length) {
  md += `\n### Failed configs\n\n| config | reason |\n|---|---|\n`;
  for (const f of failed) md += `| ${f.config} | ${String(f.reason).replace(/\|/g, '\\|')} |\n`;
}

const json = {
  cold_start_ms: Object.fromEntries([...new Set(cold.map((c) => c.config))].map((c) => [c, coldMs(c)])),
  meta, reference: REF,
  summary: summary.map((s) => ({
    config: s.config, scenario: s.scenario, runs: s.runs,
    rps: round(s.rps, 1), rps_min: round(s.rps_min, 1), rps_max: round(s.rps_max, 1), rps_vs_haproxy: round(s.rps_vs_haproxy, 3),
    cpu_us_per_req: round(s.cpu_us_per_req, 2), cpu_vs_haproxy: round(s.cpu_vs_haproxy, 3), proxy_cpu_pct: round(s.proxy_cpu_pct, 1),
    p50_ms: round(s.p50_ms, 3), p99_ms: round(s.p99_ms, 3), raw_p50_ms: round(s.raw_p50_ms, 3), raw_p99_ms: round(s.raw_p99_ms, 3),
    raw_p999_ms: round(s.raw_p999_ms, 3), errors: s.errors, peak_rss_mib: round(s.peak_rss_mib, 1),
  })),
  raw_latency: rawAvailable,
  noisy_runs: noisy.map((r) => ({ config: r.config, scenario: r.scenario, run: r.run, cpu0_other_pct: r.cpu0_other_pct, cpu1_other_pct: r.cpu1_other_pct })),
  worker: {
    reference: WREF,
    tail_basis: rawAvailable ? 'raw_p99_ms' : 'p99_ms',
    target: { rps_vs_anchor_min: TARGET.rps, p99_vs_anchor_max: TARGET.p99, do_calls_on_request_path: 0 },
    summary: worker.map((w) => {
      const d = w.do_calls;
      return {
        config: w.config, scenario: w.scenario, runs: w.runs,
        rps: round(w.rps, 1), rps_vs_anchor: round(w.rps_vs_anchor, 3),
        cpu_us_per_req: round(w.cpu_us_per_req, 2), cpu_vs_anchor: round(w.cpu_vs_anchor, 3), proxy_cpu_pct: round(w.proxy_cpu_pct, 1),
        p50_ms: round(w.p50_ms, 3), p99_ms: round(w.p99_ms, 3), raw_p99_ms: round(w.raw_p99_ms, 3), p99_vs_anchor: round(w.p99_vs_anchor, 3),
        errors: w.errors, peak_rss_mib: round(w.peak_rss_mib, 1),
        do_calls_per_request: d ? {
          onRequestPath: round(perReq(d, 'onRequestPath'), 8), background: round(perReq(d, 'background'), 8),
          flushes: round(perReq(d, 'flushes'), 8), errors: round(perReq(d, 'errors'), 8),
        } : null,
        target: w.target ? {
          rps_ok: w.target.rps.ok, p99_ok: w.target.p99.ok, p99_basis: w.target.p99.basis,
          do_on_request_path_ok: w.target.doOnRequestPath ? w.target.doOnRequestPath.ok : null,
        } : undefined,
      };
    }),
    paired: paired && Object.fromEntries(Object.entries(paired).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v])),
    do_calls: doCalls.map((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v]))),
  },
  node_pair: nodePair && Object.fromEntries(Object.entries(nodePair).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v])),
  c9000: c9k.map((x) => ({
    config: x.config, runs: x.runs, rps: round(x.rps, 1), rps_min: round(x.rps_min, 1), rps_max: round(x.rps_max, 1), rps_vs_haproxy: round(x.rps_vs_haproxy, 3),
    cpu_us_per_req: round(x.cpu_us_per_req, 2), p50_ms: round(x.p50_ms, 3), p99_ms: round(x.p99_ms, 3), errors: x.errors,
    unaccepted_max: x.unaccepted_max, rss_mib: round(x.rss_mib, 1),
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
