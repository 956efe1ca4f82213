#!/usr/bin/env bash
# HTTP benchmarks of the gateway, measured from a second process on loopback (wrk, curl).
# Bounded: every load run has a fixed duration; only 127.0.0.1 is targeted.
#
#   scripts/bench-http.sh [PARTICIPANTS]        (default 24)
#
# Measures: demo generation time, `serve` cold start on an existing data folder (spawn to the
# first 200 from /readyz, 10 runs), /service-info latency and throughput at 64 connections.
# Prints the figures that docs/PERFORMANCE.md records. Needs wrk and curl (apt-get install wrk curl).
set -euo pipefail
cd "$(dirname "$0")/.."
participants=${1:-24}
cargo build --release --bin gemj-gateway >/dev/null
bin=target/release/gemj-gateway
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
data="$work/data"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
echo "== demo generation ($participants participants)"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$bin" demo --dir "$data" --participants "$participants" 2>&1 | tail -2

port=18180
echo "== cold start on the existing data folder: spawn -> first 200 from /readyz (10 runs)"
for i in $(seq 1 10); do
  start=$(date +%s%N)
  RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$data" serve >/dev/null 2>&1 &
  pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.002; done
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
  kill -TERM $pid; wait $pid || true
done | sort -n | awk '{a[NR]=$1} END {printf "cold start ms: min %d, median %d, max %d\n", a[1], a[int((NR+1)/2)], a[NR]}'

echo "== /service-info under load: wrk, 1 thread, 64 connections, 15 s"
RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$data" serve >/dev/null 2>&1 &
pid=$!
until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.01; done
wrk -t1 -c64 -d3s "http://127.0.0.1:$port/service-info" >/dev/null
wrk -t1 -c64 -d15s --latency "http://127.0.0.1:$port/service-info" | sed -n '/Latency Distribution/,/Transfer/p'
echo "== /catalogue/v1/datasets (4 access decisions + audit group commit per request), 15 s"
wrk -t1 -c64 -d15s --latency "http://127.0.0.1:$port/catalogue/v1/datasets" | sed -n '/Latency Distribution/,/Transfer/p'
"$bin" --data-dir "$data" audit verify | tail -1
