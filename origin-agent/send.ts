import type { Agent } from "node:http";
import { http, https } from "./builtins.ts";
import type { Target } from "./config.ts";

/** How one POST ended: the status (0 = no answer) and, when not 2xx, a short why. */
export interface Delivery {
  status: number;
  error?: string;
  /** The first lines of a 4xx body (the receiver lists schema problems there). */
  detail?: string;
}

/**
 * Wait before the next try to a target after `failures` consecutive failures: the interval after
 * one failure, then doubling, at most `max`, never less than the interval. Full jitter on the
 * part above the interval (`rand` in [0, 1)).
 */
export function backoffDelay(failures: number, interval: number, max: number, rand: number): number {
  if (failures <= 0) return interval;
  const ceiling = Math.max(interval, Math.min(max, interval * 2 ** Math.min(failures - 1, 30)));
  return Math.round(interval + (ceiling - interval) * (0.5 + rand / 2));
}

// one kept-alive connection per target: a report a second does not open a connection a second
const agents: { http?: Agent; https?: Agent } = {};

/** POSTs a signed report to a target; never throws. */
export async function post(target: Target, body: string, headers: Record<string, string>, timeoutMs: number): Promise<Delivery> {
  const secure = target.url.protocol === "https:";
  const mod = secure ? https() : http;
  const agent = secure ? (agents.https ??= new (https().Agent)({ keepAlive: true, maxSockets: 1 })) : (agents.http ??= new http.Agent({ keepAlive: true, maxSockets: 1 }));
  return new Promise<Delivery>((resolve) => {
    let done = false;
    const finish = (d: Delivery) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(d);
    };
    const req = mod.request(
      target.url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "user-agent": "edgelb-agent", ...headers },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          if (text.length < 1024) text += d;
        });
        res.on("end", () =>
          finish(status >= 200 && status < 300 ? { status } : { status, error: `HTTP ${status}`, ...(text ? { detail: text.slice(0, 400).trim() } : {}) }),
        );
        res.on("error", (e) => finish({ status, error: e.message }));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => finish({ status: 0, error: e.code ?? e.message }));
    const timer = setTimeout(() => {
      finish({ status: 0, error: `timeout after ${timeoutMs}ms` });
      req.destroy();
    }, timeoutMs);
    req.end(body);
  });
}
