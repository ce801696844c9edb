import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Config } from "../core/config/schema.ts";
import { MAX_HEADER_FIELDS } from "../core/proxy/validate.ts";

/**
 * HTTP/2 to clients, on the TLS listeners that negotiate `h2` (node/tls.ts hands those sockets
 * here). Each stream becomes a request of the same forward path as HTTP/1.1 (node:http2's
 * compatibility API); origins are still reached over HTTP/1.1 pools. Limits against abuse:
 * - 100 concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS);
 * - header list size = client.maxHeaderBytes, at most 100 fields plus the pseudo-headers;
 * - Rapid Reset (CVE-2023-44487): a client that resets streams faster than `streamResetRate`/s
 *   after a burst of `streamResetBurst` is sent GOAWAY (ENHANCE_YOUR_CALM) and dropped;
 * - CONTINUATION flood (CVE-2024-27983): nghttp2 caps CONTINUATION frames per header block and
 *   Node closes the session;
 * - invalid frames and refused streams per session are capped, and each session's memory is
 *   bounded (maxSessionMemory), past which new streams are refused.
 */
export function createH2Server(config: Config, onRequest: (req: Http2ServerRequest, res: Http2ServerResponse) => void): Http2Server {
  // loaded here, not at start: only a TLS listener with http2 needs it
  const http2: typeof import("node:http2") = process.getBuiltinModule("node:http2");
  const server = http2.createServer(
    {
      settings: {
        maxConcurrentStreams: 100,
        maxHeaderListSize: config.client.maxHeaderBytes,
        enablePush: false,
      },
      maxHeaderListPairs: MAX_HEADER_FIELDS + 8,
      maxSessionMemory: 10,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      streamResetBurst: 200,
      streamResetRate: 100,
    },
    (req, res) => {
      adapt(req);
      onRequest(req, res);
    },
  );
  // an idle HTTP/2 connection is closed like an idle keep-alive one
  server.on("session", (session) => {
    session.setTimeout(config.client.keepAlive, () => session.close());
    session.on("error", () => {});
  });
  server.setTimeout(0);
  return server;
}

/**
 * Makes an HTTP/2 request look like an HTTP/1.1 one to the forward path: the raw header list
 * without pseudo-headers and with `host` from `:authority` when the client sent no Host (RFC 9113
 * §8.3.1); `url` is `:path` already. Validation (core/proxy/validate.ts) then sees one Host.
 */
function adapt(req: Http2ServerRequest): void {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].charCodeAt(0) === 58 /* : */) continue;
    if (raw[i] === "host") host = true;
    out.push(raw[i], raw[i + 1]);
  }
  const authority = req.headers[":authority"];
  if (!host && typeof authority === "string") {
    out.push("host", authority);
    req.headers.host = authority;
  }
  Object.defineProperty(req, "rawHeaders", { value: out });
}

/** Whether a client request carries a body: an HTTP/2 stream says so itself (no Content-Length needed). */
export function h2HasBody(req: { httpVersionMajor: number; stream?: { endAfterHeaders: boolean } }): boolean | undefined {
  return req.httpVersionMajor === 2 ? !req.stream!.endAfterHeaders : undefined;
}
