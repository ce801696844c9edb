import { get, type RequestVector } from "./types.ts";

/** Sizes and counts (defaults: client.maxHeaderBytes 16 KiB, 100 header fields). */
export const limits: RequestVector[] = [
  {
    name: "a 20 KiB request-target",
    bytes: get(`/${"a".repeat(20 * 1024)}`),
    expect: { reject: 414 },
    why: "the request line alone is past the head limit: 414 (RFC 9110 §15.5.15)",
  },
  {
    name: "an 8 KiB request-target (under the limit)",
    bytes: get(`/${"a".repeat(8 * 1024)}`),
    expect: { forward: [{ method: "GET", target: `/${"a".repeat(8 * 1024)}` }] },
    why: "long URLs below the head limit pass",
  },
  {
    name: "one 20 KiB header",
    bytes: get("/big", `X-Big: ${"b".repeat(20 * 1024)}`),
    expect: { reject: 431 },
    why: "RFC 6585 §5",
  },
  {
    name: "headers totalling 20 KiB",
    bytes: get("/many", ...Array.from({ length: 80 }, (_, i) => `X-H${i}: ${"c".repeat(250)}`)),
    expect: { reject: 431 },
    why: "the limit is on the whole head",
  },
  {
    name: "150 small headers",
    bytes: get("/count", ...Array.from({ length: 150 }, (_, i) => `X-${i}: 1`)),
    expect: { reject: 431 },
    why: "Node would drop the fields past maxHeadersCount silently; we refuse past 100 (HAProxy: 101)",
  },
  {
    name: "60 small headers (under the limit)",
    bytes: get("/sixty", ...Array.from({ length: 60 }, (_, i) => `X-${i}: 1`)),
    expect: { forward: [{ method: "GET", target: "/sixty", headers: { "x-59": ["1"] } }] },
    why: "every field arrives",
  },
];
