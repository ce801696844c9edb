// node bench/first200.mjs PORT PATH [TIMEOUT_MS]: polls http://127.0.0.1:PORT/PATH every 2 ms (a GET on
// a new connection) and prints the wall-clock time of the first 200, in µs since the epoch (bash's
// $EPOCHREALTIME x 1e6), then exits 0; exits 1 after TIMEOUT_MS (default 15 s) without one. The
// cold start of bench/run.sh: started before the proxy is spawned, so its own start is not timed,
// and a poll costs no fork (a curl per poll costs 10-20 ms on a small VM, a whole poll of rounding).
import net from "node:net";

const [port, path, timeoutMs = "15000"] = process.argv.slice(2);
const deadline = performance.now() + Number(timeoutMs);
const probe = () =>
  new Promise((resolve) => {
    const s = net.connect(Number(port), "127.0.0.1");
    let head = "";
    s.setEncoding("latin1");
    s.on("connect", () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    s.on("data", (d) => {
      head += d;
      if (head.includes("\r\n")) {
        resolve(/^HTTP\/1\.[01] 200 /.test(head));
        s.destroy();
      }
    });
    s.on("error", () => resolve(false));
    s.on("close", () => resolve(false));
  });
while (performance.now() < deadline) {
  if (await probe()) {
    process.stdout.write(`${Math.round((performance.timeOrigin + performance.now()) * 1000)}\n`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 2));
}
process.exit(1);
