#!/usr/bin/env bash
# Tickets and the data endpoint with every object in S3 (a real s3s-fs on loopback), beside the
# same requests on the same cohort in the data folder: the S3 row of docs/PERFORMANCE.md.
# Bounded: every load run has a fixed duration; only 127.0.0.1 is targeted.
#
#   scripts/bench-s3.sh [PARTICIPANTS] [DEEP_COVERAGE]     (defaults 200, 30)
#   SKIP_COHORT=1 STORAGES=s3 scripts/bench-s3.sh          (the data endpoint on S3 only)
#
# Measures, for each of `folder` and `s3`:
#   - a ticket for a 100 kb BAM region of a PARTICIPANTS cohort at 0.05x, one request at a
#     time (wrk, 1 connection, 10 s) and under load (16 connections, 15 s);
#   - the data endpoint: the whole BAM of a participant of a 6-participant cohort at
#     DEEP_COVERAGE x through one signed URL (curl, 5 runs), streamed from the folder or from S3;
#     on S3, the floor: the same object straight from s3s-fs (a DRS URL presigned by the bucket,
#     `drs.presigned_urls`), and the folder's floor, `cat` from page cache.
# Needs wrk, curl, s3s-fs 0.14.1 (cargo install s3s-fs --version 0.14.1 --features binary --locked).
set -euo pipefail
cd "$(dirname "$0")/.."
participants=${1:-200}
deep=${2:-30}
cargo build --release --bin gemj-gateway >/dev/null
bin=$(pwd)/target/release/gemj-gateway
s3s=$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
base="http://127.0.0.1:$port"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
s3port=$(free_port)
mkdir -p "$work/s3/gemj"
"$s3s" --host 127.0.0.1 --port "$s3port" --access-key bench --secret-key bench-secret "$work/s3" \
  >/dev/null 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$s3port/"; do sleep 0.05; done

# storage NAME: the environment of the gateway's commands for that storage.
storage() {
  if [ "$1" = s3 ]; then
    export AWS_ENDPOINT_URL="http://127.0.0.1:$s3port" AWS_REGION=us-east-1 \
      AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_ALLOW_HTTP=true \
      GEMJ_STORAGE__URL="s3://gemj/$2"
  else
    unset AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ALLOW_HTTP \
      GEMJ_STORAGE__URL
  fi
}
serve() {
  RUST_LOG=warn "$bin" --listen "127.0.0.1:$port" --data-dir "$1" serve --demo >/dev/null 2>&1 &
  pid=$!
  pids+=("$pid")
  until curl -fs -o /dev/null "$base/readyz"; do sleep 0.05; done
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }

for where in ${STORAGES:-folder s3}; do
  if [ "${SKIP_COHORT:-0}" != 1 ]; then
  storage "$where" cohort
  echo "== $where: cohort of $participants participants at 0.05x"
  /usr/bin/time -f "demo: wall %e s" "$bin" demo --dir "$work/$where-cohort" \
    --participants "$participants" --coverage 0.05 2>&1 | tail -1
  serve "$work/$where-cohort"
  token=$("$bin" --listen "127.0.0.1:$port" --data-dir "$work/$where-cohort" passport issue --subject bench)
  url="$base/htsget/reads/GEMJ-DEMO-0002?format=BAM&referenceName=chr20&start=500000&end=600000"
  curl -fs -H "Authorization: Bearer $token" "$url" >/dev/null
  echo "== $where: ticket, one request at a time (wrk 1 connection 10 s)"
  wrk -t1 -c1 -d10s --latency -H "Authorization: Bearer $token" "$url" \
    | sed -n '/Latency Distribution/,/Requests\/sec/p'
  echo "== $where: ticket, 16 connections 15 s"
  wrk -t1 -c16 -d15s --latency -H "Authorization: Bearer $token" "$url" \
    | sed -n '/Latency Distribution/,/Requests\/sec/p'
  stop
  fi

  storage "$where" deep
  export GEMJ_DRS__PRESIGNED_URLS=$([ "$where" = s3 ] && echo true || echo false)
  echo "== $where: 6 participants at ${deep}x (the first rare-disease participant served is used)"
  /usr/bin/time -f "demo: wall %e s" "$bin" demo --dir "$work/$where-deep" \
    --participants 6 --coverage "$deep" 2>&1 | tail -1
  serve "$work/$where-deep"
  token=$("$bin" --listen "127.0.0.1:$port" --data-dir "$work/$where-deep" passport issue --subject bench)
  p=$(curl -fs -H "Authorization: Bearer $token" "$base/catalogue/v1/datasets/GEMJ-DEMO-RD-REG/participants" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["participants"][0])')
  curl -fs -H "Authorization: Bearer $token" "$base/ga4gh/drs/v1/objects/$p.bam" \
    | python3 -c 'import json,sys; o=json.load(sys.stdin); print("BAM:", o["id"], round(o["size"] / 1e6), "MB")'
  data=$(curl -fs -H "Authorization: Bearer $token" "$base/catalogue/v1/objects/$p.bam/url" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  echo "== $where: the whole BAM through one signed URL (5 runs)"
  for i in 1 2 3 4 5; do curl -fs -o /dev/null -w '%{speed_download}\n' "$data"; done | sort -n \
    | awk '{v[NR]=$1} END {printf "data endpoint: median %.2f GB/s (min %.2f, max %.2f)\n", v[3]/1e9, v[1]/1e9, v[5]/1e9}'
  if [ "$where" = s3 ]; then
    direct=$(curl -fs -H "Authorization: Bearer $token" "$base/ga4gh/drs/v1/objects/$p.bam/access/https" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
    echo "== floor: the same object straight from s3s-fs through a presigned URL (5 runs)"
    for i in 1 2 3 4 5; do curl -fs -o /dev/null -w '%{speed_download}\n' "$direct"; done | sort -n \
      | awk '{v[NR]=$1} END {printf "s3s-fs direct: median %.2f GB/s (min %.2f, max %.2f)\n", v[3]/1e9, v[1]/1e9, v[5]/1e9}'
  else
    echo "== floor: cat of the same file from page cache"
    bam=$(find "$work/$where-deep/objects" -name "$p.bam" | head -n1)
    [ -n "$bam" ] && dd if="$bam" of=/dev/null bs=1M 2>&1 | tail -1
  fi
  stop
done
