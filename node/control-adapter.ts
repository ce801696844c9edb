import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

/** What the control app gets as its env on the Node build: the request it answers (the peer's address). */
export interface NodeBindings {
  incoming: IncomingMessage;
}

/** Headers HTTP/2 forbids in a response (RFC 9113 §8.2.2); node:http2 throws on them. */
const H2_FORBIDDEN = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/**
 * Serves a fetch-style handler (the Hono control app) from node:http's (or node:http2's
 * compatibility) request and response: the Web Request is built from the raw headers, the body
 * streamed in; the Response is written back, Set-Cookie and all. Only the control routes come
 * here, so the Web objects cost nothing on the proxy path; and, unlike @hono/node-server, nothing
 * here loads node:http2 at start (it took tens of ms of a cold start that never serves HTTP/2).
 */
export function nodeHandler(fetch: (req: Request, env: NodeBindings) => Response | Promise<Response>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? "GET";
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      try {
        headers.append(raw[i], raw[i + 1]);
      } catch {
        // a name or value the Web Headers refuse was already judged by the request validation
      }
    }
    const init: RequestInit & { duplex?: "half" } = { method, headers };
    if (method !== "GET" && method !== "HEAD") {
      init.body = Readable.toWeb(req) as unknown as ReadableStream;
      init.duplex = "half";
    }
    const h2 = req.httpVersionMajor === 2;
    const url = `http://${h2 ? (req.headers[":authority"] ?? req.headers.host) : (req.headers.host ?? "localhost")}${req.url ?? "/"}`;
    void (async () => {
      let r: Response;
      try {
        r = await fetch(new Request(url, init), { incoming: req });
      } catch {
        r = new Response("Internal Server Error\n", { status: 500 });
      }
      const out: string[] = [];
      r.headers.forEach((v, k) => {
        if (k === "set-cookie" || (h2 && H2_FORBIDDEN.has(k))) return;
        out.push(k, v);
      });
      for (const c of r.headers.getSetCookie()) out.push("set-cookie", c);
      res.writeHead(r.status, out);
      if (!r.body || method === "HEAD") return void res.end();
      try {
        for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
          if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
        }
        res.end();
      } catch {
        res.destroy();
      }
    })();
  };
}
