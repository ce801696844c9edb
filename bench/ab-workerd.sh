#!/usr/bin/env bash
# Interleaved A/B of Worker bundles under bare `workerd serve` (the method behind the README's
# Worker figures: the machine is shared, so variants alternate round by round and medians count).
#
#   bash bench/ab-workerd.sh ROUNDS DUR_S CONNS PATH VARIANT...
#   e.g. bash bench/ab-workerd.sh 8 3 64 /100b anchor dist /tmp/old-dist
#
# VARIANT: "anchor" (bench/conf/workerd-anchor, trivial round-robin Worker), "anchor@DATE" (same,
# another compatibilityDate), a directory holding a `wrangler deploy --dry-run --outdir` bundle
# (index.js) served with bench/conf/workerd-edgelb.capnp, or DIR@NAME to use the edgelb config
# $AB_CONFIGS/cfg-NAME.json instead of the bench pool. Every variant runs at once, pinned to CPU1
# (ports 8091..), one nginx origin pair on 127.0.0.1:9201/9202 and wrk-raw on CPU0; each round
# runs every variant once (the order rotates). Prints per round req/s, proxy CPU µs/request, raw
# p50/p99/p99.9 ms, then medians, medians of the per-round ratios to variant 0, and the Durable
# Object calls of each edgelb variant. Work files in $AB_WORK (default /tmp/edgelb-ab); WD_EXTRA:
# more `workerd serve` arguments (e.g. "-i 127.0.0.1:9230" for the inspector, to profile).
set -uo pipefail
[ $# -ge 5 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
ROUNDS=$1 DUR=$2 C=$3 P=$4; shift 4
V=("$@")
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; ROOT="$(dirname "$B")"
W=${AB_WORK:-/tmp/edgelb-ab}; AB_CONFIGS=${AB_CONFIGS:-.}
PA="${PA:-/tmp/perfanchor}"
WORKERD=$ROOT/node_modules/.bin/workerd; WRK="${WRK:-$([ -x "$PA/wrk-raw" ] && echo "$PA/wrk-raw" || command -v wrk)}"; export WRK_RAW_LATENCY=1
HZ=$(getconf CLK_TCK)
for port in 9201 9202 8091 8092 8093 8094; do curl -s -o /dev/null -m1 http://127.0.0.1:$port/ && { echo "port $port busy" >&2; exit 1; }; done
. "$B/ab-origin.sh"
for k in "${!V[@]}"; do
  v=${V[$k]}; port=$((8091+k)); d=$W/v$k; mkdir -p $d
  if [ "${v%%@*}" = anchor ]; then
    sed "s/9101/9201/; s/9102/9202/" $B/conf/workerd-anchor/index.js > $d/index.js
    cd_=${v#anchor}; cd_=${cd_#@}
    sed "s#@PORT@#$port#g" $B/conf/workerd-anchor.capnp > $d/workerd.capnp
    [ -n "$cd_" ] && sed -i "s#compatibilityDate = \"[0-9-]*\"#compatibilityDate = \"$cd_\"#" $d/workerd.capnp
  else
    v=${v%%@*}; extra=${V[$k]#*@}; [ "$extra" = "${V[$k]}" ] && extra=""
    mkdir -p $d/do-storage; cp $v/index.js $d/index.js
    if [ -n "$extra" ]; then cat "$AB_CONFIGS/cfg-$extra.json" > $d/edgelb-config.json; else
    echo '{"listen":{"port":0},"pools":{"bench":{"origins":[{"name":"a","url":"http://127.0.0.1:9201"},{"name":"b","url":"http://127.0.0.1:9202"}],"check":{"path":"/100b"}}}}' > $d/edgelb-config.json; fi
    sed -e "s#@PORT@#$port#g" -e "s#@STORAGE@#$d/do-storage#g" -e 's#@MODULES@#(name = "index.js", esModule = embed "index.js")#' $B/conf/workerd-edgelb.capnp > $d/workerd.capnp
  fi
  setsid taskset -c 1 $WORKERD serve $d/workerd.capnp ${WD_EXTRA:-} >$d/log 2>&1 </dev/null & PIDS+=($!)
done
sleep 2
for k in "${!V[@]}"; do curl -s -o /dev/null -w "v$k ${V[$k]}: %{http_code}\n" http://127.0.0.1:$((8091+k))$P; done
ticks(){ local t=0; for p in $(pgrep -f "$W/v$1/workerd.capnp"); do v=$(awk '{sub(/^.*\) /,""); print $12+$13}' /proc/$p/stat); t=$((t+v)); done; echo $t; }
# warm-up
for k in "${!V[@]}"; do taskset -c 0 $WRK -t1 -c$C -d2s --timeout 2s http://127.0.0.1:$((8091+k))$P >/dev/null; done
printf 'round\tvariant\trps\tus_req\traw_p50\traw_p99\traw_p999\n' > $W/res.tsv
n=${#V[@]}
for r in $(seq 1 $ROUNDS); do
  for j in $(seq 0 $((n-1))); do
    k=$(( (j + r) % n ))
    a=$(ticks $k)
    taskset -c 0 $WRK -t1 -c$C -d${DUR}s --timeout 2s --latency http://127.0.0.1:$((8091+k))$P > $W/raw_${r}_$k.txt 2>&1
    b=$(ticks $k)
    awk -v r=$r -v k=$k -v a=$a -v b=$b -v hz=$HZ 'function ms(v){ if (v ~ /us$/){sub(/us$/,"",v); return v/1000} if (v ~ /ms$/){sub(/ms$/,"",v); return v+0} if (v ~ /s$/){sub(/s$/,"",v); return v*1000} return v }
      /Requests\/sec:/{rps=$2} / requests in /{n=$1} /^ +RAW +50.0%/{r50=ms($3)} /^ +RAW +99.0%/{r99=ms($3)} /^ +RAW +99.9%/{r999=ms($3)}
      END{printf "%d\tv%d\t%s\t%.1f\t%.3f\t%.3f\t%.3f\n", r, k, rps, (b-a)*1e6/hz/n, r50, r99, r999}' $W/raw_${r}_$k.txt | tee -a $W/res.tsv
  done
done
# summary: medians
"$ROOT/node_modules/.bin/node" -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").slice(1).map(l => l.split("\t"));
const med = a => { a = [...a].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m-1] + a[m]) / 2; };
const by = {}; for (const r of rows) (by[r[1]] ??= []).push(r.slice(2).map(Number));
const base = by.v0 ? med(by.v0.map(x => x[0])) : 1; const bp99 = by.v0 ? med(by.v0.map(x => x[3])) : 1;
for (const [k, xs] of Object.entries(by)) console.log(k, process.argv[2 + Number(k.slice(1))],
  "rps", med(xs.map(x => x[0])).toFixed(0), "ratio", (med(xs.map(x => x[0])) / base).toFixed(3),
  "us/req med", med(xs.map(x => x[1])).toFixed(1), "min", Math.min(...xs.map(x => x[1])).toFixed(1),
  "p50", med(xs.map(x => x[2])).toFixed(3), "p99", med(xs.map(x => x[3])).toFixed(3), "p99/base", (med(xs.map(x => x[3]))/bp99).toFixed(2), "p99.9", med(xs.map(x => x[4])).toFixed(3));

const rounds = {}; for (const r of rows) (rounds[r[0]] ??= {})[r[1]] = r.slice(2).map(Number);
for (const k of Object.keys(by)) { if (k === "v0") continue;
  const pr = [], pc = [], pp = []; for (const r of Object.values(rounds)) if (r[k] && r.v0) { pr.push(r[k][0] / r.v0[0]); pc.push(r[k][1] / r.v0[1]); pp.push(r[k][3] / r.v0[3]); }
  console.log(k, "PAIRED medians vs v0: rps", med(pr).toFixed(3), "cpu", med(pc).toFixed(3), "p99", med(pp).toFixed(2), " rps ratios:", pr.map(x => x.toFixed(2)).join(" ")); }
' $W/res.tsv "${V[@]}"
for k in "${!V[@]}"; do [ "${V[$k]%%@*}" != anchor ] && curl -s -H 'cf-connecting-ip: 127.0.0.1' "http://127.0.0.1:$((8091+k))/__edgelb/stats?format=json" | "$ROOT/node_modules/.bin/node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);for(const p of j.pools)console.log("v'$k'", "requests", p.requests, JSON.stringify(p.durableObjectCalls))})'; done
