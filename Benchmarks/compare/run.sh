#!/usr/bin/env bash
# End-to-end speed comparison: Synapse against PyTorch (CPU), tinygrad (OpenCL) and CLBlast (OpenCL GEMM).
#
# Usage: Benchmarks/compare/run.sh [--threads T] [--runs N] [--repeats R] [--max-wait S] [--quick] [--json FILE]
#   --threads T   CPU threads for Synapse's CPU backend and PyTorch (default: every core)
#   --runs N      measure every row N times, one round of all rows after another (default 1); the table
#                 gives each run's ratio and how many met the target
#   --repeats R   within a run, time each model row's pair R times in turns (Synapse first in odd turns, the
#                 reference first in even ones) and keep each side's best (default 3)
#   --max-wait S  before each pair, wait up to S seconds for a quick phase of the machine (default 300; quiet.sh)
#   --quick       fewer steps (a smoke test; figures are noisier)
#   --json FILE   also write every row of every run, with versions, to FILE
#
# Each row runs Synapse and its reference back to back so both see the same machine
# load, and the model rows alternate them --repeats times, keeping each side's best; each pair
# starts in a quick phase of the machine (quiet.sh), and the JSON file keeps every repeat with
# the cores' handover time before it. Run it on an otherwise idle machine: with --threads equal
# to the core count, PyTorch's OpenMP threads slow down many times over when another process
# holds a core.
set -euo pipefail

die() { echo "run.sh: error: $*" >&2; exit 1; }

threads=$(nproc)
runs=1
repeats=3
quick=0
json_file=""
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
        --runs) [ $# -ge 2 ] || die "--runs needs a value"; runs=$2; shift 2 ;;
        --repeats) [ $# -ge 2 ] || die "--repeats needs a value"; repeats=$2; shift 2 ;;
        --max-wait) [ $# -ge 2 ] || die "--max-wait needs a value"; quick_phase_wait=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --json) [ $# -ge 2 ] || die "--json needs a file name"; json_file=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer, got '$threads'"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$runs'"
[[ "$repeats" =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer, got '$repeats'"
[[ "${quick_phase_wait-0}" =~ ^[0-9]+$ ]] || die "--max-wait must be a whole number of seconds, got '$quick_phase_wait'"
[ -z "$json_file" ] || json_file=$(realpath -m "$json_file")

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."   # the repository root
synapse=${SYNAPSE:-.build/release/synapse}   # SYNAPSE=path uses that binary as it is, no build
venv=.build-py
py=$venv/bin/python

# --- Python side: a venv with PyTorch and tinygrad -----------------------------------------
# Plain PyPI torch: the CPU-only wheel index is not reachable from every machine this runs
# on, so this pulls the default wheel and its CUDA libraries (about 5 GB, unused here).
if ! "$py" -c 'import torch, tinygrad, numpy' 2>/dev/null; then
    echo "Setting up $venv (PyTorch, tinygrad; several GB on first install)..." >&2
    [ -x "$py" ] || python3 -m venv "$venv" || die "could not create $venv (is python3-venv installed?)"
    "$py" -m pip install -q --upgrade pip || die "pip upgrade failed in $venv"
    "$py" -m pip install -q torch tinygrad numpy || die "pip install torch tinygrad numpy failed"
fi

# --- Synapse: release builds when missing or older than any source --------------------------
gemm_bench=$(dirname "$synapse")/gemm-bench
core_latency=$(dirname "$synapse")/core-latency
for product in synapse gemm-bench core-latency; do
    binary=$(dirname "$synapse")/$product
    if [ -z "${SYNAPSE:-}" ] && { [ ! -x "$binary" ] || [ -n "$(find Sources Kernels Benchmarks/GEMM Benchmarks/CoreLatency Package.swift -newer "$binary" -print -quit)" ]; }; then
        echo "Building $binary (swift build -c release --product $product)..." >&2
        swift build -c release --product "$product" || die "swift build failed"
    fi
done
[ -x "$synapse" ] || die "$synapse is not an executable"
[ -x "$core_latency" ] || core_latency=""   # then nothing waits for quick phases (quiet.sh says so)
# shellcheck source=quiet.sh
. Benchmarks/compare/quiet.sh
# The CLBlast rows need gemm-bench beside synapse and CLBlast itself; without either they are left out, said up front.
clblast_rows=1
if [ ! -x "$gemm_bench" ]; then
    echo "warning: no $gemm_bench beside SYNAPSE=$synapse: the GEMM rows against CLBlast are left out" >&2
    clblast_rows=0
elif ! ldconfig -p 2>/dev/null | grep -q 'libclblast\.so'; then
    echo "warning: CLBlast is not installed (apt-get install libclblast-dev): the GEMM rows against it are left out" >&2
    clblast_rows=0
fi

# Steps per model: "steps warmup". Synapse, PyTorch and tinygrad each time three blocks of that many
# steps and report the median (--no-layers skips Synapse's per-layer profile, which the table does not use).
if [ "$quick" = 1 ]; then
    declare -A steps=([mlp]="10 2" [lenet]="5 1" [alexnet]="1 1" [lstm-small]="5 1" [lstm-large]="1 1")
    gemm_repeats=2
else
    declare -A steps=([mlp]="50 5" [lenet]="30 3" [alexnet]="3 1" [lstm-small]="20 3" [lstm-large]="3 1")
    gemm_repeats=5
fi

# How busy the machine is right now, in cores: CPU time used by everyone over 2 s (/proc/stat;
# the load average lags by minutes).
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
b0=$(cpu_busy); sleep 2; b1=$(cpu_busy)
load=$(awk -v d=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz / 2 }')
if awk -v l="$load" 'BEGIN { exit !(l > 0.1) }'; then
    echo "warning: other processes are using $load cores; they will distort these figures" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows.jsonl
find_quickest_core_ns

# run NAME CMD...: runs CMD, keeping its stdout in $tmp/NAME.json; stops with its stderr on failure.
run() {
    local name=$1; shift
    local start=$SECONDS
    if ! "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
        echo "run.sh: error: '$*' failed:" >&2
        tail -n 20 "$tmp/$name.err" "$tmp/$name.json" >&2
        exit 1
    fi
    echo "  $name: $((SECONDS - start)) s" >&2
}

# field FILE KEY: one number from the JSON object FILE holds (pretty-printed or not; anything
# printed before the object is skipped). KEY is images_per_second, tokens_per_second, gflops, kernel:NAME for the
# gflops of the named entry of a `bench kernels` report, or COLUMN:SHAPE for a column of a gemm-bench row.
field() {
    "$py" - "$@" <<'EOF' || die "no '$2' in the output of $(basename "$1" .json): $(head -c 300 "$1")"
import json, sys
path, key = sys.argv[1], sys.argv[2]
try:
    text = open(path).read()
    obj, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])
    if key.startswith("kernel:"):
        value = next(k["gflops"] for k in obj["kernels"] if k["name"] == key[7:])
    elif ":" in key:
        column, shape = key.split(":", 1)
        value = next(r[column] for r in obj["rows"] if r["shape"] == shape)
    else:
        value = obj[key]
    print(float(value))
except (ValueError, KeyError, TypeError, StopIteration):
    sys.exit(1)
EOF
}

# best PREFIX KEY: the largest KEY (a rate) over the repeats PREFIX-1.json ... PREFIX-R.json, then every repeat's.
best() {
    local r v values=()
    for r in $(seq 1 "$repeats"); do v=$(field "$1-$r.json" "$2") || exit 1; values+=("$v"); done
    echo "$(printf "%s\n" "${values[@]}" | LC_ALL=C sort -g | tail -n 1) ${values[*]}"
}

# row KEY=VALUE...: appends one result row of the current run.
row() { "$py" -c 'import json, sys; print(json.dumps(dict(a.split("=", 1) for a in sys.argv[1:])))' run="$round" "$@" >>"$rows"; }

for round in $(seq 1 "$runs"); do
[ "$runs" = 1 ] || echo "run $round of $runs:" >&2

for spec in mlp:64:1.3 lenet:64:1.5 alexnet:16:1.3; do
    IFS=: read -r model batch target <<<"$spec"
    read -r s w <<<"${steps[$model]}"
    echo "$model (batch $batch, $s steps, $threads threads):" >&2
    ours() {
        run "synapse-$model-$repeat" "$synapse" bench model --model "$model" --batch "$batch" --steps "$s" \
            --warmup "$w" --device cpu --threads "$threads" --no-layers --json
    }
    theirs() {
        run "pytorch-$model-$repeat" "$py" Benchmarks/compare/pytorch_train.py --model "$model" --batch "$batch" \
            --steps "$s" --warmup "$w" --threads "$threads" --json
    }
    in_turns ours theirs
    # (assignments first: set -e does not see a failure inside a command's arguments)
    read -r syn syn_runs < <(best "$tmp/synapse-$model" images_per_second) || exit 1
    read -r ref ref_runs < <(best "$tmp/pytorch-$model" images_per_second) || exit 1
    row kind=cpu model="$model" batch="$batch" threads="$threads" target="$target" reference=pytorch \
        synapse="$syn" ref="$ref" synapse_runs="$syn_runs" ref_runs="$ref_runs" core_ns_runs="$core_runs" unit=img/s
done

# The character model (embedding 64, LSTM, linear to 96 characters), sequences of 50 in batches of 50, as
# char-rnn and torch-rnn train: a small LSTM, where per-step overhead counts, and a large one, bound by GEMMs.
for spec in lstm-small:1:128:1.2 lstm-large:2:512:1.0; do
    IFS=: read -r name layers hidden target <<<"$spec"
    read -r s w <<<"${steps[$name]}"
    echo "char-lstm ${layers}x$hidden (batch 50, sequence 50, $s steps, $threads threads):" >&2
    ours() {
        run "synapse-$name-$repeat" "$synapse" bench model --model char-lstm --layers "$layers" --hidden "$hidden" \
            --batch 50 --sequence-length 50 --steps "$s" --warmup "$w" --device cpu --threads "$threads" --no-layers --json
    }
    theirs() {
        run "pytorch-$name-$repeat" "$py" Benchmarks/compare/pytorch_lstm.py --layers "$layers" --hidden "$hidden" \
            --batch 50 --sequence 50 --steps "$s" --warmup "$w" --threads "$threads" --json
    }
    in_turns ours theirs
    read -r syn syn_runs < <(best "$tmp/synapse-$name" tokens_per_second) || exit 1
    read -r ref ref_runs < <(best "$tmp/pytorch-$name" tokens_per_second) || exit 1
    row kind=cpu model="lstm-${layers}x$hidden" batch=50 threads="$threads" target="$target" reference=pytorch \
        synapse="$syn" ref="$ref" synapse_runs="$syn_runs" ref_runs="$ref_runs" core_ns_runs="$core_runs" unit=char/s
done

read -r s w <<<"${steps[mlp]}"
echo "mlp on OpenCL (batch 64, $s steps):" >&2
ours() {
    run "synapse-cl-mlp-$repeat" "$synapse" bench model --model mlp --batch 64 --steps "$s" --warmup "$w" \
        --device opencl --no-layers --json
}
theirs() {
    run "tinygrad-mlp-$repeat" "$py" Benchmarks/compare/tinygrad_bench.py mlp --batch 64 --steps "$s" --warmup "$w" --json
}
in_turns ours theirs
read -r syn syn_runs < <(best "$tmp/synapse-cl-mlp" images_per_second) || exit 1
read -r ref ref_runs < <(best "$tmp/tinygrad-mlp" images_per_second) || exit 1
row kind=opencl model=mlp batch=64 threads=- target=1.0 reference=tinygrad synapse="$syn" ref="$ref" \
    synapse_runs="$syn_runs" ref_runs="$ref_runs" core_ns_runs="$core_runs" unit=img/s

echo "gemm 1024 on OpenCL:" >&2
wait_for_quick_phase
run synapse-cl-gemm "$synapse" bench kernels --device opencl --sizes 1024 --filter gemm-1024 --json
run tinygrad-gemm "$py" Benchmarks/compare/tinygrad_bench.py gemm --size 1024 --repeats "$gemm_repeats" --json
syn=$(field "$tmp/synapse-cl-gemm.json" kernel:gemm-1024)
ref=$(field "$tmp/tinygrad-gemm.json" gflops)
row kind=opencl model=gemm-1024 batch=- threads=- target=- reference=tinygrad synapse="$syn" ref="$ref" unit=GFLOP/s

if [ "$clblast_rows" = 1 ]; then
    echo "gemm on OpenCL against CLBlast on the same device and queue:" >&2
    wait_for_quick_phase
    run gemm-bench "$gemm_bench" --json --reps "$gemm_repeats"
    for spec in "512^3:gemm-512" "1024^3:gemm-1024" "2048^3:gemm-2048" "fc6 128x4096x9216 NT:gemm-fc6"; do
        IFS=: read -r shape name <<<"$spec"
        syn=$(field "$tmp/gemm-bench.json" "synapse_opencl:$shape")
        ref=$(field "$tmp/gemm-bench.json" "clblast:$shape")
        row kind=opencl model="$name" batch=- threads=- target=2.0 reference=clblast synapse="$syn" ref="$ref" unit=GFLOP/s
    done
fi
done

# The table, and the JSON file with versions and the raw outputs' key figures.
"$py" - "$rows" "$json_file" "$tmp" "$load" <<'EOF'
import json, statistics, subprocess, sys
rows_path, json_file, tmp, load = sys.argv[1:]
rows = [json.loads(line) for line in open(rows_path)]
for r in rows:
    # Numbers as numbers in the JSON file; "-" (not applicable) as null.
    for k in ("run", "batch", "threads"):
        r[k] = None if r[k] == "-" else int(r[k])
    for k in ("target", "synapse", "ref"):
        r[k] = None if r[k] == "-" else float(r[k])
    for k in ("synapse_runs", "ref_runs", "core_ns_runs"):
        if k in r:
            r[k] = [float(v) for v in r[k].split()]
    r["ratio"] = round(r["synapse"] / r["ref"], 3)
# One line per comparison: the medians of its runs, and every run's ratio.
keys = list(dict.fromkeys((r["kind"], r["model"], r["reference"]) for r in rows))
print(f"{'backend':8}{'model':11}{'batch':>6}{'threads':>8}  {'Synapse':>10}  {'reference':>19}  {'ratio per run':<20}{'target':>8}")
for key in keys:
    runs = [r for r in rows if (r["kind"], r["model"], r["reference"]) == key]
    first = runs[0]
    syn, ref = statistics.median(r["synapse"] for r in runs), statistics.median(r["ref"] for r in runs)
    ratios = " ".join(f"{r['ratio']:.2f}" for r in runs)
    if first["target"] is None:
        target, verdict = "-", ""
    else:
        met = sum(r["ratio"] >= first["target"] for r in runs)
        target = f">= {first['target']}"
        verdict = " ok" if met == len(runs) else f" BELOW in {len(runs) - met} of {len(runs)}"
    print(f"{first['kind']:8}{first['model']:11}{first['batch'] or '-':>6}{first['threads'] or '-':>8}  {syn:10.1f}  "
          f"{first['reference'] + ' ' + format(ref, '.1f'):>19}  {ratios:<20}{target:>8}{verdict}")
print("(img/s for image models, characters/s for LSTMs, GFLOP/s for gemm, medians over the runs of each run's best "
      "repeat; ratio = Synapse / reference)")
if json_file:
    def version(name):
        return json.loads(open(f"{tmp}/{name}.json").read())["version"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    report = {"synapse_commit": commit, "pytorch": version("pytorch-mlp-1"), "tinygrad": version("tinygrad-mlp-1"),
              "busy_cores_at_start": float(load), "rows": rows}
    with open(json_file, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {json_file}")
EOF
