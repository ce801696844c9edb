// A scriptable test origin for the Worker tests, run as its own process by test/worker/global-setup.ts.
// Unlike test/support/origin-child.ts (driven over IPC by the Node tests), this one is driven over HTTP,
// because the Worker tests run inside workerd and can only reach it with fetch.
//
// Usage: node origin-http.ts NAME PORT   (PORT 0 = any). Sends {type:"ready", port} over IPC once
// listening (when started with an IPC channel) and exits when its parent goes away.
//
// Control surface (never logged, never affected by the mode):
//   POST   /__origin/mode  JSON {mode: "ok"|"hang"|"close"|"reset-mid-body"|"status", delayMs?, status?, location?, bytes?, headers?}
//          -> 204; the mode applies to every later request until changed
//   GET    /__origin/log   -> JSON [{method, url, id (x-request-id or null), host, headers (raw pairs),
//                              body (the request body as text, null until it was read to its end)}]
//   DELETE /__origin/log   -> 204, clears the log
// Normal requests (any other path), by mode:
//   ok              200 (or `status`), x-origin NAME, body "origin NAME\n" (after `delayMs` if given);
//                   `headers` (an object; an array value sends the header once per element) adds
//                   response headers as given, e.g. hop-by-hop ones or several Set-Cookie
//   status          `status` (default 503) with the same headers/body as ok; `location` sets Location
//                   (so {mode:"status", status:302, location:"/elsewhere"} is a redirect); a request
//                   for the Location's own path is answered as in mode ok, so a followed redirect lands
//   hang            reads the request, never answers; the socket stays open
//   close           reads the request, destroys the socket without a byte of answer
//   reset-mid-body  200 with content-length 100000, writes `bytes` (default 1000) bytes, then TCP RST
//   stall-mid-body  200 with content-length 100000, writes `bytes` (default 1000) bytes, then nothing;
//                   the socket stays open
// Every normal request is logged before it is answered.
// WebSocket upgrades (any path) are logged, then each message is echoed as "NAME:message";
// "close" closes with code 4000, "drop" kills the socket.
import http from "node:http";
import { WebSocketServer } from "ws";

type Mode =
  | { mode: "ok"; delayMs?: number; status?: number; headers?: Record<string, string | string[]> }
  | { mode: "status"; status?: number; location?: string; delayMs?: number }
  | { mode: "hang" }
  | { mode: "close" }
  | { mode: "reset-mid-body"; bytes?: number }
  | { mode: "stall-mid-body"; bytes?: number };

interface LogEntry {
  method: string;
  url: string;
  id: string | null;
  host: string | null;
  headers: string[];
  body: string | null;
}

const MODES = new Set(["ok", "status", "hang", "close", "reset-mid-body", "stall-mid-body"]);
const [name = "origin", portArg = "0"] = process.argv.slice(2);
let mode: Mode = { mode: "ok" };
let log: LogEntry[] = [];

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

async function control(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
  const body = await readBody(req);
  if (path === "/__origin/mode" && req.method === "POST") {
    let m: Mode;
    try {
      m = JSON.parse(body) as Mode;
    } catch {
      return json(res, 400, { error: "body is not JSON" });
    }
    if (!m || !MODES.has(m.mode)) return json(res, 400, { error: `unknown mode ${JSON.stringify(m?.mode)}` });
    mode = m;
    res.writeHead(204).end();
    return;
  }
  if (path === "/__origin/mode" && req.method === "GET") return json(res, 200, mode);
  if (path === "/__origin/log" && req.method === "GET") return json(res, 200, log);
  if (path === "/__origin/log" && req.method === "DELETE") {
    log = [];
    res.writeHead(204).end();
    return;
  }
  json(res, 404, { error: `no control route ${req.method} ${path}` });
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/__origin/mode" || path === "/__origin/log") {
    control(req, res, path).catch((e) => json(res, 500, { error: String(e) }));
    return;
  }
  const id = req.headers["x-request-id"];
  const entry: LogEntry = {
    method: req.method ?? "",
    url: req.url ?? "",
    id: typeof id === "string" ? id : null,
    host: req.headers.host ?? null,
    headers: req.rawHeaders,
    body: null,
  };
  log.push(entry);
  let m = mode;
  if (m.mode === "status" && m.location && new URL(m.location, "http://x").pathname === path) m = { mode: "ok" };
  readBody(req).then(
    (body) => {
      entry.body = body;
      switch (m.mode) {
        case "hang":
          return; // never answer
        case "close":
          return void req.socket.destroy();
        case "reset-mid-body":
          res.writeHead(200, { "content-type": "text/plain", "content-length": 100_000, "x-origin": name });
          res.write("x".repeat(m.bytes ?? 1000), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
          return;
        case "stall-mid-body":
          res.writeHead(200, { "content-type": "text/plain", "content-length": 100_000, "x-origin": name });
          res.write("x".repeat(m.bytes ?? 1000));
          return; // never more
        case "ok":
        case "status": {
          const answer = () => {
            const text = `origin ${name}\n`;
            const status = m.status ?? (m.mode === "status" ? 503 : 200);
            const headers: Record<string, string | number | string[]> = {
              "content-type": "text/plain",
              "content-length": Buffer.byteLength(text),
              "x-origin": name,
            };
            if (m.mode === "status" && m.location) headers.location = m.location;
            if (m.mode === "ok" && m.headers) Object.assign(headers, m.headers);
            res.writeHead(status, headers);
            res.end(req.method === "HEAD" ? undefined : text);
          };
          if (m.delayMs) setTimeout(answer, m.delayMs);
          else answer();
        }
      }
    },
    () => req.socket.destroy(),
  );
});
// WebSocket: an upgrade is logged like any request, then echoed as "NAME:message"; the message
// "close" makes the origin close the connection (code 4000), "drop" kills its socket
const wss = new WebSocketServer({ noServer: true });
server.on("upgrade", (req, socket, head) => {
  log.push({ method: req.method ?? "", url: req.url ?? "", id: null, host: req.headers.host ?? null, headers: req.rawHeaders, body: null });
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === "close") return ws.close(4000, "origin closes");
      if (text === "drop") return ws.terminate();
      ws.send(`${name}:${text}`);
    });
  });
});
server.keepAliveTimeout = 10_000;
if (process.send) process.on("disconnect", () => process.exit(0));
server.listen(Number(portArg), "127.0.0.1", () => {
  const a = server.address();
  const port = typeof a === "object" && a ? a.port : 0;
  if (process.send) process.send({ type: "ready", port });
  else console.log(`origin ${name} listening on 127.0.0.1:${port}`);
});
