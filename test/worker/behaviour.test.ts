// The behaviour suite (test/behaviour/cases.ts) against the edge build: the Worker inside workerd,
// called through exports.default.fetch like a client request arriving at Cloudflare (a Host
// header and a CF-Connecting-IP, over https), with the config vitest.config.ts binds as
// EDGELB_CONFIG (test/behaviour/config.ts) and the origins test/worker/global-setup.ts started.
import { exports } from "cloudflare:workers";
import { behaviourSuite, statsThrough, type Build, type ClientRequest } from "../behaviour/cases.ts";
import { origin } from "./helpers.ts";

/** The client address Cloudflare would put in CF-Connecting-IP (TEST-NET-3). */
const CLIENT_IP = "203.0.113.9";

function send(host: string, path: string, init: ClientRequest = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("host", host);
  headers.set("cf-connecting-ip", CLIENT_IP);
  // redirect "manual": a Fetcher follows redirects like fetch() does; a client of the edge sees them
  return exports.default.fetch(new Request(`https://${host}${path}`, { method: init.method ?? "GET", headers, body: init.body, redirect: "manual" }));
}

const edge: Build = {
  name: "edge",
  fetch: send,
  origin,
  stats: (pool) => statsThrough(send, pool),
  client: { forwardedFor: CLIENT_IP, proto: "https" },
  // probe.test.ts (a)/(d): a refused connection and one closed after the request was sent look alike
  refusedAs: "empty-response",
  skip: {
    deadPost:
      "workerd's fetch reports a refused connection and a closed-after-send one alike (probe.test.ts (a), (d)), " +
      "so the edge counts a refused connection as empty-response and never retries a POST to a dead origin",
    stall:
      "the edge pipes bodies natively (no JavaScript per chunk, for speed), so it enforces only the total deadline " +
      "on a body (with edge.watchBodies), not the per-chunk idle one; Cloudflare bounds idle connections itself",
    host: "workerd's fetch drops the Host header (probe.test.ts): the origin sees the URL's host:port, not the client's Host",
  },
};

behaviourSuite(edge);
