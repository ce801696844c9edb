import type { Phase } from "../core/log/httplog.ts";

/**
 * One request's timers and outcome for its log line (core/log/httplog.ts). Only made when request
 * logs are on; the proxy calls one method per step, each a clock read and a few stores.
 * Times are performance.now() values, ms.
 */
export class RequestTrace {
  /** The peer, addr:port. */
  readonly client: string;
  /** Start of Tq: the accept, or the end of the previous response on a keep-alive connection. */
  readonly t0: number;
  /** The request head was received. */
  readonly t1: number;
  /** The client connection (HTTP/1 socket, or the HTTP/2 stream's session socket proxy), kept for the byte count. */
  readonly socket: object;
  pool: string | null = null;
  origin: string | null = null;
  tw = -1;
  tc = -1;
  tr = -1;
  retries = 0;
  redispatched = false;
  /** Set when the exchange ends on anything but a normal end or a client abort (HAProxy's two letters). */
  term: string | null = null;
  phase: Phase = "R";
  /** Start of the current step. */
  private mark = 0;

  constructor(client: string, t0: number, t1: number, socket: object) {
    this.client = client;
    this.socket = socket;
    this.t0 = t0;
    this.t1 = t1;
  }

  /** Every origin is at maxconn: waiting for a slot. */
  queued(now: number): void {
    if (this.tw < 0) this.tw = 0;
    this.phase = "Q";
    this.mark = now;
  }

  /** Out of the queue (with a slot, or not). */
  dequeued(now: number): void {
    this.tw += now - this.mark;
  }

  /** A try starts on `origin`: Tc and Tr are the last try's. */
  connecting(origin: string, retries: number, redispatched: boolean, now: number): void {
    if (this.tw < 0) this.tw = 0;
    this.origin = origin;
    this.retries = retries;
    if (redispatched) this.redispatched = true;
    this.phase = "C";
    this.mark = now;
    this.tc = -1;
    this.tr = -1;
  }

  /** The connection is up and the request is on its way. */
  sent(now: number): void {
    this.tc = now - this.mark;
    this.mark = now;
    this.phase = "H";
  }

  /** The response headers arrived (and go to the client). */
  headers(now: number): void {
    this.tr = now - this.mark;
    this.phase = "D";
  }
}
