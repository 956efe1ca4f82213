#!/usr/bin/env bash
# The latency tail under many slow clients (issue 21, part 4), measured from a second process on
# loopback with wrk: CONNECTIONS connections (200), each pausing DELAY_MS (40 ms) between its
# requests (about 4,500 requests/s offered), for DURATION seconds (60) per endpoint, on the
# embedded SQLite store and on PostgreSQL (GEMJ_BENCH_DATABASE_URL, default the local test
# server, in a schema of its own that the script drops afterwards). Endpoints: /service-info
# (anonymous), an htsget ticket, a DRS object, a Beacon count query and a Data Connect search
# (POST /data-connect/search, an aggregate over the catalogue views) (a registered researcher's
# passport; Beacon budgets raised so they do not interfere). Every request but /service-info is
# an audited access decision. The ticket is measured a second time while 22 participants
# withdraw (one every 2.5 s): the issue's mix with withdrawals. After each audited load, the
# gateway's own histograms (/metrics) say where the time went: each request's audit wait and
# each batch's write; on PostgreSQL, the WAL the load wrote; and the CPU per request, the
# gateway's and PostgreSQL's (from /proc). Bounded: fixed durations, 127.0.0.1 only.
# `journal`: PostgreSQL with a local audit journal (audit.journal: answers wait for a local
# append; a task ships the rows into PostgreSQL's chain), `all`: the three.
#
#   scripts/bench-tail.sh [DURATION] [sqlite|postgres|journal|both|all]
#   CONNECTIONS=200 DELAY_MS=40 scripts/bench-tail.sh 60 both
#   ONLY="Data Connect" scripts/bench-tail.sh 60 sqlite     (the endpoints whose label has ONLY)
#   GATEWAY_BIN=/tmp/before/gemj-gateway scripts/bench-tail.sh 60 postgres   (that binary, unbuilt)
#
# Needs wrk, curl and psql (apt-get install wrk curl postgresql-client).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
stores=${2:-both}
case "$stores" in sqlite|postgres|journal|both|all) ;; *) echo "stores: sqlite, postgres, journal, both or all" >&2; exit 2 ;; esac
wants() { # store: whether this run measures it
  case "$stores" in all) true ;; both) [ "$1" != journal ] ;; *) [ "$1" = "$stores" ] ;; esac
}
connections=${CONNECTIONS:-200}
delay=${DELAY_MS:-40}
pg_url=${GEMJ_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
if [ -n "${GATEWAY_BIN:-}" ]; then
  bin=$GATEWAY_BIN
else
  cargo build --release --bin gemj-gateway >/dev/null
  bin=$(pwd)/target/release/gemj-gateway
fi
work=$(mktemp -d)
schema="bench_tail_$$"
cleanup() {
  kill "${pid:-0}" 2>/dev/null || true
  rm -rf "$work"
  if [ "$stores" != sqlite ]; then
    psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" 2>/dev/null || true
    psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS ${schema}_journal CASCADE" 2>/dev/null || true
  fi
}
trap cleanup EXIT
port=18192
base="http://127.0.0.1:$port"
export GEMJ_BEACON__BUDGETS__PER_CALLER=1000000000 GEMJ_BEACON__BUDGETS__PER_IP=1000000000
cat >"$work/pause.lua" <<LUA
function delay() return $delay end
LUA

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== wrk: 1 thread, $connections connections, each pausing $delay ms between requests, $duration s per endpoint"

load() { # label, url, [token], [JSON body: a POST]
  case "$1" in *"${ONLY:-}"*) ;; *) return 0 ;; esac
  local auth=() script="$work/pause.lua" post=()
  [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
  if [ -n "${4:-}" ]; then
    script="$work/post.lua"
    post=(-X POST -H 'Content-Type: application/json' --data "$4")
    python3 - "$4" "$delay" >"$script" <<'PY'
import json, sys
body, delay = sys.argv[1], sys.argv[2]
print(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\nfunction delay() return {delay} end')
PY
  fi
  curl -fs "${auth[@]}" "${post[@]}" "$2" >/dev/null
  wrk -t1 -c"$connections" -d3s -s "$script" "${auth[@]}" "$2" >/dev/null
  echo "== $1"
  curl -fs "$base/metrics" >"$work/metrics.before"
  local wal=""
  [ -n "${pg_schema:-}" ] && wal=$(psql -qtA "$pg_url" -c "SELECT pg_current_wal_lsn()")
  local cpu0 pg0 out
  cpu0=$(cpu_ticks "$pid"); pg0=$(postgres_ticks)
  out=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$script" "${auth[@]}" "$2")
  grep -E '^\s+(50|75|90|99)%|Requests/sec|Non-2xx|Socket errors|requests in' <<<"$out"
  # CPU per request, the gateway's own (all its threads) and, on PostgreSQL, the server's (its
  # processes alive at both ends): unlike the latencies, little moved by what else the host runs.
  local served line
  served=$(awk '/requests in/ {print $1}' <<<"$out")
  line="   CPU per request: gateway $(per_request "$(($(cpu_ticks "$pid") - cpu0))" "$served") us"
  [ -z "${pg_schema:-}" ] || line="$line, PostgreSQL $(per_request "$(($(postgres_ticks) - pg0))" "$served") us"
  echo "$line"
  curl -fs "$base/metrics" >"$work/metrics.after"
  # Where an audited request's time went, from the gateway's own histograms over this load: its
  # wait for the audit (queued to durable) and the writes of the batches (group commit).
  python3 - "$work/metrics.before" "$work/metrics.after" <<'PY'
import re, sys
def histogram(path, name):
    buckets, count, total = {}, 0.0, 0.0
    for line in open(path):
        if line.startswith(name + "_bucket"):
            buckets[re.search(r'le="([^"]+)"', line).group(1)] = float(line.split()[-1])
        elif line.startswith(name + "_count"):
            count = float(line.split()[-1])
        elif line.startswith(name + "_sum"):
            total = float(line.split()[-1])
    return buckets, count, total
for name, label in (("gemj_audit_wait_seconds", "audit wait"), ("gemj_audit_write_seconds", "batch write"),
                    ("gemj_audit_ship_seconds", "journal shipping")):
    (b0, c0, s0), (b1, c1, s1) = histogram(sys.argv[1], name), histogram(sys.argv[2], name)
    n = c1 - c0
    if n <= 0:
        continue
    shares = ", ".join(f"{(b1[le] - b0.get(le, 0)) / n * 100:.1f} % <= {float(le) * 1000:g} ms"
                       for le in ("0.001", "0.0025", "0.005", "0.01") if le in b1)
    print(f"   {label} ({int(n)}): mean {(s1 - s0) / n * 1e6:.0f} us; {shares}")
_, c0, s0 = histogram(sys.argv[1], "gemj_audit_batch_events")
_, c1, s1 = histogram(sys.argv[2], "gemj_audit_batch_events")
if c1 > c0:
    print(f"   batch events: mean {(s1 - s0) / (c1 - c0):.1f}")
PY
  if [ -n "$wal" ]; then
    echo "   PostgreSQL WAL written: $(psql -qtA "$pg_url" -c "SELECT pg_size_pretty(pg_current_wal_lsn() - '$wal'::pg_lsn)")"
  fi
}

hz=$(getconf CLK_TCK)
cpu_ticks() { # pid: user + system CPU ticks of a process (all its threads)
  awk '{print $14 + $15}' "/proc/$1/stat"
}
postgres_ticks() { # the same, summed over the PostgreSQL server's processes
  cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(postgres)" {t += $14 + $15} END {print t + 0}'
}
per_request() { # ticks, requests: microseconds of CPU per request
  awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN {printf "%.0f", (n > 0 ? t / hz * 1e6 / n : 0)}'
}

withdraw() { # data dir: full withdrawals of GEMJ-DEMO-0003..0024, one every 2.5 s
  local inst tokens=() n id code ok=0
  for inst in 9999000001 9999000002 9999000003; do
    tokens+=("$inst:$("$bin" --listen 127.0.0.1:$port --data-dir "$1" institution token --institution "$inst")")
  done
  sleep 3
  for n in $(seq 3 24); do
    id=$(printf 'GEMJ-DEMO-%04d' "$n")
    for t in "${tokens[@]}"; do
      code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/consent/v1/events" \
        -H "Authorization: Bearer ${t#*:}" -H 'Content-Type: application/json' \
        --data "{\"event_id\": \"bench-w-$id\", \"participant\": \"$id\", \"institution\": \"${t%%:*}\", \"effective_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"kind\": \"withdrawal\", \"level\": \"stop_all_use\"}")
      case "$code" in 2*) ok=$((ok + 1)) ;; esac
    done
    sleep 2.5
  done
  echo "   (withdrawals accepted during the load: $ok)"
}

run() { # store label, data dir
  RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$2" serve --demo >"$work/serve.log" 2>&1 &
  pid=$!
  until curl -fs -o /dev/null "$base/readyz"; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
    sleep 0.1
  done
  local token
  token=$("$bin" --listen 127.0.0.1:$port --data-dir "$2" passport issue --subject bench)
  load "$1: /service-info (anonymous)" "$base/service-info"
  load "$1: htsget ticket, 1 kb BAM region" "$base/htsget/reads/GEMJ-DEMO-0002?format=BAM&referenceName=chr20&start=100000&end=101000" "$token"
  load "$1: DRS object" "$base/ga4gh/drs/v1/objects/GEMJ-DEMO-0002.bam" "$token"
  load "$1: Beacon individuals, ICD-10 filter, count" "$base/beacon/v2/individuals?filters=ICD10:C34&requestedGranularity=count" "$token"
  # The mix with withdrawals: while the ticket load runs, the demo institutions withdraw 22
  # participants (not GEMJ-DEMO-0002, whose file is asked for), one every 2.5 s, each a full
  # withdrawal through the consent API (bumping the consent epoch every instance watches).
  case "$1: htsget ticket while participants withdraw" in *"${ONLY:-}"*)
    withdraw "$2" &
    local withdrawing=$!
    load "$1: htsget ticket while participants withdraw" "$base/htsget/reads/GEMJ-DEMO-0002?format=BAM&referenceName=chr20&start=100000&end=101000" "$token"
    wait "$withdrawing" || true
    ;;
  esac
  load "$1: Data Connect search, participants by sex per dataset" "$base/data-connect/search" "$token" \
    '{"query": "SELECT dataset_id, sex, sum(participants) AS n FROM gemj.catalogue.participants_by_sex GROUP BY dataset_id, sex ORDER BY dataset_id, sex"}'
  kill -TERM "$pid"; wait "$pid" || true
}

if wants sqlite; then
  run "SQLite" "$work/sqlite"
fi
if wants postgres || wants journal; then
  # PostgreSQL zero-fills each new 16 MB WAL file while commits wait; a server that recycles
  # its old files at checkpoints (min_wal_size) does not (docs/PERFORMANCE.md).
  echo "== PostgreSQL: $(psql -qtA "$pg_url" -c "SELECT string_agg(name || ' ' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('min_wal_size', 'max_wal_size', 'checkpoint_timeout', 'synchronous_commit', 'wal_init_zero')")"
fi
if wants postgres; then
  pg_schema=$schema GEMJ_DATABASE__URL="$pg_url" GEMJ_DATABASE__SCHEMA="$schema" run "PostgreSQL" "$work/postgres"
fi
if wants journal; then
  pg_schema=${schema}_journal GEMJ_DATABASE__URL="$pg_url" GEMJ_DATABASE__SCHEMA="${schema}_journal" \
    GEMJ_AUDIT__JOURNAL=audit-journal.sqlite run "PostgreSQL, local audit journal" "$work/journal"
fi
