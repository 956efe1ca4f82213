#!/usr/bin/env bash
# FHIR R4 benchmarks, measured from a second process on loopback (wrk, curl). Bounded: every load
# run has a fixed duration; only 127.0.0.1 is targeted.
#
#   scripts/bench-fhir.sh [PARTICIPANTS]        (default: 2000 participants, at 0.05x)
#
# On the demo cohort: $find-subject-variants for one participant over a 1 kb range holding one
# of its variants (the hospital's institution token), a Patient read, population counts
# ($find-population-structural-intersecting-variants, an approved researcher's passport: Beacon
# queries under its privacy rules), each one request at a time; and a 100-entry transaction
# Bundle (1 Patient + 99 laboratory Observations, a new participant each run), timed with curl.
# Budgets are raised for the run; everything else is the default configuration, so every
# request is audited. Needs wrk, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
cargo build --release --bin gemj-gateway >/dev/null
bin=$(pwd)/target/release/gemj-gateway
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18192
fhir="http://127.0.0.1:$port/fhir"
export GEMJ_BEACON__BUDGETS__PER_CALLER=1000000000 GEMJ_BEACON__BUDGETS__PER_IP=1000000000

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
data="$work/cohort"
echo "== cohort: $n participants at 0.05x"
/usr/bin/time -f "wall %e s" "$bin" demo --dir "$data" --participants "$n" --coverage 0.05 2>&1 | tail -1
RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --data-dir "$data" serve --demo >/dev/null 2>&1 &
pid=$!
until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.05; done
cli() { "$bin" --listen 127.0.0.1:$port --data-dir "$data" "$@"; }
inst=$(cli institution token --institution 9999000001 --ttl 3600)
researcher=$(cli passport issue --subject bench --dataset GEMJ-DEMO-JOINT-CTRL --purpose DUO:0000006)

# A participant of the hospital and one of its variants, found through the API itself.
read -r subject range < <(curl -fs -H "Authorization: Bearer $inst" "$fhir/Patient?_count=1" | python3 -c '
import json, sys, urllib.request
b = json.load(sys.stdin); p = b["entry"][0]["resource"]["id"]
req = urllib.request.Request(sys.argv[1] + "/Observation?subject=Patient/" + p + "&category=GE&_count=1",
    headers={"Authorization": "Bearer " + sys.argv[2]})
o = json.load(urllib.request.urlopen(req))["entry"][0]["resource"]
comp = {c["code"]["coding"][0]["code"]: c for c in o["component"]}
acc = comp["48013-7"]["valueCodeableConcept"]["coding"][0]["code"]
start = int(comp["81254-5"]["valueRange"]["low"]["value"])
print(p, f"{acc}:{max(0, start - 500)}-{start + 500}")' "$fhir" "$inst")
echo "== subject $subject, range $range"

load() { # label, url, token
  curl -fs -o /dev/null -H "Authorization: Bearer $3" "$2"
  wrk -t1 -c1 -d2s -H "Authorization: Bearer $3" "$2" >/dev/null
  echo "== $1: one at a time (10 s)"
  wrk -t1 -c1 -d10s --latency -H "Authorization: Bearer $3" "$2" | grep -E '^\s+(50|90|99)%|Requests/sec|Non-2xx'
}
load "\$find-subject-variants, 1 kb, includeVariants" "$fhir/\$find-subject-variants?subject=Patient/$subject&ranges=$range&includeVariants=true" "$inst"
load "Patient read" "$fhir/Patient/$subject" "$inst"
load "\$find-population-structural-intersecting-variants (Beacon counts)" "$fhir/\$find-population-structural-intersecting-variants?ranges=$range" "$researcher"

echo "== 100-entry transaction (1 Patient + 99 Observations), 5 runs"
for run in 1 2 3 4 5; do
  python3 - "$run" > "$work/tx-$run.json" <<'PY'
import json, sys
run = int(sys.argv[1]); pid = f"GEMJ-BENCH-{run:04d}"
entries = [{"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "identifier": [
    {"system": "http://gemj.example.jp/id/subject", "value": pid}], "gender": "female", "birthDate": "1980-05"},
    "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier=http://gemj.example.jp/id/subject|{pid}"}}]
for i in range(99):
    entries.append({"resource": {"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": f"{1000 + i}-{i % 10}"}]},
        "subject": {"reference": "urn:uuid:p"}, "effectiveDateTime": f"2024-03-{1 + i % 28:02d}T09:00:00+09:00",
        "valueQuantity": {"value": 3.2, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}},
        "request": {"method": "POST", "url": "Observation"}})
print(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
PY
  curl -fs -o "$work/tx-$run.out" -w "run $run: HTTP %{http_code} in %{time_total} s, " -H "Authorization: Bearer $inst" \
    -H "Content-Type: application/fhir+json" --data-binary "@$work/tx-$run.json" "$fhir"
  python3 -c 'import collections, json, sys; print(dict(collections.Counter(e["response"]["status"] for e in json.load(open(sys.argv[1]))["entry"])))' "$work/tx-$run.out"
done
kill -TERM "$pid"; wait "$pid" || true
