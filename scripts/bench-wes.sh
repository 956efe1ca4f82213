#!/usr/bin/env bash
# WES benchmarks on loopback: what the gateway adds to a run, beside the engines' own start-up.
# Bounded: a fixed number of runs, one at a time; only 127.0.0.1 is targeted.
#
#   scripts/bench-wes.sh [RUNS]        (default 10; PROFILE=debug uses the debug build)
#
# On the demo cohort (24 participants), with cwltool and Toil from .venv-engines (as .ci/run
# installs them): for each engine, RUNS submissions of the demo's example workflow
# (examples/wes: three scattered `samtools view -c` over a demo BAM given by its drs:// id),
# timing the submission answer, the time to RUNNING (staging through signed data URLs, job
# document, engine spawned) and to COMPLETE (outputs registered as DRS objects), polling every
# 10 ms. The same workflow is then run by the engine alone, on the same BAM copied locally, RUNS
# times: the gateway's overhead is the difference of the medians. Engine start-up: `--version`
# and an empty workflow. Needs curl, python3, samtools.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
engines_bin=$(pwd)/.venv-engines/bin
[ -x "$engines_bin/cwltool" ] || { echo "needs $engines_bin/cwltool (.ci/run installs it)"; exit 1; }
profile=${PROFILE:-release}
if [ "$profile" = release ]; then cargo build --release --bin gemj-gateway >/dev/null; else cargo build --bin gemj-gateway >/dev/null; fi
bin=$(pwd)/target/$profile/gemj-gateway
echo "== gateway build: $profile"
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18193
base="http://127.0.0.1:$port"
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
data="$work/data"
PATH="$engines_bin:$PATH" RUST_LOG=warn "$bin" serve --demo --listen 127.0.0.1:$port --data-dir "$data" >"$work/log" 2>&1 &
pid=$!
until curl -fs -o /dev/null "$base/readyz"; do sleep 0.1; done
token=$("$bin" passport issue --listen 127.0.0.1:$port --data-dir "$data" --subject bench \
  --dataset GEMJ-DEMO-JOINT-CTRL --purpose DUO:0000006)
# The BAM of the example job, copied out for the engine-alone runs.
local_bam=$(ls "$data"/objects/demo/samples/GEMJ-DEMO-0002/*.bam | head -1)
mkdir -p "$work/alone"
cp examples/wes/*.cwl "$work/alone/"
cp "$local_bam" "$work/alone/in.bam" && cp "$local_bam.bai" "$work/alone/in.bam.bai" 2>/dev/null \
  || samtools index "$work/alone/in.bam"
python3 - "$work/alone" <<'PY'
import json, sys
job = json.load(open("examples/wes/job.json"))
job["bam"] = {"class": "File", "location": "in.bam"}
json.dump(job, open(sys.argv[1] + "/job.json", "w"))
PY
printf 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: "true"\ninputs: []\noutputs: []\n' >"$work/alone/empty.cwl"
echo '{}' >"$work/alone/empty.json"

python3 - "$base" "$token" "$runs" "$work/alone" "$engines_bin" <<'PY'
import json, os, statistics, subprocess, sys, time, urllib.request, uuid
base, token, runs, alone, engines = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
wes = base + "/ga4gh/wes/v1"
auth = {"Authorization": "Bearer " + token}

def form(fields, files):
    b = "bench" + uuid.uuid4().hex
    out = b""
    for k, v in fields:
        out += f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v.encode() + b"\r\n"
    for name in files:
        data = open("examples/wes/" + name, "rb").read()
        out += (f'--{b}\r\nContent-Disposition: form-data; name="workflow_attachment"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return f"multipart/form-data; boundary={b}", out + f"--{b}--\r\n".encode()

def call(url, data=None, ctype=None):
    req = urllib.request.Request(url, data=data, headers=dict(auth, **({"Content-Type": ctype} if ctype else {})))
    with urllib.request.urlopen(req) as r:
        return json.load(r)

def median_ms(xs):
    return f"{statistics.median(xs) * 1000:.0f} ms (min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f})"

job = open("examples/wes/job.json").read()
for engine in ("cwltool", "toil"):
    submit, running, done = [], [], []
    for _ in range(runs):
        ctype, body = form([("workflow_type", "CWL"), ("workflow_type_version", "v1.2"),
                            ("workflow_url", "count-reads.cwl"), ("workflow_engine", engine),
                            ("workflow_params", job)], ["count-reads.cwl", "count.cwl", "table.cwl"])
        t0 = time.perf_counter()
        run = call(wes + "/runs", body, ctype)["run_id"]
        t1 = time.perf_counter()
        t_run = None
        while True:
            state = call(f"{wes}/runs/{run}/status")["state"]
            now = time.perf_counter()
            if state == "RUNNING" and t_run is None:
                t_run = now
            if state not in ("QUEUED", "INITIALIZING", "RUNNING"):
                break
            time.sleep(0.01)
        assert state == "COMPLETE", (engine, state, call(f"{wes}/runs/{run}"))
        submit.append(t1 - t0); running.append((t_run or now) - t0); done.append(now - t0)
    cmd = [f"{engines}/cwltool", "--no-container", "--outdir", "out", "count-reads.cwl", "job.json"] if engine == "cwltool" else \
          [f"{engines}/toil-cwl-runner", "--no-container", "--jobStore", "js", "--batchSystem", "single_machine",
           "--outdir", "out", "--clean", "always", "count-reads.cwl", "job.json"]
    env = dict(os.environ, PATH=engines + ":" + os.environ["PATH"])
    bare = []
    for _ in range(runs):
        subprocess.run(["rm", "-rf", "out", "js"], cwd=alone)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=alone, env=env, check=True, capture_output=True)
        bare.append(time.perf_counter() - t0)
    version = [f"{engines}/{'cwltool' if engine == 'cwltool' else 'toil-cwl-runner'}", "--version"]
    ver = []
    for _ in range(runs):
        t0 = time.perf_counter(); subprocess.run(version, env=env, check=True, capture_output=True); ver.append(time.perf_counter() - t0)
    empty = []
    ecmd = cmd[:-2] + ["empty.cwl", "empty.json"]
    for _ in range(runs):
        subprocess.run(["rm", "-rf", "out", "js"], cwd=alone)
        t0 = time.perf_counter(); subprocess.run(ecmd, cwd=alone, env=env, check=True, capture_output=True); empty.append(time.perf_counter() - t0)
    print(f"== {engine}, {runs} runs of examples/wes/count-reads.cwl (3 scattered jobs)")
    print(f"   submission answered (POST /runs -> RunId): {median_ms(submit)}")
    print(f"   submission to RUNNING (staged, engine spawned): {median_ms(running)}")
    print(f"   submission to COMPLETE (outputs registered): {median_ms(done)}")
    print(f"   the engine alone, same workflow, local BAM: {median_ms(bare)}")
    print(f"   gateway overhead per run (median difference): {(statistics.median(done) - statistics.median(bare)) * 1000:.0f} ms")
    print(f"   engine start-up: --version {median_ms(ver)}; an empty workflow {median_ms(empty)}")
PY
