// A demo origin: answers "origin NAME" on every path. Usage: node demo-origin.ts NAME PORT
import http from "node:http";

const [name = "web01", port = "9101"] = process.argv.slice(2);
http
  .createServer((req, res) => {
    const body = `origin ${name}\n`;
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), "x-origin": name });
    res.end(req.method === "HEAD" ? undefined : body);
  })
  .listen(Number(port), "127.0.0.1", () => process.stdout.write(`ready ${name} ${port}\n`));
