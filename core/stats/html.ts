import type { BalancerStats, PoolStats } from "./model.ts";

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLOR: Record<string, string> = { UP: "#c0f0c0", DOWN: "#f0a0a0", DRAIN: "#a0c0f0", MAINT: "#c0c0c0", EJECTED: "#f0d090" };

/** A server-rendered stats page in the spirit of HAProxy's: one row per origin, refreshes itself. */
export function renderStatsHtml(s: BalancerStats): string {
  const rows = (p: PoolStats) =>
    p.origins
      .map((o) => {
        const bg = COLOR[o.state.split(/[ ,]/)[0]] ?? "#f0f0a0";
        return `<tr style="background:${bg}"><td>${esc(o.name)}${o.backup ? " (backup)" : ""}</td><td>${esc(o.state)}</td><td>${esc(o.admin)}</td>` +
          `<td>${o.weight.configured} / ${o.weight.agentPct ?? "-"}% / ${+o.weight.effective.toFixed(2)}</td><td>${o.inflight}</td><td>${o.tries}</td>` +
          `<td>${o.status["2xx"]}</td><td>${o.status["3xx"]}</td><td>${o.status["4xx"]}</td><td>${o.status["5xx"]}</td><td>${o.retries}</td><td>${o.redispatches}</td>` +
          `<td>${o.lastCheck ? `${esc(o.lastCheck.detail)} in ${o.lastCheck.ms}ms` : "-"}</td></tr>`;
      })
      .join("");
  const pools = s.pools
    .map(
      (p) =>
        `<h2>${esc(p.name)} <small>${esc(p.balance)}, ${p.requests} requests, ${p.noOrigin} without origin, ${p.queued} queued</small></h2>` +
        `<table><tr><th>origin</th><th>state</th><th>admin</th><th>weight cfg/agent/eff</th><th>in flight</th><th>tries</th>` +
        `<th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>retries</th><th>redisp</th><th>last check</th></tr>${rows(p)}</table>`,
    )
    .join("");
  const last = s.reload?.last;
  const reload = !last
    ? ""
    : last.ok
      ? `<p>config reloaded ${new Date(last.at).toISOString()} (${s.reload!.applied} applied, ${s.reload!.refused} refused)</p>`
      : `<p style="background:#f0a0a0">config reload refused ${new Date(last.at).toISOString()}, the running config keeps serving: ${esc(last.problems.join("; "))}</p>`;
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta http-equiv="refresh" content="5"><title>edgelb stats</title><style>body{font:14px system-ui,sans-serif;margin:1em}` +
    `table{border-collapse:collapse;width:100%;overflow-x:auto;display:block}td,th{border:1px solid #999;padding:2px 6px;text-align:right;white-space:nowrap}` +
    `td:first-child,th:first-child{text-align:left}</style></head><body><h1>edgelb</h1><p>${esc(s.build)}, up since ${new Date(s.startedAt).toISOString()}</p>${reload}${pools}</body></html>`;
}
