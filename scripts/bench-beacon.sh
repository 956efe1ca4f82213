#!/usr/bin/env bash
# Beacon v2.2.0 benchmarks, measured from a second process on loopback (wrk). Bounded: every load
# run has a fixed duration; only 127.0.0.1 is targeted.
#
#   scripts/bench-beacon.sh [SIZES...]          (default: 500 2000 participants, at 0.05x)
#
# For each cohort size: a sequence query and a 1 Mb range query at count granularity (a
# registered researcher's passport), an individuals query with an ICD-10 filter, and
# /filtering_terms; each one connection at a time (latency) and at 16 connections (throughput).
# Budgets are raised for the run (GEMJ_BEACON__BUDGETS__*), everything else is the default
# configuration. Needs wrk, curl, python3 (apt-get install wrk curl).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(500 2000)
cargo build --release --bin gemj-gateway >/dev/null
bin=$(pwd)/target/release/gemj-gateway
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18191
base="http://127.0.0.1:$port/beacon/v2"
export GEMJ_BEACON__BUDGETS__PER_CALLER=1000000000 GEMJ_BEACON__BUDGETS__PER_IP=1000000000

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

load() { # label, url, token
  curl -fs -H "Authorization: Bearer $3" "$2" >/dev/null
  wrk -t1 -c1 -d2s -H "Authorization: Bearer $3" "$2" >/dev/null
  echo "== $1: one at a time (10 s)"
  wrk -t1 -c1 -d10s --latency -H "Authorization: Bearer $3" "$2" | grep -E '^\s+(50|90|99)%|Requests/sec'
  echo "== $1: 16 connections (10 s)"
  wrk -t1 -c16 -d10s --latency -H "Authorization: Bearer $3" "$2" | grep -E '^\s+(50|99)%|Requests/sec'
}

for n in "${sizes[@]}"; do
  data="$work/cohort-$n"
  echo "== cohort: $n participants at 0.05x"
  /usr/bin/time -f "wall %e s" "$bin" demo --dir "$data" --participants "$n" --coverage 0.05 2>&1 | tail -1
  # A variant carried by many (the sequence query) and its neighbourhood (the range query).
  read -r chrom pos ref alt rows < <(python3 - "$data/gemj.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
key = db.execute("SELECT key FROM datasets WHERE id = 'GEMJ-DEMO-PUBLIC-AF'").fetchone()[0]
row = db.execute("SELECT chrom, pos, ref, alt FROM variants WHERE dataset_key = ? ORDER BY carrier_count DESC LIMIT 1", (key,)).fetchone()
total = db.execute("SELECT COUNT(*) FROM variants").fetchone()[0]
print(*row, total)
EOF
)
  echo "== variant index: $rows rows; sequence query at $chrom:$pos $ref>$alt"
  RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$data" serve --demo >/dev/null 2>&1 &
  pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.05; done
  token=$("$bin" --listen 127.0.0.1:$port --data-dir "$data" passport issue --subject bench)
  start=$((pos - 1))
  rstart=$(( start > 500000 ? start - 500000 : 0 ))
  load "sequence query, count ($n)" "$base/g_variants?referenceName=$chrom&start=$start&referenceBases=$ref&alternateBases=$alt&requestedGranularity=count" "$token"
  load "1 Mb range query, count ($n)" "$base/g_variants?referenceName=$chrom&start=$rstart&end=$((rstart + 1000000))&requestedGranularity=count" "$token"
  load "individuals with ICD10:C34, count ($n)" "$base/individuals?filters=ICD10:C34&requestedGranularity=count" "$token"
  load "filtering_terms ($n)" "$base/filtering_terms" "$token"
  kill -TERM "$pid"; wait "$pid" || true
done
