#!/usr/bin/env bash
# Paired HAProxy vs edgelb serve (the method behind the README's "paired" CPU figures: the VM is
# shared and its speed swings by the minute, so both proxies are up at once and take turns).
#
#   bash bench/ab-node.sh ROUNDS DUR_S CONNS PATH [EDGELB_DIR...]
#   e.g. bash bench/ab-node.sh 30 1 64 /100b                # HAProxy vs this tree
#        bash bench/ab-node.sh 30 1 64 /100b . /tmp/old     # and an older checkout (its bin/edgelb.js)
#
# HAProxy runs bench/conf/haproxy-features.cfg (the bench's `haproxy-ka`), each edgelb the bench's
# config (checks, retries, redispatch, X-Forwarded-For; request logs off) with the environment of
# deploy/edgelb.service. All pinned to CPU1 (ports 8091..), one nginx origin pair on
# 127.0.0.1:9201/9202 and wrk-raw on CPU0; each round runs every variant once (the order rotates).
# Prints per round req/s and proxy CPU µs/request, then medians and the medians of the per-round
# ratios to HAProxy (v0). Work files in $AB_WORK (default /tmp/edgelb-ab-node).
set -uo pipefail
[ $# -ge 4 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
ROUNDS=$1 DUR=$2 C=$3 P=$4; shift 4
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; ROOT="$(dirname "$B")"
DIRS=("$@"); [ ${#DIRS[@]} -gt 0 ] || DIRS=("$ROOT")
W=${AB_WORK:-/tmp/edgelb-ab-node}
PA="${PA:-/tmp/perfanchor}"
NODE=$ROOT/node_modules/.bin/node; WRK="${WRK:-$([ -x "$PA/wrk-raw" ] && echo "$PA/wrk-raw" || command -v wrk)}"
HZ=$(getconf CLK_TCK)
n=$(( ${#DIRS[@]} + 1 ))
for port in 9201 9202 $(seq 8091 $((8090 + n))); do curl -s -o /dev/null -m1 http://127.0.0.1:$port/ && { echo "port $port busy" >&2; exit 1; }; done
. "$B/ab-origin.sh"
# the unit's environment (as bench/run.sh): Node's flags and glibc's malloc settings
ENV=(); for k in NODE_OPTIONS GLIBC_TUNABLES; do v=$(sed -n "s/^Environment=$k=//p" "$ROOT/deploy/edgelb.service"); [ -n "$v" ] && ENV+=("$k=$v"); done
sed -e "s/127.0.0.1:8080/127.0.0.1:8091/; s/9101/9201/; s/9102/9202/" $B/conf/haproxy-features.cfg > $W/haproxy.cfg
setsid taskset -c 1 haproxy -db -f $W/haproxy.cfg >$W/v0.log 2>&1 </dev/null & PIDS+=($!)
NAMES=("haproxy-ka")
for k in "${!DIRS[@]}"; do
  port=$((8092 + k)); d=$(cd "${DIRS[$k]}" && pwd)
  echo "{\"listen\":{\"host\":\"127.0.0.1\",\"port\":$port},\"log\":{\"requests\":false},\"pools\":{\"bench\":{\"maxQueue\":10000,\"origins\":[{\"name\":\"a\",\"url\":\"http://127.0.0.1:9201\",\"maxconn\":256},{\"name\":\"b\",\"url\":\"http://127.0.0.1:9202\",\"maxconn\":256}],\"check\":{\"path\":\"/100b\"}}}}" > $W/edgelb-$k.json
  setsid taskset -c 1 env "${ENV[@]}" $NODE $d/bin/edgelb.js serve --config $W/edgelb-$k.json >$W/v$((k + 1)).log 2>&1 </dev/null & PIDS+=($!)
  NAMES+=("edgelb:$d")
done
sleep 2
for k in $(seq 0 $((n - 1))); do curl -s -o /dev/null -w "v$k ${NAMES[$k]}: %{http_code}\n" http://127.0.0.1:$((8091 + k))$P; done
ticks(){ local t=0 v; for p in $(pgrep -s ${PIDS[$1]}); do v=$(awk '{sub(/^.*\) /,""); print $12+$13}' /proc/$p/stat); t=$((t + v)); done; echo $t; }
# warm-up
for k in $(seq 0 $((n - 1))); do taskset -c 0 $WRK -t1 -c$C -d2s --timeout 2s http://127.0.0.1:$((8091 + k))$P >/dev/null; done
printf 'round\tvariant\trps\tus_req\n' > $W/res.tsv
for r in $(seq 1 $ROUNDS); do
  for j in $(seq 0 $((n - 1))); do
    k=$(( (j + r) % n ))
    a=$(ticks $k)
    taskset -c 0 $WRK -t1 -c$C -d${DUR}s --timeout 2s http://127.0.0.1:$((8091 + k))$P > $W/wrk_${r}_$k.txt 2>&1
    b=$(ticks $k)
    awk -v r=$r -v k=$k -v a=$a -v b=$b -v hz=$HZ '/Requests\/sec:/{rps=$2} / requests in /{n=$1}
      END{printf "%d\tv%d\t%s\t%.1f\n", r, k, rps, (n > 0 ? (b-a)*1e6/hz/n : 0)}' $W/wrk_${r}_$k.txt | tee -a $W/res.tsv
  done
done
"$NODE" -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").slice(1).map((l) => l.split("\t"));
const med = (a) => { a = [...a].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
const q = (a, f) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(f * a.length))];
const by = {}; for (const r of rows) (by[r[1]] ??= []).push(r.slice(2).map(Number));
for (const [k, xs] of Object.entries(by)) console.log(k, process.argv[2 + Number(k.slice(1))], "req/s", med(xs.map((x) => x[0])).toFixed(0), "CPU µs/req", med(xs.map((x) => x[1])).toFixed(1));
const rounds = {}; for (const r of rows) (rounds[r[0]] ??= {})[r[1]] = r.slice(2).map(Number);
for (const k of Object.keys(by)) { if (k === "v0") continue;
  const pr = [], pc = []; for (const r of Object.values(rounds)) if (r[k] && r.v0 && r[k][0] > 0 && r.v0[0] > 0) { pr.push(r[k][0] / r.v0[0]); pc.push(r[k][1] / r.v0[1]); }
  console.log(k, `PAIRED medians vs HAProxy over ${pc.length} rounds: req/s ${med(pr).toFixed(3)}, CPU µs/req ${med(pc).toFixed(3)} (quartiles ${q(pc, 0.25).toFixed(3)}-${q(pc, 0.75).toFixed(3)})`); }
' $W/res.tsv "${NAMES[@]}"
