// Copied from ../shared/anchors/proxies/http-proxy.mjs (bench/run.sh's `http-proxy` config: a reference, not edgelb).
// (d) npm http-proxy, round-robin over two origins, one shared keep-alive http.Agent.
// Usage: node http-proxy.mjs [port=8080]
import http from 'node:http';
import httpProxy from 'http-proxy';
const port = Number(process.argv[2] ?? 8080);
const targets = ['http://127.0.0.1:9101', 'http://127.0.0.1:9102'];
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent });
proxy.on('error', (err, req, res) => {
  if (res.writeHead && !res.headersSent) res.writeHead(502);
  res.end();
});
let i = 0;
const srv = http.createServer((req, res) => proxy.web(req, res, { target: targets[i++ & 1] }));
srv.keepAliveTimeout = 65_000;
srv.listen(port, '127.0.0.1');
