// Copied from ../shared/anchors/proxies/undici-proxy.mjs (bench/run.sh's `undici-stream` config: a reference, not edgelb).
// (e) Minimal hand-written proxy: node:http server + one undici Pool per origin, round-robin.
// Usage: node undici-proxy.mjs [port=8080] [mode=request|stream]
//   request: pool.request() then pipeline(body, res)   (the API named in the brief)
//   stream:  pool.stream() writing straight into res    (undici's faster API)
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
const port = Number(process.argv[2] ?? 8080);
const mode = process.argv[3] ?? 'request';
const pools = [9101, 9102].map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 128, pipelining: 1 }));
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'proxy-authenticate', 'proxy-authorization', 'host']);
const strip = (h) => { const o = {}; for (const k in h) if (!HOP.has(k)) o[k] = h[k]; return o; };
let i = 0;
const srv = http.createServer(async (req, res) => {
  const pool = pools[i++ & 1];
  const opts = { path: req.url, method: req.method, headers: strip(req.headers),
    body: req.method === 'GET' || req.method === 'HEAD' ? null : req };
  try {
    if (mode === 'stream') {
      await pool.stream(opts, ({ statusCode, headers }) => { res.writeHead(statusCode, strip(headers)); return res; });
    } else {
      const { statusCode, headers, body } = await pool.request(opts);
      res.writeHead(statusCode, strip(headers));
      await pipeline(body, res);
    }
  } catch {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  }
});
srv.keepAliveTimeout = 65_000;
srv.listen(port, '127.0.0.1');
