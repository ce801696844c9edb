#!/usr/bin/env bash
# edgelb benchmark: the self-hosted Node build side by side with HAProxy 2.6, and the Worker build
# under bare workerd side by side with a trivial round-robin Worker; same two origins.
#
#   npm run bench                      # = bash bench/run.sh : RUNS=3 x DUR=10 s per scenario
#   npm run bench -- --quick           # RUNS=1 x DUR=3 s, 1 s warm-up
#   npm run bench -- --only direct,haproxy-ka      # pick configs (default: direct,haproxy-ka,edgelb)
#   npm run bench -- --quick --only workerd-anchor,workerd-edgelb      # the Worker target
#   npm run bench -- --only haproxy-tls,edgelb-tls       # HTTPS termination (issue 9)
#   options: --runs N  --dur S  --warm S  --work DIR (default /tmp/edgelb-bench, env BENCH_WORK)
#   env: WRK=path (default: $PA/wrk-raw when present, PA=/tmp/perfanchor, else wrk on PATH)
#
# Layout (same method as ../shared/anchors/bench.sh, 2 cores):
#   CPU0: wrk (-t1, --latency, --timeout 2s) + ONE nginx worker serving the origins
#         127.0.0.1:9101 (X-Origin: a) and :9102 (X-Origin: b), bodies /100b and /16k
#         (bench/conf/nginx-origin.conf, a copy of the anchors' one)
#   CPU1: the proxy under test on 127.0.0.1:8080
#     direct      wrk straight at :9101 (the ceiling, no proxy)
#     haproxy-ka  haproxy -f bench/conf/haproxy-features.cfg (keep-alive + http-reuse, checks,
#                 retries 3, redispatch, forwardfor: the features edgelb has on by default)
#     edgelb      node bin/edgelb.js serve --config <generated json> (Node 24 of node_modules), request
#                 logs off: haproxy-ka has no `log` line, so neither logs (same work on both sides)
#     edgelb-log  the same with edgelb's default request logs on (one JSON line per request to a
#                 file): its difference to `edgelb` is the cost of the access log
#     haproxy-tls / edgelb-tls  the same two, terminating HTTPS on :8080 with one certificate
#                 (P-256, made by openssl in the work dir); scenarios tls-c64-100b (keep-alive) and
#                 tls-close-c64 (`Connection: close`: a full handshake per request, the handshake rate)
#     undici-stream / http-proxy  the Node reference proxies of ../shared/anchors (copies in
#                 bench/conf/node-proxies/): a node:http server streaming undici's Pool.stream() into
#                 its ServerResponse (undici 8 of this package), and npm http-proxy with a keep-alive
#                 agent (a devDependency); round-robin over the same origins, no health checks, no
#                 retries: the floor of a Node proxy, for "ahead of every Node proxy" (issue 7)
#     workerd-anchor  bare `workerd serve` (node_modules/.bin/workerd) of the trivial round-robin
#                 Worker (bench/conf/workerd-anchor/index.js = ../shared/anchors/worker/src/index.js,
#                 bench/conf/workerd-anchor.capnp): the reference for the Worker build
#     workerd-edgelb  bare `workerd serve` of edgelb's Worker: `npm run build:worker` (wrangler
#                 deploy --dry-run --outdir dist), dist's modules + bench/conf/workerd-edgelb.capnp
#                 (HEALTH Durable Object with SQLite on a local disk in the work dir, EDGELB_CONFIG =
#                 the bench pool, every feature on: alarm checks, passive ejection, retries, X-Forwarded-*).
#                 After each scenario its /__edgelb/stats?format=json gives the Durable Object calls
#                 (onRequestPath, background, flushes, errors) per proxied request over the recorded runs.
# Scenarios: c64-100b, c1-100b, c64-16k; each: warm-up (not recorded), then RUNS runs of DUR s.
# Then c9000-100b for haproxy-ka and edgelb (when listed): 9,000 keep-alive connections (wrk -c9000,
# fd limit raised to 20,000), both with maxconn 256 per origin (HAProxy: global maxconn 8000 as in its
# config; edgelb: maxQueue 10000, and listen.acceptors 1024 in all its plain configs: 1,024 listening
# sockets, else libuv's one accept per event, and its polling of new sockets only once a busy poll
# phase ends, leave thousands of first requests unread for seconds: see README, listen.acceptors); per round a
# fresh start, a warm-up, one run; recorded apart
# (c9000.tsv): req/s, errors (wrk counts a response slower than 2 s as a timeout), connections still
# in the listen queue mid-run (accepted by the kernel, never by the proxy: their requests get no
# answer, which wrk does not count), and VmHWM after the run.
# Runs are interleaved: round 1 runs every config (started afresh, each scenario warmed up, then
# run once), then round 2, ... so that a slow minute of a shared VM (it swings 2x here) falls on
# every config alike instead of on whichever ran then; `--sequential` runs each config's runs back
# to back instead. Peak RSS is the highest of the rounds.
# Per run: req/s, p50/p99 (wrk's, corrected for coordinated omission), raw p50/p99/p99.9 (with the
# anchors' patched wrk-raw only: ../shared/anchors/setup.sh builds it as $PA/wrk-raw; stock wrk has
# none), errors (socket errors + non-2xx/3xx), proxy CPU % and
# CPU µs/request (utime+stime of every process in the proxy's session, from /proc/<pid>/stat);
# after a config's runs: peak RSS (VmHWM summed over its processes). Noise: per core, the busy time
# that is neither the proxy, the origins nor wrk (other processes on a shared machine), flagged by
# summarize.mjs. The workerd-* rows are also compared with workerd-anchor in a second table.
# With both workerd configs selected (not --quick), a last phase runs the two Workers at once and
# alternates 3 s runs, RUNS*5 rounds (bench/ab-workerd.sh; AB_ROUNDS=N to change): the paired
# ratios of that phase are the Worker target's figure (the rows above are tens of seconds apart).
# Output: bench/results/latest.md and latest.json (via bench/summarize.mjs); work files (raw wrk
# output, logs, runs.tsv, do_calls.tsv, the generated capnp configs) in the work dir. Every process is started with setsid and stopped by its
# own process group (trap EXIT); only 127.0.0.1 is ever targeted; every wait is bounded.
set -uo pipefail

# `npm run bench -- overload`: the agent's overload benchmark (bench/overload.ts), nothing else
if [ "${1:-}" = overload ]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/.." && exec node bench/overload.ts
fi

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
WORK="${BENCH_WORK:-/tmp/edgelb-bench}"
RUNS="${RUNS:-3}"; DUR="${DUR:-10}"; WARM="${WARM:-3}"
CONFIGS="direct,haproxy-ka,edgelb"
KNOWN="direct, haproxy-ka, edgelb, edgelb-log, haproxy-tls, edgelb-tls, workerd-anchor, workerd-edgelb, undici-stream, http-proxy"
TLS_SCENARIOS="tls-c64-100b tls-close-c64"
SCENARIOS="c64-100b c1-100b c64-16k"
PORT=8080; LOADCPU=0; PROXYCPU=1; PIN=1
QUICK=0
SEQUENTIAL=0

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; RUNS=1; DUR=3; WARM=1 ;;
    --only) CONFIGS="${2:?--only needs a,b,...}"; shift ;;
    --only=*) CONFIGS="${1#--only=}" ;;
    --runs) RUNS="${2:?}"; shift ;;
    --dur) DUR="${2:?}"; shift ;;
    --warm) WARM="${2:?}"; shift ;;
    --work) WORK="${2:?}"; shift ;;
    --sequential) SEQUENTIAL=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[$(date +%T)] $*" >&2; }

# ---------------------------------------------------------------- tools
need_tools() { local m=""; command -v haproxy >/dev/null || m+=" haproxy"; command -v nginx >/dev/null || m+=" nginx-light"
  command -v wrk >/dev/null || m+=" wrk"; command -v curl >/dev/null || m+=" curl"; command -v taskset >/dev/null || m+=" util-linux"
  command -v ps >/dev/null || m+=" procps"; echo "$m"; }
MISSING=$(need_tools)
if [ -n "$MISSING" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing missing Debian packages:$MISSING"
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $MISSING >&2
    MISSING=$(need_tools)
  fi
  if [ -n "$MISSING" ]; then
    echo "bench: missing tools:$MISSING. Install them (Debian: apt-get install haproxy nginx-light wrk curl) and rerun." >&2
    exit 1
  fi
fi
NODE="$ROOT/node_modules/.bin/node"
WORKERD="$ROOT/node_modules/.bin/workerd"   # the native binary (the workerd package's install script puts it there)
PA="${PA:-/tmp/perfanchor}"
WRK="${WRK:-$([ -x "$PA/wrk-raw" ] && echo "$PA/wrk-raw" || command -v wrk)}"
export WRK_RAW_LATENCY=1   # makes wrk-raw print raw (uncorrected) percentiles; stock wrk ignores it
[ -x "$NODE" ] || { log "no $NODE (run npm install): using $(command -v node) for the summary; edgelb will fail"; NODE="$(command -v node || true)"; }
if [ "$(nproc)" -lt 2 ]; then log "fewer than 2 CPUs: running UNPINNED"; PIN=0; fi
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- work dir
rm -rf "$WORK/run" "$WORK/raw" "$WORK/www" "$WORK/worker-ab" "$WORK/worker-ab.log" "$WORK/node-ab" "$WORK/node-ab.log"
mkdir -p "$WORK/run/origin" "$WORK/raw" "$WORK/www" "$BENCH/results"
head -c 100 /dev/zero | tr '\0' 'x' > "$WORK/www/100b"
head -c 16384 /dev/zero | tr '\0' 'y' > "$WORK/www/16k"
RUNS_TSV="$WORK/runs.tsv"; RSS_TSV="$WORK/rss.tsv"; FAIL_TSV="$WORK/failed.tsv"; META="$WORK/meta.tsv"
DO_TSV="$WORK/do_calls.tsv"; COLD_TSV="$WORK/coldstart.tsv"
printf 'config\trun\tms\n' > "$COLD_TSV"
printf 'config\tscenario\trun\trps\trequests\tp50_ms\tp99_ms\terrors\traw_p50_ms\traw_p99_ms\traw_p999_ms\twall_ms\tproxy_cpu_pct\tproxy_cpu_us_per_req\tcpu0_other_pct\tcpu1_other_pct\n' > "$RUNS_TSV"
printf 'config\tround\tpid\tcomm\tVmHWM_kB\n' > "$RSS_TSV"
printf 'config\treason\n' > "$FAIL_TSV"
printf 'config\tscenario\twrk_requests\tpool_requests\tonRequestPath\tbackground\tflushes\terrors\tchecked_origins\tnote\n' > "$DO_TSV"

# ---------------------------------------------------------------- processes
start_bg() { # start_bg LOGFILE CPU CMD... -> LAST_PID = session id = process group id, SPAWN_AT = when (bash's clock, s.µs)
  local logf=$1 cpu=$2; shift 2
  SPAWN_AT=$EPOCHREALTIME
  if [ "$PIN" = 1 ]; then setsid taskset -c "$cpu" "$@" >"$logf" 2>&1 </dev/null &
  else setsid "$@" >"$logf" 2>&1 </dev/null & fi
  LAST_PID=$!
}
session_pids() { [ -n "${1:-}" ] && ps -eo pid=,sid= | awk -v s="$1" '$2==s{print $1}'; }
stop_session() { # TERM the process group we created, wait up to 5 s, then KILL what is left of it
  local sid=${1:-}; [ -z "$sid" ] && return 0
  kill -TERM -- "-$sid" 2>/dev/null
  local i; for i in $(seq 1 50); do [ -z "$(session_pids "$sid")" ] && break; sleep 0.1; done
  local left; left=$(session_pids "$sid")
  if [ -n "$left" ]; then log "SIGKILL leftovers of session $sid: $(echo $left)"; kill -KILL -- "-$sid" 2>/dev/null; kill -KILL $left 2>/dev/null; fi
  wait "$sid" 2>/dev/null
  return 0
}
cpustat() { awk '/^cpu[01] /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; printf "%s %s ", b, t}' /proc/stat; }   # busy total (cpu0) busy total (cpu1), jiffies
cpu_ticks() { # utime+stime (clock ticks, all threads) summed over the processes of session $1
  local t=0 p v
  for p in $(session_pids "$1"); do
    v=$(awk '{sub(/^.*\) /,""); print $12+$13}' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${v:-0}))
  done; echo "$t"
}
SCHEME=http   # https while a TLS config runs (curl -k: the bench's own self-signed certificate)
http_code() { curl -sk -o /dev/null -m 2 -w '%{http_code}' "$SCHEME://127.0.0.1:$1$2" 2>/dev/null; }
wait_ready() { # wait_ready PORT PATH TIMEOUT_S [SID: give up as soon as that session is gone]
  local end=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    [ -n "${4:-}" ] && [ -z "$(session_pids "$4")" ] && return 1
    [ "$(http_code "$1" "$2")" = 200 ] && return 0
    sleep 0.05
  done; return 1
}
port_busy() { curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/" 2>/dev/null; [ $? -ne 7 ]; }  # 7 = connection refused
sanity() { # 4 requests: which origin answered, body sizes
  local s="" i
  for i in 1 2 3 4; do s+="$(curl -sk -D - -o /dev/null -m 2 "$SCHEME://127.0.0.1:$1/100b" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-origin"{printf "%s", $2}')"; done
  echo "origins=$s size100b=$(curl -sk -m 2 "$SCHEME://127.0.0.1:$1/100b" | wc -c) size16k=$(curl -sk -m 2 "$SCHEME://127.0.0.1:$1/16k" | wc -c)"
}

ORIGIN_PID=""; PROXY_PID=""; SC_REQS=0
cleanup() { stop_session "$PROXY_PID"; PROXY_PID=""; stop_session "$ORIGIN_PID"; ORIGIN_PID=""; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start_origins() {
  local p; for p in 9101 9102; do
    if port_busy $p; then log "port $p is already in use: stop whatever listens there first"; exit 1; fi
  done
  sed "s#@PA@#$WORK#g" "$BENCH/conf/nginx-origin.conf" > "$WORK/run/origin/nginx.conf"
  start_bg "$WORK/run/origin.log" $LOADCPU nginx -p "$WORK/run/origin" -c "$WORK/run/origin/nginx.conf"; ORIGIN_PID=$LAST_PID
  if ! { wait_ready 9101 /100b 10 "$ORIGIN_PID" && wait_ready 9102 /100b 10 "$ORIGIN_PID"; }; then
    log "origins failed to start"; cat "$WORK/run/origin.log" "$WORK/run/origin/error.log" >&2 2>/dev/null; exit 1
  fi
  log "origins up: nginx session $ORIGIN_PID on CPU$LOADCPU, $(sanity 9101)"
}

# the environment deploy/edgelb.service runs edgelb with: Node's flags and glibc's malloc settings
EDGELB_ENV=()
for k in NODE_OPTIONS GLIBC_TUNABLES; do
  v=$(sed -n "s/^Environment=$k=//p" "$ROOT/deploy/edgelb.service"); [ -n "$v" ] && EDGELB_ENV+=("$k=$v")
done
EDGELB_CFG="$WORK/run/edgelb.json"
cat > "$EDGELB_CFG" <<'EOF'
{"listen":{"host":"127.0.0.1","port":8080,"acceptors":1024},"log":{"requests":false},"pools":{"bench":{"maxQueue":10000,"origins":[{"name":"a","url":"http://127.0.0.1:9101","maxconn":256},{"name":"b","url":"http://127.0.0.1:9102","maxconn":256}],"check":{"path":"/100b"}}}}
EOF
EDGELB_LOG_CFG="$WORK/run/edgelb-log.json"
cat > "$EDGELB_LOG_CFG" <<EOF
{"listen":{"host":"127.0.0.1","port":8080,"acceptors":1024},"log":{"requests":true,"to":"$WORK/run/edgelb-requests.log"},"pools":{"bench":{"maxQueue":10000,"origins":[{"name":"a","url":"http://127.0.0.1:9101","maxconn":256},{"name":"b","url":"http://127.0.0.1:9102","maxconn":256}],"check":{"path":"/100b"}}}}
EOF

# ---------------------------------------------------------------- HTTPS (haproxy-tls, edgelb-tls)
TLS_DIR="$WORK/run/tls"
make_tls() { # one self-signed P-256 certificate for both proxies; HAProxy wants cert + key in one file
  mkdir -p "$TLS_DIR"
  # request logs off on both sides, as for haproxy-ka / edgelb
  printf '%s\n' "{\"listen\":{\"host\":\"127.0.0.1\",\"port\":8080,\"tls\":{\"certificates\":[{\"cert\":\"$TLS_DIR/cert.pem\",\"key\":\"$TLS_DIR/key.pem\"}]}},\"pools\":{\"bench\":{\"maxQueue\":10000,\"origins\":[{\"name\":\"a\",\"url\":\"http://127.0.0.1:9101\",\"maxconn\":256},{\"name\":\"b\",\"url\":\"http://127.0.0.1:9102\",\"maxconn\":256}],\"check\":{\"path\":\"/100b\"}}},\"log\":{\"requests\":false}}" > "$TLS_DIR/edgelb.json"
  [ -f "$TLS_DIR/combined.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" \
    -days 2 -subj "/CN=bench.test" -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" 2>/dev/null || return 1
  cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" > "$TLS_DIR/combined.pem"
  sed "s#^  bind 127.0.0.1:8080\$#  bind 127.0.0.1:8080 ssl crt $TLS_DIR/combined.pem alpn h2,http/1.1#" "$BENCH/conf/haproxy-features.cfg" > "$TLS_DIR/haproxy.cfg"
  grep -q ' ssl crt ' "$TLS_DIR/haproxy.cfg" || return 1
}

# ---------------------------------------------------------------- the Worker configs (bare workerd)
EDGE_BUILD=""   # "" = not built yet, ok, or the failure reason
build_worker() { # npm run build:worker -> dist/ (once per bench run)
  [ -n "$EDGE_BUILD" ] && return 0
  log "building the Worker: npm run build:worker (wrangler deploy --dry-run --outdir dist)"
  if (cd "$ROOT" && WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false timeout -k 5 300 npm run -s build:worker) >"$WORK/run/build-worker.log" 2>&1 \
     && [ -f "$ROOT/dist/index.js" ]; then
    EDGE_BUILD=ok; log "built dist/: $(cd "$ROOT/dist" && ls | tr '\n' ' ')"
  else
    EDGE_BUILD="npm run build:worker failed: $(tail -5 "$WORK/run/build-worker.log" | cut -c1-300 | tr '\n' ' ')"
  fi
}
module_kind() { # the workerd Module field for a file wrangler wrote ("" = not a module)
  case $1 in
    *.map|README.md|*/README.md) echo "" ;;
    *.js|*.mjs) echo esModule ;;
    *.cjs) echo commonJsModule ;;
    *.wasm) echo wasm ;;
    *.json) echo json ;;
    *.txt|*.html|*.sql) echo text ;;
    *.bin) echo data ;;
    *) echo "?" ;;
  esac
}
prepare_workerd_edgelb() { # dist/ -> $WORK/run/workerd-edgelb/{modules copied, edgelb-config.json, workerd.capnp}
  local d="$WORK/run/workerd-edgelb" f k mods=""
  build_worker; [ "$EDGE_BUILD" = ok ] || { FAIL_REASON=$EDGE_BUILD; return 1; }
  rm -rf "$d"; mkdir -p "$d/do-storage"
  # index.js (wrangler's main module) first: workerd takes the first module as the main one
  for f in index.js $(cd "$ROOT/dist" && find . -type f ! -path ./index.js | sed 's#^\./##' | sort); do
    k=$(module_kind "$f")
    [ -z "$k" ] && continue
    [ "$k" = "?" ] && { FAIL_REASON="dist/$f: unknown module type (extend module_kind in bench/run.sh)"; return 1; }
    mkdir -p "$d/$(dirname "$f")"; cp "$ROOT/dist/$f" "$d/$f"
    mods+="${mods:+, }(name = \"$f\", $k = embed \"$f\")"
  done
  cat > "$d/edgelb-config.json" <<'JSON'
{"listen":{"port":0},"pools":{"bench":{"origins":[{"name":"a","url":"http://127.0.0.1:9101"},{"name":"b","url":"http://127.0.0.1:9102"}],"check":{"path":"/100b"}}}}
JSON
  local esc_mods; esc_mods=$(printf '%s' "$mods" | sed 's/[&#\\]/\\&/g')
  sed -e "s#@PORT@#$PORT#g" -e "s#@STORAGE@#$d/do-storage#g" -e "s#@MODULES@#$esc_mods#" "$BENCH/conf/workerd-edgelb.capnp" > "$d/workerd.capnp"
  log "workerd-edgelb modules: $mods"
}
EDGE_STATS_URL=""
edge_calls() { # -> "startedAt requests onRequestPath background flushes errors checkedOrigins" summed over pools, or "-"
  curl -s -m 3 -H 'cf-connecting-ip: 127.0.0.1' "$EDGE_STATS_URL" 2>/dev/null | "$NODE" -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try {
        const j = JSON.parse(s), r = [j.startedAt, 0, 0, 0, 0, 0, 0];
        for (const p of j.pools) {
          const c = p.durableObjectCalls;
          r[1] += p.requests; r[2] += c.onRequestPath; r[3] += c.background; r[4] += c.flushes; r[5] += c.errors;
          r[6] += p.origins.filter((o) => o.lastCheck != null).length;
        }
        console.log(r.join(" "));
      } catch { console.log("-"); }
    });' 2>/dev/null || echo -
}
record_calls() { # record_calls CONFIG SCENARIO BEFORE AFTER WRK_REQUESTS  (BEFORE "" = since the isolate started)
  local cfg=$1 sc=$2 a=$3 b=$4 n=$5 row
  if [ "$b" = - ] || [ "$a" = - ]; then
    printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t%s\n' "$cfg" "$sc" "$n" "stats unavailable" >> "$DO_TSV"
    log "  $cfg $sc: /__edgelb/stats?format=json unavailable"; return 0
  fi
  [ -z "$a" ] && a="${b%% *} 0 0 0 0 0 0"
  row=$(echo "$a $b" | awk -v n="$n" '{ note = ($1 != $8) ? "isolate restarted during the runs" : "-"
    printf "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s", n, $9-$2, $10-$3, $11-$4, $12-$5, $13-$6, $14, note }')
  printf '%s\t%s\t%s\n' "$cfg" "$sc" "$row" >> "$DO_TSV"
  log "  $cfg $sc: Durable Object calls $(echo "$row" | awk -F'\t' '{ d = ($2 > 0) ? $2 : 1
    printf "over %d proxied requests (wrk counted %s): onRequestPath %d (%.6f/req), background %d (%.6f/req), flushes %d (%.6f/req), errors %d; origins with a check result: %d%s",
      $2, $1, $3, $3/d, $4, $4/d, $5, $5/d, $6, $7, ($8 == "-") ? "" : "; " $8 }')"
}

TARGET_PORT=$PORT; READY_TIMEOUT=10
start_proxy() { # start_proxy CONFIG -> PROXY_PID (empty for direct), TARGET_PORT; non-zero + FAIL_REASON on failure
  local cfg=$1
  PROXY_PID=""; TARGET_PORT=$PORT; FAIL_REASON=""; EDGE_STATS_URL=""; SCHEME=http
  [ "$cfg" = direct ] && { TARGET_PORT=9101; return 0; }
  if port_busy $PORT; then FAIL_REASON="port $PORT already in use by another process"; return 1; fi
  case $cfg in
    haproxy-ka)
      start_bg "$WORK/run/$cfg.log" $PROXYCPU haproxy -db -f "$BENCH/conf/haproxy-features.cfg" ;;
    haproxy-tls)
      make_tls || { FAIL_REASON="openssl could not make the bench certificate"; return 1; }
      SCHEME=https; start_bg "$WORK/run/$cfg.log" $PROXYCPU haproxy -db -f "$TLS_DIR/haproxy.cfg" ;;
    edgelb-tls)
      make_tls || { FAIL_REASON="openssl could not make the bench certificate"; return 1; }
      pushd "$ROOT" >/dev/null
      SCHEME=https; start_bg "$WORK/run/$cfg.log" $PROXYCPU env "${EDGELB_ENV[@]}" "$NODE" bin/edgelb.js serve --config "$TLS_DIR/edgelb.json"
      popd >/dev/null ;;
    edgelb|edgelb-log)
      [ -f "$ROOT/bin/edgelb.js" ] || { FAIL_REASON="bin/edgelb.js not found"; return 1; }
      [ -x "$NODE" ] || { FAIL_REASON="no node binary"; return 1; }
      pushd "$ROOT" >/dev/null
      local c="$EDGELB_CFG"; [ "$cfg" = edgelb-log ] && c="$EDGELB_LOG_CFG"
      start_bg "$WORK/run/$cfg.log" $PROXYCPU env "${EDGELB_ENV[@]}" "$NODE" bin/edgelb.js serve --config "$c"
      popd >/dev/null ;;
    undici-stream|http-proxy)
      # the anchors' Node reference proxies (bench/conf/node-proxies/, copies of ../shared/anchors/proxies/):
      # undici's Pool.stream() into node:http's ServerResponse, and npm http-proxy with a keep-alive agent
      [ -x "$NODE" ] || { FAIL_REASON="no node binary"; return 1; }
      local js=undici-proxy.mjs mode=stream; [ "$cfg" = http-proxy ] && { js=http-proxy.mjs; mode=""; }
      start_bg "$WORK/run/$cfg.log" $PROXYCPU "$NODE" "$BENCH/conf/node-proxies/$js" "$PORT" $mode ;;
    workerd-anchor)
      [ -x "$WORKERD" ] || { FAIL_REASON="no $WORKERD (run npm install)"; return 1; }
      local d="$WORK/run/workerd-anchor"; rm -rf "$d"; mkdir -p "$d"
      cp "$BENCH/conf/workerd-anchor/index.js" "$d/index.js"
      sed "s#@PORT@#$PORT#g" "$BENCH/conf/workerd-anchor.capnp" > "$d/workerd.capnp"
      start_bg "$WORK/run/$cfg.log" $PROXYCPU "$WORKERD" serve "$d/workerd.capnp" ;;
    workerd-edgelb)
      [ -x "$WORKERD" ] || { FAIL_REASON="no $WORKERD (run npm install)"; return 1; }
      [ -x "$NODE" ] || { FAIL_REASON="no node binary (needed to read the stats)"; return 1; }
      prepare_workerd_edgelb || return 1
      EDGE_STATS_URL="http://127.0.0.1:$PORT/__edgelb/stats?format=json"
      start_bg "$WORK/run/$cfg.log" $PROXYCPU "$WORKERD" serve "$WORK/run/workerd-edgelb/workerd.capnp" ;;
    *) FAIL_REASON="unknown config (known: $KNOWN)"; return 1 ;;
  esac
  PROXY_PID=$LAST_PID
}

# ---------------------------------------------------------------- load
parse_wrk() { # -> rps requests p50_ms p99_ms errors raw_p50_ms raw_p99_ms raw_p999_ms (tab separated; raw "-" without wrk-raw)
  awk 'function ms(v){ if (v ~ /us$/){sub(/us$/,"",v); return v/1000} if (v ~ /ms$/){sub(/ms$/,"",v); return v+0}
                       if (v ~ /m$/){sub(/m$/,"",v); return v*60000} if (v ~ /s$/){sub(/s$/,"",v); return v*1000} return v }
       function o(v){ return (v=="") ? "-" : sprintf("%.3f", v) }
       BEGIN{rps="";n=0;p50="";p99="";err=0;r50="";r99="";r999=""}
       /^ +50%/{p50=ms($2)} /^ +99%/{p99=ms($2)} /Requests\/sec:/{rps=$2} / requests in /{n=$1}
       /^ +RAW +50.0%/{r50=ms($3)} /^ +RAW +99.0%/{r99=ms($3)} /^ +RAW +99.9%/{r999=ms($3)}
       /Socket errors:/{gsub(",",""); err+=$4+$6+$8+$10} /Non-2xx/{err+=$NF}
       END{ if (rps=="") exit 1; printf "%s\t%d\t%.3f\t%.3f\t%d\t%s\t%s\t%s", rps, n, p50, p99, err, o(r50), o(r99), o(r999) }' "$1"
}
wrk_run() { # wrk_run CONFIG SCENARIO RUN PATH CONNS SECONDS [record=1]
  local cfg=$1 sc=$2 run=$3 path=$4 c=$5 d=$6 rec=${7:-1} hdr=()
  [ "$sc" = tls-close-c64 ] && hdr=(-H 'Connection: close')
  local raw="$WORK/raw/${cfg}_${sc}_${run}.txt" p0 p1 o0 o1 s0 s1 t0 t1 pin=() wt TIMEFORMAT='%U %S'
  [ "$PIN" = 1 ] && pin=(taskset -c $LOADCPU)
  s0=$(cpustat); o0=$(cpu_ticks "$ORIGIN_PID"); p0=$(cpu_ticks "$PROXY_PID"); t0=$(date +%s%N)
  # bash's `time` gives wrk's own user+sys (children's rusage) for the noise figure below
  wt=$( { time timeout --foreground -k 5 $((d + 20)) "${pin[@]}" "$WRK" -t1 -c"$c" -d"${d}s" --timeout 2s --latency "${hdr[@]}" "$SCHEME://127.0.0.1:$TARGET_PORT$path" >"$raw" 2>&1; } 2>&1 )
  t1=$(date +%s%N); p1=$(cpu_ticks "$PROXY_PID"); o1=$(cpu_ticks "$ORIGIN_PID"); s1=$(cpustat)
  [ "$rec" = 1 ] || return 0
  local row; if ! row=$(parse_wrk "$raw"); then log "  $cfg $sc #$run: wrk gave no result: $(tail -3 "$raw" | tr '\n' ' ')"; return 1; fi
  SC_REQS=$((SC_REQS + $(echo "$row" | cut -f2)))
  local wall_us=$(( (t1 - t0) / 1000 )) pc="-" us="-"
  if [ -n "$PROXY_PID" ]; then
    pc=$(awk -v a="$p0" -v b="$p1" -v w="$wall_us" -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", (b-a)*1e6/hz*100/w}')
    us=$(echo "$row" | awk -F'\t' -v a="$p0" -v b="$p1" -v hz="$CLK_TCK" '{printf "%.2f", ($2>0) ? (b-a)*1e6/hz/$2 : 0}')
  fi
  # noise: CPU time on the two cores that is neither the proxy nor the origins nor wrk (other
  # processes on the machine); pinned runs only, in % of one core over the run
  local noise="-	-"
  if [ "$PIN" = 1 ]; then
    noise=$(echo "$s0 $s1" | awk -v p="${pc/-/0}" -v oa="$o0" -v ob="$o1" -v hz="$CLK_TCK" -v w="$wall_us" -v wt="${wt:-0 0}" '{
      d0 = $6 - $2; d1 = $8 - $4; if (d0 <= 0) d0 = 1; if (d1 <= 0) d1 = 1
      split(wt, u, " "); wrk = (u[1] + u[2]) * 1e8 / w; org = (ob - oa) * 1e8 / hz / w
      n0 = 100 * ($5 - $1) / d0 - wrk - org; n1 = 100 * ($7 - $3) / d1 - p
      printf "%.1f\t%.1f", (n0 < 0 ? 0 : n0), (n1 < 0 ? 0 : n1) }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$sc" "$run" "$row" "$((wall_us / 1000))" "$pc" "$us" "$noise" >> "$RUNS_TSV"
  log "  $cfg $sc #$run: $(echo "$row" | awk -F'\t' '{printf "%s req/s, p50 %s ms, p99 %s ms, raw p50/p99/p99.9 %s/%s/%s ms, errors %s", $1, $3, $4, $6, $7, $8, $5}'), proxy CPU ${pc}% = ${us} µs/req, other load CPU0/CPU1 ${noise/	//}%"
}
fail_config() { # fail_config CONFIG REASON
  log "$1: FAILED: $2"
  printf '%s\t%s\n' "$1" "$(echo "$2" | tr '\t\n' '  ')" >> "$FAIL_TSV"
}
run_config() { # run_config CONFIG [ROUND]: every run of each scenario, or (interleaved) run ROUND only
  local cfg=$1 round=${2:-} sc path c r runs
  if ! start_proxy "$cfg"; then fail_config "$cfg" "$FAIL_REASON"; PROXY_PID=""; return 1; fi
  if ! wait_ready "$TARGET_PORT" /100b "$READY_TIMEOUT" "$PROXY_PID"; then
    local why="no 200 on :$TARGET_PORT/100b within ${READY_TIMEOUT}s"
    [ -n "$PROXY_PID" ] && [ -z "$(session_pids "$PROXY_PID")" ] && why="exited before serving"
    fail_config "$cfg" "$why; log: $(tail -5 "$WORK/run/$cfg.log" 2>/dev/null | cut -c1-300)"
    tail -20 "$WORK/run/$cfg.log" >&2 2>/dev/null
    stop_session "$PROXY_PID"; PROXY_PID=""; return 1
  fi
  log "$cfg ready on :$TARGET_PORT session=${PROXY_PID:--} procs=[$(session_pids "$PROXY_PID" | tr '\n' ' ')] $(sanity "$TARGET_PORT")"
  local scs=$SCENARIOS; [ "$SCHEME" = https ] && scs=$TLS_SCENARIOS
  for sc in $scs; do
    case $sc in c64-100b|tls-c64-100b|tls-close-c64) path=/100b c=64 ;; c1-100b) path=/100b c=1 ;; c64-16k) path=/16k c=64 ;; esac
    wrk_run "$cfg" "$sc" warm "$path" "$c" "$WARM" 0
    local before=""; [ -n "$EDGE_STATS_URL" ] && before=$(edge_calls)
    SC_REQS=0
    runs=$(seq 1 "$RUNS"); [ -n "$round" ] && runs=$round
    for r in $runs; do wrk_run "$cfg" "$sc" "$r" "$path" "$c" "$DUR"; done
    [ -n "$EDGE_STATS_URL" ] && record_calls "$cfg" "$sc" "$before" "$(edge_calls)" "$SC_REQS"
    if [ -n "$PROXY_PID" ] && [ -z "$(session_pids "$PROXY_PID")" ]; then
      fail_config "$cfg" "proxy died during $sc; log: $(tail -5 "$WORK/run/$cfg.log" 2>/dev/null | cut -c1-300)"; PROXY_PID=""; return 1
    fi
  done
  # since the isolate started: includes the cold start, the readiness probes and the warm-ups
  [ -n "$EDGE_STATS_URL" ] && [ "${round:-1}" = 1 ] && record_calls "$cfg" "since-start" "" "$(edge_calls)" "-"
  if [ -n "$PROXY_PID" ]; then
    local p; for p in $(session_pids "$PROXY_PID"); do
      printf '%s\t%s\t%s\t%s\t%s\n' "$cfg" "${round:-1}" "$p" "$(cat /proc/$p/comm 2>/dev/null)" "$(awk '/^VmHWM/{print $2}' /proc/$p/status 2>/dev/null)" >> "$RSS_TSV"
    done
    stop_session "$PROXY_PID"; PROXY_PID=""
  fi
}

# cold start: spawn -> first 200 through the proxy (as ../shared/anchors/coldstart.sh: one start
# discarded to fill the page cache, then COLD_N). The anchors' loop forks a curl and a ps per poll:
# 40-60 ms per poll on this VM, which rounded a start up by a whole poll or two (HAProxy measured
# 156-177 ms that way, about 60 ms by a poller that forks nothing). Here bench/first200.mjs, started
# (on the load CPU) before the proxy is spawned, polls every 2 ms and prints when the first 200 came;
# the clock starts at bash's $EPOCHREALTIME right before the spawn (start_bg), so the spawn is timed.
COLD_N="${COLD_N:-5}"
cold_start() { # cold_start CONFIG -> rows in coldstart.tsv
  local cfg=$1 r poller t1 pin=()
  [ "$PIN" = 1 ] && pin=(taskset -c "$LOADCPU")
  for r in $(seq 0 "$COLD_N"); do
    "${pin[@]}" "$NODE" "$BENCH/first200.mjs" "$PORT" /100b 15000 > "$WORK/first200.out" 2>/dev/null & poller=$!
    sleep 0.5   # the poller is up (its own start is not timed)
    start_proxy "$cfg" || { kill "$poller" 2>/dev/null; fail_config "$cfg" "cold start: $FAIL_REASON"; return 1; }
    wait "$poller"; t1=$(cat "$WORK/first200.out" 2>/dev/null)
    stop_session "$PROXY_PID"; PROXY_PID=""; sleep 0.3
    [ -n "$t1" ] || { log "  $cfg cold start #$r: no 200 within 15 s"; continue; }
    [ "$r" = 0 ] && continue
    printf '%s\t%s\t%s\n' "$cfg" "$r" "$(awk -v a="$SPAWN_AT" -v b="$t1" 'BEGIN{printf "%d", (b / 1e6 - a) * 1000}')" >> "$COLD_TSV"
  done
  log "  $cfg cold start (spawn -> first 200), ms: $(awk -F'\t' -v c="$cfg" '$1==c{printf "%s ", $3}' "$COLD_TSV")"
}

# ---------------------------------------------------------------- main
{
  printf 'key\tvalue\n'
  printf 'date\t%s\n' "$(date -u +%FT%TZ)"
  printf 'git\t%s\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')$(git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || echo ' +uncommitted changes')"
  printf 'cpu\t%s\n' "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo) x $(nproc)"
  printf 'kernel\t%s\n' "$(uname -r)"
  printf 'pinned\t%s\n' "$([ "$PIN" = 1 ] && echo "wrk + origins on CPU$LOADCPU, proxy on CPU$PROXYCPU" || echo no)"
  printf 'runs\t%s\n' "$RUNS"; printf 'dur_s\t%s\n' "$DUR"; printf 'warm_s\t%s\n' "$WARM"; printf 'quick\t%s\n' "$QUICK"
  printf 'haproxy\t%s\n' "$(haproxy -v 2>/dev/null | head -1)"
  printf 'nginx\t%s\n' "$(nginx -v 2>&1 | head -1)"
  printf 'wrk\t%s\n' "$("$WRK" -v 2>&1 | head -1)"
  printf 'wrk_path\t%s\n' "$WRK"
  printf 'raw_latency\t%s\n' "$("$WRK" -v 2>&1 | head -1 | grep -q perfanchor-raw && echo 1 || echo 0)"
  printf 'workerd\t%s\n' "$("$WORKERD" --version 2>/dev/null || echo -)"
  printf 'node\t%s\n' "$("$NODE" -v 2>/dev/null || echo -)"
} > "$META"
log "configs=$CONFIGS RUNS=$RUNS DUR=${DUR}s WARM=${WARM}s work=$WORK wrk=$WRK"
case ",$CONFIGS," in *,workerd-edgelb,*) build_worker ;; esac   # before the origins start: nothing else is running
start_origins
IFS=',' read -r -a CFG_LIST <<< "$CONFIGS"
if [ "$SEQUENTIAL" = 1 ]; then
  for cfg in "${CFG_LIST[@]}"; do [ -n "$cfg" ] && run_config "$cfg"; done
else
  for r in $(seq 1 "$RUNS"); do
    log "round $r of $RUNS"
    for cfg in "${CFG_LIST[@]}"; do
      [ -n "$cfg" ] || continue
      # a config that failed once is not tried again
      cut -f1 "$FAIL_TSV" | grep -qx -- "$cfg" && continue
      run_config "$cfg" "$r"
    done
  done
fi
# The Worker pair (issue 4's figure), after the rounds: both Workers up at once, pinned together,
# alternating 3 s runs (bench/ab-workerd.sh), so that the VM's swings from one minute to the next
# fall on both alike; the rows above start each Worker fresh per round, tens of seconds apart
AB_ROUNDS="${AB_ROUNDS:-$((RUNS * 5))}"
if [ "$QUICK" = 0 ] && [ "$EDGE_BUILD" = ok ] && [[ ",$CONFIGS," == *,workerd-anchor,* ]] && [[ ",$CONFIGS," == *,workerd-edgelb,* ]] \
   && ! cut -f1 "$FAIL_TSV" | grep -qxE 'workerd-(anchor|edgelb)'; then
  log "Worker pair: $AB_ROUNDS interleaved rounds of 3 s at c64 (bench/ab-workerd.sh)"
  AB_WORK="$WORK/worker-ab" PA="$PA" bash "$BENCH/ab-workerd.sh" "$AB_ROUNDS" 3 64 /100b anchor "$ROOT/dist" > "$WORK/worker-ab.log" 2>&1 \
    || log "Worker pair failed: $(tail -3 "$WORK/worker-ab.log" | tr '\n' ' ')"
  grep PAIRED "$WORK/worker-ab.log" | while read -r l; do log "  $l"; done
fi
# The Node pair (issue 7's CPU per request), after the rounds: HAProxy and edgelb up at once on the
# proxy's CPU, taking turns of 1 s at c64 100 B (bench/ab-node.sh), per-turn ratios; the rows above
# are one run per config per round, a VM minute apart, and a slow minute that falls on one of them
# moves the ratio of medians by tens of percent. NODE_AB_ROUNDS=N to change (default RUNS*10).
NODE_AB_ROUNDS="${NODE_AB_ROUNDS:-$((RUNS * 10))}"
if [ "$QUICK" = 0 ] && [ "$NODE_AB_ROUNDS" -gt 0 ] && [[ ",$CONFIGS," == *,haproxy-ka,* ]] && [[ ",$CONFIGS," == *,edgelb,* ]] \
   && ! cut -f1 "$FAIL_TSV" | grep -qxE 'haproxy-ka|edgelb'; then
  log "Node pair: $NODE_AB_ROUNDS interleaved rounds of 1 s at c64 (bench/ab-node.sh)"
  AB_WORK="$WORK/node-ab" PA="$PA" bash "$BENCH/ab-node.sh" "$NODE_AB_ROUNDS" 1 64 /100b > "$WORK/node-ab.log" 2>&1 \
    || log "Node pair failed: $(tail -3 "$WORK/node-ab.log" | tr '\n' ' ')"
  grep PAIRED "$WORK/node-ab.log" | while read -r l; do log "  $l"; done
fi
# 9,000 concurrent keep-alive connections (issue 7): haproxy-ka and edgelb only
C9K=9000; C9K_TSV="$WORK/c9000.tsv"
printf 'config\tround\tunaccepted\tVmHWM_kB\n' > "$C9K_TSV"
c9000_round() { # c9000_round CONFIG ROUND
  local cfg=$1 r=$2 p rss=0 q
  if ! start_proxy "$cfg" || ! wait_ready "$TARGET_PORT" /100b "$READY_TIMEOUT" "$PROXY_PID"; then
    fail_config "$cfg" "c9000: did not start: ${FAIL_REASON:-no 200}"; stop_session "$PROXY_PID"; PROXY_PID=""; return 1
  fi
  wrk_run "$cfg" c9000-100b warm /100b $C9K "$WARM" 0
  sleep 1
  # the listen queue mid-run: connections the kernel accepted and the proxy did not (yet)
  ( sleep $(( (DUR + 1) / 2 )); ss -Hlnt "sport = :$TARGET_PORT" | awk '{q += $2} END {print q + 0}' > "$WORK/run/c9000-backlog" ) &
  local sampler=$!
  wrk_run "$cfg" c9000-100b "$r" /100b $C9K "$DUR"
  wait "$sampler" 2>/dev/null
  q=$(cat "$WORK/run/c9000-backlog" 2>/dev/null); q=${q:--}
  for p in $(session_pids "$PROXY_PID"); do rss=$((rss + $(awk '/^VmHWM/{print $2}' /proc/$p/status 2>/dev/null || echo 0))); done
  printf '%s\t%s\t%s\t%s\n' "$cfg" "$r" "$q" "$rss" >> "$C9K_TSV"
  log "  $cfg c9000 #$r: listen queue mid-run $q, VmHWM $((rss / 1024)) MiB"
  stop_session "$PROXY_PID"; PROXY_PID=""
}
C9K_CFGS=()
for cfg in "${CFG_LIST[@]}"; do
  case $cfg in haproxy-ka|edgelb) cut -f1 "$FAIL_TSV" | grep -qx -- "$cfg" || C9K_CFGS+=("$cfg") ;; esac
done
if [ ${#C9K_CFGS[@]} -gt 0 ]; then
  if ulimit -n 20000 2>/dev/null; then
    for r in $(seq 1 "$RUNS"); do
      log "c9000 round $r of $RUNS"
      for cfg in "${C9K_CFGS[@]}"; do c9000_round "$cfg" "$r"; done
    done
  else
    log "c9000 skipped: the open-file limit cannot be raised to 20000 (hard limit $(ulimit -Hn))"
  fi
fi
# cold starts of the plain-HTTP proxies (not --quick)
if [ "$QUICK" = 0 ]; then
  for cfg in "${CFG_LIST[@]}"; do
    case $cfg in haproxy-ka|edgelb|workerd-anchor|workerd-edgelb|undici-stream|http-proxy) cut -f1 "$FAIL_TSV" | grep -qx -- "$cfg" || cold_start "$cfg" ;; esac
  done
fi
cleanup
[ -x "$NODE" ] || { log "no node to summarize with; raw data in $WORK"; exit 1; }
"$NODE" "$BENCH/summarize.mjs" "$WORK" "$BENCH/results" && log "wrote $BENCH/results/latest.md and latest.json"
