# bench/run.sh config "workerd-anchor": the trivial round-robin Worker (workerd-anchor/index.js, a
# verbatim copy of ../shared/anchors/worker/src/index.js) under bare `workerd serve`, as the anchors'
# worker/workerd.capnp. run.sh copies it with index.js into the work dir and replaces @PORT@.
# The outbound network service must allow "local" (loopback) addresses to reach the origins.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:@PORT@", http = (), service = "main") ],
);
const mainWorker :Workerd.Worker = (
  modules = [ (name = "index.js", esModule = embed "index.js") ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "net",
);
