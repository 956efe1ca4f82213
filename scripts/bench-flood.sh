#!/usr/bin/env bash
# A caller with a spent Beacon budget floods (issue 21, parts 3 and 4, tried as an adversary).
# The gateway runs on the embedded SQLite store with a per-caller budget of 5 queries a minute.
# "flooder" spends it, then sends Beacon count queries from CONNECTIONS (200) connections for
# DURATION seconds (20, at least 14) with no pause (wrk, 1 thread): every one is refused with 429.
# Meanwhile "honest", another caller behind the same address (127.0.0.1), spends its own budget
# of 5, one query every 2 s (curl). Printed: the honest caller's statuses and times, the flood's
# refusal rate and latency, and the gateway's CPU time during the flood. Bounded: a fixed
# duration, 127.0.0.1 only.
#
#   scripts/bench-flood.sh [DURATION]
#
# Needs wrk and curl (apt-get install wrk curl).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
connections=${CONNECTIONS:-200}
cargo build --release --bin gemj-gateway >/dev/null
bin=$(pwd)/target/release/gemj-gateway
work=$(mktemp -d)
cleanup() {
  kill "${pid:-0}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=18195
base="http://127.0.0.1:$port"
url="$base/beacon/v2/individuals?filters=ICD10:C34&requestedGranularity=count"
export GEMJ_BEACON__BUDGETS__PER_CALLER=5 GEMJ_BEACON__BUDGETS__PER_IP=1000000000
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$work/data" serve --demo >"$work/serve.log" 2>&1 &
pid=$!
until curl -fs -o /dev/null "$base/readyz"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
flooder=$("$bin" --listen 127.0.0.1:$port --data-dir "$work/data" passport issue --subject flooder)
honest=$("$bin" --listen 127.0.0.1:$port --data-dir "$work/data" passport issue --subject honest)
for _ in 1 2 3 4 5 6; do
  curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $flooder" "$url"
done
echo "(the flooder's first six queries: five answered, then refused)"
echo "== flood: wrk, 1 thread, $connections connections, no pause, $duration s"
cpu0=$(ps -o cputimes= -p "$pid")
wrk -t1 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $flooder" "$url" \
  >"$work/flood.txt" &
flood=$!
sleep 2
: >"$work/honest.txt"
for _ in 1 2 3 4 5; do
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $honest" "$url" \
    >>"$work/honest.txt"
  sleep 2
done
wait "$flood"
echo "   (gateway CPU during the flood: $(( $(ps -o cputimes= -p "$pid") - cpu0 )) s in $duration s)"
grep -E '^\s+(50|99)%|Requests/sec|Non-2xx|requests in' "$work/flood.txt"
echo "== honest caller (status, seconds): $(tr '\n' ' ' <"$work/honest.txt")"
kill -TERM "$pid"; wait "$pid" || true
