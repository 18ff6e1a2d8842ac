#!/bin/bash
# restart_q.sh KIND(old|new|prometheus) DIR PORT OUTJSON START END QUERY...
set -u
kind=$1; dir=$2; port=$3; out=$4; start=$5; end=$6; shift 6
case $kind in
  old) bin=${OLD_BIN:?set OLD_BIN};; new) bin=${NEW_BIN:-$(dirname "$0")/../../target/release/promlite};; prometheus) bin=/usr/bin/prometheus;;
esac
$bin --config.file=$dir/config.yml --storage.tsdb.path=$dir/data --web.listen-address=127.0.0.1:$port \
  --storage.tsdb.retention.time=30d --web.enable-remote-write-receiver --log.level=warn > $dir/rerun-$(basename $out .json).log 2>&1 &
pid=$!; echo $pid > $dir/rerun.pid
t0=$(date +%s.%N)
for i in $(seq 1 600); do curl -sf http://127.0.0.1:$port/-/ready >/dev/null && break; sleep 0.5; done
echo "ready after $(echo "$(date +%s.%N) - $t0" | bc) s, pid $pid, rss $(grep VmRSS /proc/$pid/status)"
sleep 5
python3 "$(dirname "$0")/qmem.py" http://127.0.0.1:$port $pid $start $end 60 $out "$@"
grep -E 'VmRSS|RssAnon|VmHWM' /proc/$pid/status
kill -TERM $pid; wait $pid; echo "stopped rc=$?"
