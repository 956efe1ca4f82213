#!/usr/bin/env bash
# htsget and DRS benchmarks, measured from a second process on loopback (wrk, curl, samtools,
# the GA4GH `htsget` Python client), each beside the physical floor measured in the same run.
# Bounded: every load run has a fixed duration; only 127.0.0.1 is targeted.
#
#   scripts/bench-htsget.sh [PARTICIPANTS] [DEEP_COVERAGE]     (defaults 2000, 30)
#   SKIP_COHORT=1 scripts/bench-htsget.sh                      (the deep part only)
#   SKIP_DEEP=1 scripts/bench-htsget.sh                        (the cohort part only)
#   BIG_BAM=DIR/reads/S.bam scripts/bench-htsget.sh              (also: tickets on a multi-GB BAM,
#                                                                 e.g. from shared/tools/make-bench-data.sh)
#
# Measures, on a PARTICIPANTS cohort at 0.05x (ticket figures) and on one participant at
# DEEP_COVERAGE x (a BAM large enough for over-fetch and 1 Mb regions):
#   - ticket latency and throughput for a 100 kb BAM region (wrk, 16 connections, 15 s);
#   - the same ticket on the deep BAM (index cached: latency must not grow with file size);
#   - over-fetch: bytes a client downloads for a 1 kb region / bytes of the same records
#     written locally by `samtools view -b`;
#   - a 1 Mb region end to end (ticket + data via the htsget client, then samtools) against
#     `samtools view` of the local file (hyperfine);
#   - the data endpoint's throughput from page cache (a whole-file signed URL, curl);
#   - a DRS object lookup (wrk, 16 connections and one at a time);
#   - with BIG_BAM: the same ticket on that file, registered into the cohort (index parsed once).
# Needs wrk, curl, samtools, hyperfine, python3 (apt-get install wrk curl samtools hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
participants=${1:-2000}
deep=${2:-30}
cargo build --release --bin gemj-gateway >/dev/null
cargo build --release -p gemj-e2e --example publish >/dev/null
bin=$(pwd)/target/release/gemj-gateway
publish=$(pwd)/target/release/examples/publish
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m venv "$work/venv" >/dev/null && "$work/venv/bin/pip" install -q htsget >/dev/null
port=18190
base="http://127.0.0.1:$port"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
serve() {
  RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$1" serve --demo >/dev/null 2>&1 &
  pid=$!
  until curl -fs -o /dev/null "$base/readyz"; do sleep 0.05; done
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }

ticket_load() { # label, data dir, participant or object id
  local token
  token=$("$bin" --listen 127.0.0.1:$port --data-dir "$2" passport issue --subject bench)
  local url="$base/htsget/reads/$3?format=BAM&referenceName=chr20&start=500000&end=600000"
  curl -fs -H "Authorization: Bearer $token" "$url" >/dev/null
  echo "== $1: ticket for a 100 kb BAM region, wrk 1 thread 16 connections 15 s"
  wrk -t1 -c16 -d3s -H "Authorization: Bearer $token" "$url" >/dev/null
  wrk -t1 -c16 -d15s --latency -H "Authorization: Bearer $token" "$url" | sed -n '/Latency Distribution/,/Requests\/sec/p'
  echo "== $1: one request at a time (wrk 1 connection 10 s)"
  wrk -t1 -c1 -d10s --latency -H "Authorization: Bearer $token" "$url" | sed -n '/Latency Distribution/,/Requests\/sec/p'
}

if [ "${SKIP_COHORT:-0}" != 1 ]; then
echo "== cohort: $participants participants at 0.05x"
/usr/bin/time -f "wall %e s" "$bin" demo --dir "$work/cohort" --participants "$participants" --coverage 0.05 2>&1 | tail -1
if [ -n "${BIG_BAM:-}" ]; then
  ls -l "$BIG_BAM" | awk '{printf "== big BAM: %.2f GB, registered as bench-big.bam in GEMJ-DEMO-RD-REG\n", $5/1e9}'
  "$publish" "$work/cohort" GEMJ-DEMO-RD-REG bench-big.bam "$BIG_BAM" "$BIG_BAM.bai" >/dev/null
fi
serve "$work/cohort"
ticket_load "cohort" "$work/cohort" GEMJ-DEMO-0002
if [ -n "${BIG_BAM:-}" ]; then
  ticket_load "multi-GB BAM" "$work/cohort" bench-big
fi
token=$("$bin" --listen 127.0.0.1:$port --data-dir "$work/cohort" passport issue --subject bench)
drs="$base/ga4gh/drs/v1/objects/GEMJ-DEMO-0002.bam"
curl -fs -H "Authorization: Bearer $token" "$drs" >/dev/null
echo "== DRS object lookup, wrk 1 thread 16 connections 15 s"
wrk -t1 -c16 -d15s --latency -H "Authorization: Bearer $token" "$drs" | sed -n '/Latency Distribution/,/Requests\/sec/p'
echo "== DRS object lookup, one request at a time (wrk 1 connection 10 s)"
wrk -t1 -c1 -d10s --latency -H "Authorization: Bearer $token" "$drs" | sed -n '/Latency Distribution/,/Requests\/sec/p'
stop
fi
[ "${SKIP_DEEP:-0}" = 1 ] && exit 0

echo "== deep: 6 participants at ${deep}x (the first rare-disease participant served is used)"
/usr/bin/time -f "wall %e s" "$bin" demo --dir "$work/deep" --participants 6 --coverage "$deep" 2>&1 | tail -1
serve "$work/deep"
token=$("$bin" --listen 127.0.0.1:$port --data-dir "$work/deep" passport issue --subject bench)
p=$(curl -fs -H "Authorization: Bearer $token" "$base/catalogue/v1/datasets/GEMJ-DEMO-RD-REG/participants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["participants"][0])')
bam=$(find "$work/deep/objects" -name "$p.bam" | head -n1)
[ -n "$bam" ] || bam=$(find "$work/deep/objects" -path "*$p*" -name '*.bam' | head -n1)
ls -l "$bam" | awk '{printf "deep BAM: %.0f MB\n", $5/1e6}'
ticket_load "deep" "$work/deep" $p
token=$("$bin" --listen 127.0.0.1:$port --data-dir "$work/deep" passport issue --subject bench)

echo "== over-fetch: 20 random 1 kb regions"
for i in $(seq 1 20); do
  s=$(( (RANDOM * 32768 + RANDOM) % 1100000 + 10000 ))
  e=$(( s + 1000 ))
  "$work/venv/bin/htsget" --bearer-token "$token" "$base/htsget/reads/$p" \
    --reference-name chr20 --start $s --end $e -O "$work/slice.bam" 2>/dev/null
  samtools view -b -o "$work/local.bam" "$bam" "chr20:$((s + 1))-$e"
  a=$(stat -c %s "$work/slice.bam"); b=$(stat -c %s "$work/local.bam")
  echo "$a $b"
done | awk '{a+=$1; b+=$2; r=$1/$2; rs[NR]=r} END {n=asort(rs); printf "over-fetch (downloaded/local bytes): total %.2fx, median %.2fx, max %.2fx over %d regions\n", a/b, rs[int((n+1)/2)], rs[n], n}'

echo "== a 1 Mb region end to end vs local samtools (hyperfine)"
hyperfine -w 2 -r 10 -N \
  "samtools view -c $bam chr20:100001-1100000" \
  "sh -c '$work/venv/bin/htsget --bearer-token $token $base/htsget/reads/$p --reference-name chr20 --start 100000 --end 1100000 -O $work/r.bam && samtools view -c $work/r.bam'" \
  2>&1 | grep -E 'Time|±|samtools|sh -c' | sed 's/--bearer-token [^ ]*/--bearer-token T/'

echo "== a 1 Mb region end to end through samtools itself (htslib's htsget reader; the BAM published"
echo "   again in the PUBLIC dataset, as htslib sends no bearer token over http) vs samtools on the local file"
"$publish" "$work/deep" GEMJ-DEMO-PUBLIC-AF bench-public.bam "$bam" "$bam.bai" >/dev/null
sleep 1 # another process wrote the catalogue: the running gateway sees it at its next epoch poll
hyperfine -w 2 -r 10 -N \
  "samtools view -c $bam chr20:100001-1100000" \
  "samtools view -c $base/htsget/reads/bench-public?format=BAM&referenceName=chr20&start=100000&end=1100000" \
  2>&1 | grep -E 'Time|±|samtools'

echo "== data endpoint from page cache: the whole deep BAM through one signed URL (5 runs)"
url=$(curl -fs -H "Authorization: Bearer $token" "$base/catalogue/v1/objects/$p.bam/url" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
cat "$bam" >/dev/null
for i in 1 2 3 4 5; do curl -fs -o /dev/null -w '%{speed_download}\n' "$url"; done | sort -n | awk '{v[NR]=$1} END {printf "data endpoint: median %.2f GB/s (min %.2f, max %.2f)\n", v[3]/1e9, v[1]/1e9, v[5]/1e9}'
echo "floor: cat of the same file from page cache"
dd if="$bam" of=/dev/null bs=1M 2>&1 | tail -1
stop
