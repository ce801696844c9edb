# bench/run.sh config "workerd-edgelb": edgelb's Worker (the `npm run build:worker` bundle, dist/)
# under bare `workerd serve`. run.sh copies dist's modules into the work dir and replaces
# @PORT@, @MODULES@ (one (name, esModule|wasm|... = embed) per module, the main one first) and
# @STORAGE@ (the Durable Objects' directory, fresh for every run).
# Every feature stays on: health checks by the HealthObject's alarms, passive ejection, retries,
# X-Forwarded-*. EDGELB_CONFIG (edgelb-config.json, written by run.sh) is the bench pool.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "net", network = (allow = ["public", "private", "local"])),
    (name = "do-disk", disk = (path = "@STORAGE@", writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:@PORT@", http = (), service = "main") ],
);
const mainWorker :Workerd.Worker = (
  modules = [ @MODULES@ ],
  # wrangler.toml's compatibility_date
  compatibilityDate = "2026-10-30",
  bindings = [
    (name = "HEALTH", durableObjectNamespace = "HealthObject"),
    (name = "EDGELB_CONFIG", text = embed "edgelb-config.json"),
  ],
  durableObjectNamespaces = [
    (className = "HealthObject", uniqueKey = "edgelb-bench-health", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-disk"),
  globalOutbound = "net",
);
