#!/usr/bin/env bash
# Data-parallel throughput on one machine: 2 ranks x 1 thread (mpirun, gradients all-reduced every step) against
# 1 rank x 2 threads, for the MLP, the LeNet-style net and AlexNet (227x227x3), with the same global batch, on the
# CPU backend (`synapse bench model`, median of three blocks of steps). The two kinds of run alternate, --reps times
# each, and the table gives their median images/s, the ratio, the all-reduce's time per step and the bytes it moves.
# Usage: Benchmarks/compare/mpi.sh [--reps N] [--models mlp,lenet,alexnet]
set -euo pipefail
reps=3 models=mlp,lenet,alexnet
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) reps=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "mpi.sh: unknown argument '$1'" >&2; exit 1 ;;
    esac
done
cd "$(dirname "$0")/../.."
synapse=.build/release/synapse
[ -x "$synapse" ] || swift build -c release --product synapse
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -ne 0 ] || mpirun+=(--allow-run-as-root)

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "| model | global batch | 1 rank x 2 threads | 2 ranks x 1 thread | ratio | all-reduce a step | floats all-reduced | all-reduce rate |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for model in ${models//,/ }; do
    case "$model" in
        alexnet) batch=16 steps=(--steps 4 --warmup 1) ;;
        *) batch=64 steps=(--steps 20 --warmup 3) ;;
    esac
    single=() double=() reduce=() floats=0
    for _ in $(seq "$reps"); do
        out=$("$synapse" bench model --model "$model" --batch "$batch" --device cpu --threads 2 --no-layers "${steps[@]}")
        single+=("$(sed -n 's/.*ms, \([0-9.]*\) images\/s.*/\1/p' <<< "$out")")
        out=$("${mpirun[@]}" -np 2 "$synapse" bench model --model "$model" --batch "$batch" --device cpu --threads 1 --no-layers "${steps[@]}")
        double+=("$(sed -n 's/.*ms, \([0-9.]*\) images\/s.*/\1/p' <<< "$out")")
        reduce+=("$(sed -n 's/.*: \([0-9.]*\) ms a step/\1/p' <<< "$out")")
        floats=$(sed -n 's/.*all-reduce of \([0-9]*\) floats.*/\1/p' <<< "$out")
    done
    s=$(printf '%s\n' "${single[@]}" | median) d=$(printf '%s\n' "${double[@]}" | median) r=$(printf '%s\n' "${reduce[@]}" | median)
    awk -v m="$model" -v b="$batch" -v s="$s" -v d="$d" -v r="$r" -v f="$floats" 'BEGIN {
        printf "| %s | %d | %.0f img/s | %.0f img/s | %.2fx | %.2f ms | %d (%.1f MB) | %.2f GB/s |\n",
               m, b, s, d, d / s, r, f, f * 4 / 1e6, f * 4 / (r / 1000) / 1e9 }'
done
echo
echo "The all-reduce rate is the bytes of the gradients over the all-reduce's time (its download and upload included);"
echo "with 2 ranks a ring all-reduce sends and receives 2(N-1)/N = 1 times those bytes per rank."
