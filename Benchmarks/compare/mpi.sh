#!/usr/bin/env bash
# Data-parallel throughput on one machine: 2 ranks x 1 thread (mpirun, gradients all-reduced every step) against
# 1 rank x 2 threads, for the MLP, the LeNet-style net and AlexNet (227x227x3), with the same global batch, on the
# CPU backend (`synapse bench model`, median of three blocks of steps); the 2-rank runs all-reduce in one piece after
# backward (the default) and, with --overlap-allreduce, in buckets on a thread of their own beside it. The runs alternate, --reps times each, and the
# table gives their median images/s, the ratio, the time per step the update waited for the all-reduce, and the
# bytes it moves.
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

echo "| model | global batch | 1 rank x 2 threads | 2 ranks x 1 thread | ratio | wait a step | 2 ranks, overlapped | ratio | wait a step | bytes all-reduced |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for model in ${models//,/ }; do
    case "$model" in
        alexnet) batch=16 steps=(--steps 4 --warmup 1) ;;
        *) batch=64 steps=(--steps 20 --warmup 3) ;;
    esac
    single=() over=() overWait=() after=() afterWait=() floats=0
    images() { sed -n 's/.*ms, \([0-9.]*\) images\/s.*/\1/p' <<< "$1"; }
    waited() { sed -n 's/.*: \([0-9.]*\) ms a step/\1/p' <<< "$1"; }
    for _ in $(seq "$reps"); do
        out=$("$synapse" bench model --model "$model" --batch "$batch" --device cpu --threads 2 --no-layers "${steps[@]}")
        single+=("$(images "$out")")
        out=$("${mpirun[@]}" -np 2 "$synapse" bench model --model "$model" --batch "$batch" --device cpu --threads 1 --no-layers "${steps[@]}")
        after+=("$(images "$out")") afterWait+=("$(waited "$out")")
        floats=$(sed -n 's/.*all-reduce of \([0-9]*\) floats.*/\1/p' <<< "$out")
        out=$("${mpirun[@]}" -np 2 "$synapse" bench model --model "$model" --batch "$batch" --device cpu --threads 1 --no-layers \
            --overlap-allreduce "${steps[@]}")
        over+=("$(images "$out")") overWait+=("$(waited "$out")")
    done
    m() { printf '%s\n' "$@" | median; }
    awk -v m="$model" -v b="$batch" -v s="$(m "${single[@]}")" -v o="$(m "${over[@]}")" -v ow="$(m "${overWait[@]}")" \
        -v a="$(m "${after[@]}")" -v aw="$(m "${afterWait[@]}")" -v f="$floats" 'BEGIN {
        printf "| %s | %d | %.0f img/s | %.0f img/s | %.2fx | %.2f ms | %.0f img/s | %.2fx | %.2f ms | %.1f MB |\n",
               m, b, s, a, a / s, aw, o, o / s, ow, f * 4 / 1e6 }'
done
echo
echo "'wait a step' is the time the update waited for the all-reduce (downloads and uploads included): all of it after"
echo "backward, and what backward did not hide when overlapped. With 2 ranks a ring all-reduce sends and receives"
echo "2(N-1)/N = 1 times the gradients' bytes per rank."
