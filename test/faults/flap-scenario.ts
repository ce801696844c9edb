// G13, shared by test/faults/g13-flap.test.ts (short schedule, asserted) and test/faults/long.ts (the
// issue's 2 s up / 2 s down for 20 s): web01 flaps behind the fault proxy while GETs and HEADs run at
// 500 req/s; web02 stays up. Returns what the assertions need.
import { killOrigins, paced, percentile, startBalancer, startFaultProxy, startOrigin, summary, warm, type Timed } from "./kit/index.ts";

export interface FlapResult {
  requests: number;
  failedGets: Timed[];
  latency: ReturnType<typeof summary>;
  p99: number;
  /** Every passive ejection of web01, in order: how long it was for (ms), from the balancer's log. */
  ejectionsMs: number[];
  /** Proxy state changes (ms since its start, up or down). */
  flaps: { at: number; up: boolean }[];
  /** Requests web01 served (in its up windows). */
  servedByFlapper: number;
  transitions: number;
}

export async function runFlap(upMs: number, downMs: number, durationMs: number, baseEjection: string): Promise<FlapResult> {
  const [web01, web02] = await Promise.all([startOrigin("web01"), startOrigin("web02")]);
  const wire = await startFaultProxy(web01.url);
  const b = await startBalancer({
    pools: {
      webfarm: {
        origins: [{ name: "web01", url: wire.url }, { name: "web02", url: web02.url }],
        check: { interval: "200ms", timeout: "150ms", rise: 1, fall: 2 },
        passive: { baseEjection, maxEjection: "1m" },
      },
    },
  });
  try {
    await warm(b.url);
    let flap: ReturnType<typeof wire.flap> | null = null;
    const rs = await paced(b.url, {
      rate: 500,
      durationMs,
      prefix: "g13-",
      make: (i) => ({ method: i % 4 === 2 ? "HEAD" : "GET", path: `/p/${i}` }),
      onTick: () => void (flap ??= wire.flap(upMs, downMs)),
    });
    await flap!.stop();
    const ejectionsMs = b.log.lines
      .filter((l) => l.event === "health" && l.origin === "web01" && typeof l.to === "string" && l.to.startsWith("ejected for "))
      .map((l) => Number(/ejected for (\d+)ms/.exec(l.to as string)![1]));
    const s = b.stats().origins[0];
    return {
      requests: rs.length,
      failedGets: rs.filter((r) => r.status !== 200),
      latency: summary(rs),
      p99: percentile(rs.map((r) => r.ms), 99),
      ejectionsMs,
      flaps: flap!.changes,
      servedByFlapper: rs.filter((r) => r.origin === "web01").length,
      transitions: s.transitions,
    };
  } finally {
    await b.close();
    await wire.close();
    await killOrigins();
  }
}
