// A process that logs N lines to its stdout through node/log.ts's sink, with stdout made non-blocking
// (a net.Socket on fd 1, as libuv opens a pipe), so a reader that falls behind makes writes fail with
// EAGAIN or write part of a batch. Stays alive 4 s (the batch timer is unref'd), then exits.
import net from "node:net";
import { createLogger } from "../../node/log.ts";

const n = Number(process.argv[2]);
const hold = new net.Socket({ fd: 1, readable: false, writable: true });
const log = createLogger("stdout");
for (let i = 0; i < n; i++) log.info({ event: "line", i, pad: "x".repeat(200) });
setTimeout(() => hold.destroy(), 4000);
