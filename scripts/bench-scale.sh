#!/usr/bin/env bash
# The scale model of issue 21, part 7 (docs/PERFORMANCE.md, "Scale model"; the arithmetic in
# ARCHITECTURE.md): a synthetic cohort of SAMPLES (2,000) whole genomes, simulated by
# ../shared/tools/make-bench-data.sh (stdpopsim HomSap OutOfAfrica_3G09, human-like variation),
# loaded through the real genome ingest into PostgreSQL (the variant index and the per-specimen
# calls partitioned by chromosome, migration 0015), then Beacon and FHIR population queries
# timed against the release gateway with wrk from a second process on loopback.
#
#   scripts/bench-scale.sh                      # 2,000 genomes, chr20-22 x 4 Mb
#   SAMPLES=500 MB_PER_CHROM=2 scripts/bench-scale.sh
#
# Knobs: SAMPLES (2000), MB_PER_CHROM (4), DATA (/tmp/gemj-scale-data: the simulated data,
# reused when present), GEMJ_BENCH_DATABASE_URL (the local test server), SECS (10 per query),
# CONNECTIONS (8). The schema it loads into is dropped at the end. Needs psql, curl, wrk,
# bcftools, and what make-bench-data.sh needs for a first run (python3 venv, samtools,
# minimap2: apt-get install wrk minimap2 postgresql-client). Bounded: fixed durations,
# 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
samples=${SAMPLES:-2000}
mb=${MB_PER_CHROM:-4}
data=${DATA:-/tmp/gemj-scale-data}
pg_url=${GEMJ_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
secs=${SECS:-10}
connections=${CONNECTIONS:-8}
shared=${GEMJ_SHARED_DIR:-$root/../shared}
schema="bench_scale_$$"
work=$(mktemp -d)
port=18193
base="http://127.0.0.1:$port"
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
  psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" 2>/dev/null || true
}
trap cleanup EXIT
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== PostgreSQL: $(psql -At "$pg_url" -c 'SHOW server_version')"

# 1. The genomes (simulated once, kept in $data). Reads are not what this measures: 1x, wgsim.
if [ ! -s "$data/vcf/cohort.vcf.gz" ]; then
  echo "== simulating $samples genomes over chr20-22 x $mb Mb into $data"
  OUT="$data" N_SAMPLES="$samples" CHROMS="chr20 chr21 chr22" MB_PER_CHROM="$mb" COVERAGE=1 \
    READ_SIM=wgsim ALIGNER=minimap2 bash "$shared/tools/make-bench-data.sh" >/dev/null
fi
vcf="$data/vcf/cohort.vcf.gz"
echo "== cohort: $(bcftools query -l "$vcf" | wc -l) samples, $(bcftools index -n "$vcf") sites, $(( $(stat -c %s "$vcf") / 1000000 )) MB of VCF"
bcftools stats -s - "$vcf" | awk -F'\t' '$1 == "PSC" {n++; s += $5 + $6} END {printf "== per genome: %.0f non-reference sites (mean of %d)\n", s / n, n}'

# 2. The release gateway and the loader.
cargo build --release -p gemj-server --bin gemj-gateway >/dev/null
cargo build --release -p gemj-ingest --example load_cohort >/dev/null
bin=$root/target/release/gemj-gateway

# 3. Load through the real ingest (participants, specimens, consents, then the VCF).
echo "== load into PostgreSQL schema $schema"
/usr/bin/time -f "   load_cohort: %e s wall, %M KB peak memory" \
  "$root/target/release/examples/load_cohort" --database-url "$pg_url" --schema "$schema" \
  --vcf "$vcf" --objects "$work/objects" | sed 's/^/   /'
psql -At "$pg_url" <<SQL | sed 's/^/   /'
SET search_path = $schema;
ANALYZE variants, variant_calls;
SELECT format('%s: %s rows, %s MB (%s partitions; largest %s, %s MB)', t,
              (SELECT sum(c.reltuples)::bigint FROM pg_partition_tree(t) p JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf),
              (SELECT sum(pg_total_relation_size(p.relid)) / 1000000 FROM pg_partition_tree(t) p WHERE p.isleaf),
              (SELECT count(*) FROM pg_partition_tree(t) p WHERE p.isleaf),
              (SELECT p.relid::text FROM pg_partition_tree(t) p WHERE p.isleaf ORDER BY pg_total_relation_size(p.relid) DESC LIMIT 1),
              (SELECT max(pg_total_relation_size(p.relid)) / 1000000 FROM pg_partition_tree(t) p WHERE p.isleaf))
FROM unnest(ARRAY['variants', 'variant_calls']::regclass[]) AS t;
SQL

# 4. Serve it (demo mode: its broker signs the researcher's passport; the demo cohort joins).
RUST_LOG=warn GEMJ_DATABASE__URL="$pg_url" GEMJ_DATABASE__SCHEMA="$schema" \
  GEMJ_BEACON__BUDGETS__PER_CALLER=1000000000 GEMJ_BEACON__BUDGETS__PER_IP=1000000000 \
  "$bin" --listen 127.0.0.1:$port --data-dir "$work/data" serve --demo >"$work/serve.log" 2>&1 &
pid=$!
until curl -fs -o /dev/null "$base/readyz"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.2
done
token=$(GEMJ_DATABASE__URL="$pg_url" GEMJ_DATABASE__SCHEMA="$schema" \
  "$bin" --listen 127.0.0.1:$port --data-dir "$work/data" passport issue --subject scale-researcher 2>/dev/null)

# Alleles to ask for: a common one on chr20 (half the cohort carries it) and a singleton.
set +o pipefail  # `head` closes the pipe early
common=$(bcftools view -H -r chr20 -i 'COUNT(GT="alt") >= '$((samples / 2)) "$vcf" | head -n1 | cut -f1,2,4,5)
rare=$(bcftools view -H -r chr20 -i 'COUNT(GT="alt") == 1' "$vcf" | head -n1 | cut -f1,2,4,5)
set -o pipefail
read -r c_chrom c_pos c_ref c_alt <<<"$common"
read -r r_chrom r_pos r_ref r_alt <<<"$rare"

query() { # label, URL
  local status
  status=$(curl -s -o "$work/answer.json" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $token" "$2")
  echo "== $1"
  echo "   first answer: HTTP ${status% *} in ${status#* } s: $(head -c 300 "$work/answer.json" | tr -d '\n' | sed -E 's/"(meta|info)":\{[^}]*\}//g' | cut -c1-200)"
  wrk -t1 -c"$connections" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$2" \
    | grep -E '^\s+(50|90|99)%|Requests/sec|Non-2xx|Socket errors' | sed 's/^ */   /'
}
beacon="$base/beacon/v2/g_variants"
query "Beacon allele, common ($c_chrom:$c_pos $c_ref>$c_alt), count" \
  "$beacon?referenceName=$c_chrom&start=$((c_pos - 1))&referenceBases=$c_ref&alternateBases=$c_alt&requestedGranularity=count"
query "Beacon allele, singleton ($r_chrom:$r_pos $r_ref>$r_alt), count" \
  "$beacon?referenceName=$r_chrom&start=$((r_pos - 1))&referenceBases=$r_ref&alternateBases=$r_alt&requestedGranularity=count"
query "Beacon range, 100 kb of chr20, count" \
  "$beacon?referenceName=chr20&start=1000000&end=1100000&requestedGranularity=count"
query "Beacon range, 1 Mb of chr20, count" \
  "$beacon?referenceName=chr20&start=1000000&end=2000000&requestedGranularity=count"
query "FHIR \$find-population-specific-variants, common allele" \
  "$base/fhir/\$find-population-specific-variants?variants=$c_chrom-$c_pos-$c_ref-$c_alt"
query "FHIR \$find-population-structural-intersecting-variants, 100 kb of chr20" \
  "$base/fhir/\$find-population-structural-intersecting-variants?ranges=NC_000020.11:1000000-1100000"
