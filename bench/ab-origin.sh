# Sourced by bench/ab-workerd.sh and bench/ab-node.sh: the pair runs' origins (one nginx worker on
# CPU0 serving /100b and /16k on 127.0.0.1:9201/9202) in the work folder $W, and a cleanup on exit
# that stops them and every process group in PIDS. Needs W and B (this folder).
rm -rf $W; mkdir -p $W/run/origin $W/www
head -c 100 /dev/zero | tr '\0' 'x' > $W/www/100b; head -c 16384 /dev/zero | tr '\0' 'y' > $W/www/16k
sed -e "s#@PA@#$W#g" -e "s/9101/9201/; s/9102/9202/" $B/conf/nginx-origin.conf > $W/run/origin/nginx.conf
setsid taskset -c 0 nginx -p $W/run/origin -c $W/run/origin/nginx.conf >$W/origin.log 2>&1 </dev/null & OPID=$!
PIDS=()
cleanup(){ for p in "${PIDS[@]}" $OPID; do kill -TERM -- -$p 2>/dev/null; done; sleep 0.5; for p in "${PIDS[@]}" $OPID; do kill -KILL -- -$p 2>/dev/null; done; }
trap cleanup EXIT
