// A scriptable test origin, run as its own process (so a test can SIGKILL it).
// Usage: node origin-child.ts NAME PORT   (PORT 0 = any). Talks to its parent over IPC:
//   child -> parent: {type:"ready", port} once listening; {type:"req", ...} for every request head received
//   parent -> child: {type:"mode", mode, ...} to change how it answers from now on
import http from "node:http";
import type { Socket } from "node:net";

type Mode =
  | { mode: "ok"; delayMs?: number; status?: number; bodyBytes?: number; statuses?: number[] }
  | { mode: "hang" }
  | { mode: "close" }
  | { mode: "reset-mid-body"; bytes?: number }
  | { mode: "trickle"; everyMs: number };

const [name = "origin", portArg = "0"] = process.argv.slice(2);
let mode: Mode = { mode: "ok" };
/** Answers given in the current mode (indexes `statuses`). */
let answered = 0;
const sockets = new Set<Socket>();
const send = (m: unknown) => process.send?.(m);

process.on("message", (m: { type: string } & Mode) => {
  if (m.type === "mode") (mode = m), (answered = 0);
  // IPC is ordered: the pong follows every request log sent before it
  if (m.type === "ping") send({ type: "pong" });
});
process.on("disconnect", () => process.exit(0));

const server = http.createServer((req, res) => {
  send({ type: "req", method: req.method, url: req.url, id: req.headers["x-request-id"] ?? null, headers: req.rawHeaders });
  const m = mode;
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    switch (m.mode) {
      case "hang":
        return; // never answer; the socket stays open
      case "close":
        return void req.socket.destroy();
      case "reset-mid-body": {
        res.writeHead(200, { "content-type": "text/plain", "content-length": 100_000, "x-origin": name });
        res.write("x".repeat(m.bytes ?? 1000), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
        return;
      }
      case "trickle": {
        res.writeHead(200, { "content-type": "text/plain", "x-origin": name });
        const t = setInterval(() => res.write("."), m.everyMs);
        res.on("close", () => clearInterval(t));
        return;
      }
      case "ok": {
        const answer = () => {
          const text = m.bodyBytes ? "y".repeat(m.bodyBytes) : `origin ${name}${body ? ` got ${body.length} bytes` : ""}\n`;
          const status = m.statuses?.length ? m.statuses[answered++ % m.statuses.length] : (m.status ?? 200);
          res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(text), "x-origin": name });
          res.end(req.method === "HEAD" ? undefined : text);
        };
        if (m.delayMs) setTimeout(answer, m.delayMs);
        else answer();
      }
    }
  });
});
server.on("connection", (s) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});
server.keepAliveTimeout = 10_000;
server.listen(Number(portArg), "127.0.0.1", () => {
  const a = server.address();
  send({ type: "ready", port: typeof a === "object" && a ? a.port : 0 });
});
