import type { BalancerStats, OriginStats, PoolStats } from "./model.ts";

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The CSS class of a state label (core/stats/model.ts stateLabel), which sets the row's colour:
 * HAProxy's palette, one colour per state, the transitions in between in their own shade.
 */
export function stateClass(state: string): string {
  if (state === "UP") return "st-up";
  if (state.startsWith("UP, going down")) return "st-going-down";
  if (state.startsWith("DOWN, going up")) return "st-going-up";
  if (state.startsWith("DOWN")) return "st-down";
  if (state === "DRAIN") return "st-drain";
  if (state === "MAINT") return "st-maint";
  if (state === "EJECTED") return "st-ejected";
  return "st-other";
}

/** Background of each state class (also the legend). */
export const STATE_COLOURS: Record<string, [string, string]> = {
  "st-up": ["#c0f0c0", "UP"],
  "st-going-down": ["#f8f0a0", "UP, going down"],
  "st-going-up": ["#f8c888", "DOWN, going up"],
  "st-down": ["#f0a0a0", "DOWN"],
  "st-ejected": ["#f0d090", "EJECTED (passive)"],
  "st-drain": ["#a0c0f0", "DRAIN"],
  "st-maint": ["#c8c8c8", "MAINT"],
  "st-other": ["#f0f0f0", "other"],
};

/** A duration for people: 850ms, 12s, 3m05s, 2h05m, 3d04h. */
export function age(ms: number): string {
  if (!(ms >= 0)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

const num = (n: number) => String(+n.toFixed(2));
const CONNECT = ["connect-refused", "connect-timeout", "connect-error"];
const sumOf = (f: Record<string, number>, keys: string[]) => keys.reduce((a, k) => a + (f[k] ?? 0), 0);
const total = (f: Record<string, number>) => Object.values(f).reduce((a, n) => a + n, 0);

const HEAD =
  `<thead><tr><th rowspan="2">origin</th><th colspan="4">state</th><th rowspan="2">admin</th><th colspan="3">weight</th>` +
  `<th colspan="3">sessions</th><th colspan="2">tun&shy;nels</th><th colspan="4">responses</th><th colspan="3">errors</th><th colspan="2">warnings</th>` +
  `<th rowspan="2">ejec&shy;tions</th><th colspan="2">agent</th></tr>` +
  `<tr><th>status</th><th>last check</th><th>last change</th><th>down&shy;time</th><th>cfg</th><th>agent</th><th>eff</th>` +
  `<th>cur</th><th>max</th><th>total</th><th>open</th><th>total</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>conn</th><th>resp</th>` +
  `<th>cli abrt</th><th>retr</th><th>redis</th><th>report</th><th>age</th></tr></thead>`;

function originRow(pool: string, o: OriginStats, now: number): string {
  const cls = stateClass(o.state);
  const check = o.lastCheck
    ? `<span class="${o.lastCheck.ok ? "ok" : "bad"}">${esc(o.lastCheck.detail)}</span> in ${o.lastCheck.ms}ms, ${age(now - o.lastCheck.at)} ago`
    : "-";
  const f = o.failures;
  return (
    `<tr class="${cls}${o.backup ? " backup" : ""}" data-pool="${esc(pool)}" data-origin="${esc(o.name)}">` +
    `<td class="name" title="${esc(o.url)}">${esc(o.name)}${o.backup ? " <i>(backup)</i>" : ""}</td>` +
    `<td class="state">${esc(o.state)}</td><td class="check">${check}</td>` +
    `<td>${o.lastChange ? `${age(now - o.lastChange)} ago` : "-"}</td><td class="downtime">${o.downMs ? age(o.downMs) : "-"}</td>` +
    `<td class="admin">${esc(o.admin)}</td>` +
    `<td>${o.weight.configured}</td><td>${o.weight.agentPct === null ? "-" : `${o.weight.agentPct}%`}</td><td class="eff">${num(o.weight.effective)}</td>` +
    `<td class="inflight">${o.inflight}</td><td>${o.maxconn || "-"}</td><td class="tries">${o.tries}</td>` +
    `<td class="tunnels">${o.tunnels}</td><td>${o.tunnelsTotal}</td>` +
    `<td>${o.status["2xx"]}</td><td>${o.status["3xx"]}</td><td>${o.status["4xx"]}</td><td>${o.status["5xx"]}</td>` +
    `<td>${sumOf(f, CONNECT)}</td><td>${total(f) - sumOf(f, CONNECT)}</td><td>${o.clientAborts}</td>` +
    `<td>${o.retries}</td><td>${o.redispatches}</td><td>${o.ejections}</td>` +
    `<td class="agent">${o.agent ? `${esc(o.agent.health)} ${esc(o.agent.admin)} ${o.agent.weightPct}%` : "-"}</td>` +
    `<td>${o.agent ? age(o.agent.ageMs) : "-"}</td></tr>`
  );
}

/** The pool's summary row (HAProxy's BACKEND line): UP while at least one origin takes new requests. */
function poolRow(p: PoolStats): string {
  const serving = p.origins.filter((o) => o.unavailable === null);
  const state = serving.length ? "UP" : "DOWN";
  const sum = (f: (o: OriginStats) => number) => p.origins.reduce((a, o) => a + f(o), 0);
  const fails = (keys?: string[]) => sum((o) => (keys ? sumOf(o.failures, keys) : total(o.failures)));
  return (
    `<tr class="total ${stateClass(state)}" data-pool="${esc(p.name)}" data-origin="">` +
    `<td class="name">pool total</td><td class="state">${state}</td><td>${serving.length}/${p.origins.length} taking requests</td><td></td><td></td>` +
    `<td></td><td>${sum((o) => o.weight.configured)}</td><td></td><td class="eff">${num(sum((o) => o.weight.effective))}</td>` +
    `<td class="inflight">${sum((o) => o.inflight)}</td><td>queue ${p.queued}</td><td class="tries">${p.requests}</td>` +
    `<td class="tunnels">${sum((o) => o.tunnels)}</td><td>${sum((o) => o.tunnelsTotal)}</td>` +
    `<td>${p.status["2xx"]}</td><td>${p.status["3xx"]}</td><td>${p.status["4xx"]}</td><td>${p.status["5xx"]}</td>` +
    `<td>${fails(CONNECT)}</td><td>${fails() - fails(CONNECT)}</td><td>${sum((o) => o.clientAborts)}</td>` +
    `<td>${sum((o) => o.retries)}</td><td>${sum((o) => o.redispatches)}</td><td>${sum((o) => o.ejections)}</td><td></td><td></td></tr>`
  );
}

function poolSection(p: PoolStats, now: number): string {
  const d = p.duration;
  const facts = [
    esc(p.balance),
    `requests ${p.requests}`,
    `queued ${p.queued}`,
    `without origin ${p.noOrigin}`,
    `queue timeouts ${p.queueTimeouts}`,
    `retries refused by the budget ${p.budgetExhausted}`,
    d && d.count ? `mean time ${age((d.sum / d.count) * 1000)}` : "",
    p.durableObjectCalls ? `Durable Object calls: ${Object.entries(p.durableObjectCalls).map(([k, n]) => `${esc(k)} ${n}`).join(", ")}` : "",
  ].filter(Boolean);
  return (
    `<section class="pool"><h2>${esc(p.name)}</h2><p class="facts">${facts.join(" · ")}</p>` +
    `<div class="scroll"><table>${HEAD}<tbody>${p.origins.map((o) => originRow(p.name, o, now)).join("")}</tbody>` +
    `<tfoot>${poolRow(p)}</tfoot></table></div></section>`
  );
}

const CSS =
  `body{font:14px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em;color:#111;background:#fff}` +
  `h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.2em 0 .1em}p{margin:.3em 0}.facts{color:#444}` +
  `.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%;border:1px solid #999}` +
  `table{border-collapse:collapse;min-width:100%}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right;white-space:nowrap}` +
  `th{background:#e4e4f0;font-weight:600;text-align:center}td.name,td.check,td.agent,td.state,td.admin{text-align:left}` +
  `td.name{position:sticky;left:0;z-index:1;font-weight:600;box-shadow:1px 0 0 #999}tfoot td{font-weight:600;border-top:2px solid #666}` +
  `.bad{color:#a00;font-weight:600}.ok{color:#060}.legend span{display:inline-block;padding:1px 6px;margin:2px;border:1px solid #999}` +
  `.alert{background:#f0a0a0;padding:4px}` +
  Object.entries(STATE_COLOURS).map(([c, [bg]]) => `.${c} td,.legend .${c}{background:${bg}}`).join("") +
  `tr.backup td.name{font-style:italic}` +
  `@media (max-width:640px){body{margin:.4em;font-size:13px}td,th{padding:2px 4px}}`;

/**
 * A server-rendered stats page in the spirit of HAProxy's: one row per origin coloured by state,
 * a summary row per pool, refreshing itself every `refreshSec` seconds (a meta refresh: no script,
 * no external asset; an empty icon so a browser's /favicon.ico is not proxied to an origin on
 * every refresh); `now` is the clock the ages are measured with.
 */
export function renderStatsHtml(s: BalancerStats, now: number, refreshSec = 5): string {
  const last = s.reload?.last;
  const reload = !last
    ? ""
    : last.ok
      ? `<p>config reloaded ${new Date(last.at).toISOString()} (${s.reload!.applied} applied, ${s.reload!.refused} refused)</p>`
      : `<p class="alert">config reload refused ${new Date(last.at).toISOString()}, the running config keeps serving: ${esc(last.problems.join("; "))}</p>`;
  const legend = `<p class="legend">${Object.entries(STATE_COLOURS)
    .filter(([c]) => c !== "st-other")
    .map(([c, [, label]]) => `<span class="${c}">${label}</span>`)
    .join("")}</p>`;
  const refresh = refreshSec > 0 ? `<meta http-equiv="refresh" content="${refreshSec}">` : "";
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `${refresh}<link rel="icon" href="data:,"><title>edgelb stats</title><style>${CSS}</style></head><body>` +
    `<h1>edgelb stats</h1><p>${esc(s.build)}, up since ${new Date(s.startedAt).toISOString()} (${age(now - s.startedAt)}); ` +
    `page made ${new Date(now).toISOString()}${refreshSec > 0 ? `, refreshes every ${refreshSec}s` : ""} · ` +
    `<a href="?format=csv">CSV</a> · <a href="?format=json">JSON</a> · <a href="metrics">metrics</a></p>${reload}${legend}` +
    `${s.pools.map((p) => poolSection(p, now)).join("")}</body></html>`
  );
}
