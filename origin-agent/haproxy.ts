import net from "node:net";

/**
 * HAProxy's agent-check (`server ... agent-check agent-port N agent-inter 2s`): HAProxy connects,
 * may send its `agent-send` string, and reads one line such as `ready up 75%`, `drain up 0%` or
 * `ready down 100% #app health: status 503`. The answer is the agent's latest report; the words for
 * health, admin and weight stay separate, as HAProxy reads them (src/tcpcheck.c).
 */
export class HaproxyAgentServer {
  private line = "ready up 100%\n";
  private readonly server: net.Server;

  constructor() {
    this.server = net.createServer((socket) => {
      socket.on("error", () => socket.destroy());
      // whatever HAProxy sends (agent-send) is not needed to answer
      socket.on("data", () => {});
      socket.setTimeout(5000, () => socket.destroy());
      socket.end(this.line);
    });
  }

  /** The line the next connection reads (ends with "\n"). */
  set(line: string): void {
    this.line = line;
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
