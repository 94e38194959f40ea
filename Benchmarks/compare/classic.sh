#!/usr/bin/env bash
# The classic models against their references, side by side on this machine:
#   RBM (CD-1 and PCD, 256 hidden units, batch 64, 5 epochs on the binarised Fashion-MNIST images) against
#   scikit-learn's BernoulliRBM: training seconds and test pseudo-likelihood;
#   sparse-autoencoder and stacked-autoencoder pretraining steps against the same models in PyTorch: images/s;
#   sparse coding against scikit-learn's MiniBatchDictionaryLearning: seconds and held-out error at its sparsity;
#   with --accuracy, the Fashion-MNIST test accuracy of softmax regression, stacked denoising autoencoders, a deep
#   belief net and the same sigmoid nets trained from scratch, beside PyTorch's under the same recipes (minutes).
# Each speed comparison runs the reference and Synapse one after the other, --repeats times (default 3; the
# reference first in odd turns, Synapse in even ones), each time after waiting for a quick phase of the machine
# (quiet.sh; --max-wait S, default 300, bounds the wait), and compares each side's best run. Every run is printed,
# with the cores' handover time before it.
# Usage: Benchmarks/compare/classic.sh [--threads T] [--repeats N] [--max-wait S] [--accuracy]
set -euo pipefail
die() { echo "classic.sh: error: $*" >&2; exit 1; }
threads=$(nproc)
repeats=3
accuracy=0
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
        --repeats) [ $# -ge 2 ] || die "--repeats needs a value"; repeats=$2; shift 2 ;;
        --max-wait) [ $# -ge 2 ] || die "--max-wait needs a value"; quick_phase_wait=$2; shift 2 ;;
        --accuracy) accuracy=1; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer, got '$threads'"
[[ "$repeats" =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer, got '$repeats'"
[[ "${quick_phase_wait-0}" =~ ^[0-9]+$ ]] || die "--max-wait must be a whole number of seconds, got '$quick_phase_wait'"
cd "$(dirname "$0")/../.."
synapse=${SYNAPSE:-.build/release/synapse}
py=.build-py/bin/python
[ -d /usr/share/datasets/fashion-mnist ] || die "Fashion-MNIST is missing (apt-get install dataset-fashion-mnist)"
if ! "$py" -c 'import torch, sklearn, numpy, PIL' 2>/dev/null; then
    echo "Installing PyTorch and scikit-learn into .build-py..." >&2
    [ -x "$py" ] || python3 -m venv .build-py || die "could not create .build-py (is python3-venv installed?)"
    "$py" -m pip install -q torch scikit-learn numpy pillow || die "pip install failed"
fi
if [ -z "${SYNAPSE:-}" ]; then
    for product in synapse core-latency; do swift build -c release --product $product >&2 || die "swift build failed"; done
fi
core_latency=$(dirname "$synapse")/core-latency
if [ -x "$core_latency" ]; then core_latency=$(realpath "$core_latency"); else core_latency=""; fi   # then no waiting
# shellcheck source=quiet.sh
. Benchmarks/compare/quiet.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Absolute paths, the venv's python not resolved (its symlink leads to the bare interpreter).
synapse=$(realpath "$synapse")
py=$PWD/$py
cd Benchmarks/compare
find_quickest_core_ns

# seconds and metric of a synapse run's curves: the epochs' training seconds summed, the last epoch's metric.
curves() { awk -F, 'NR > 1 { s += $6; m = $4 } END { printf "%.1f %.2f\n", s, m }' "$1"; }
# json KEY: that field of the JSON object on stdin (anything printed before the object skipped).
json() { "$py" -c 'import json, sys; t = sys.stdin.read(); print(json.loads(t[t.index("{"):])[sys.argv[1]])' "$1"; }
# best min|max VALUES...: the smallest or largest of the values.
best() { local how=$1; shift; printf "%s\n" "$@" | LC_ALL=C sort -g | { [ "$how" = min ] && head -n 1 || tail -n 1; }; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "RBM, 256 hidden units, batch 64, 5 epochs, binarised Fashion-MNIST, $threads threads, $repeats runs each (seconds):"
sk_runs=()
declare -A runs=() pl=()   # by variant: the seconds of every run, the last run's test pseudo-likelihood
theirs() {
    OPENBLAS_NUM_THREADS=$threads "$py" sklearn_rbm.py --threads "$threads" --json > "$tmp/sklearn.json"
    sk_runs+=("$(json seconds < "$tmp/sklearn.json")")
    sk_pl=$(json pseudo_likelihood < "$tmp/sklearn.json")
}
ours() {
    local variant name flag seconds likelihood
    for variant in "cd:" "pcd:--persistent"; do
        name=${variant%%:*} flag=${variant#*:}
        "$synapse" train --model rbm --widths 256 --batch-size 64 --epochs 5 $flag --device cpu --threads "$threads" \
            --checkpoint "$tmp/rbm.safetensors" --overwrite > "$tmp/rbm.log" 2>&1 || die "synapse rbm: $(tail -3 "$tmp/rbm.log")"
        read -r seconds likelihood < <(curves "$tmp/rbm.csv")
        runs[$name]+=" $seconds" pl[$name]=$likelihood
    done
}
in_turns theirs ours
sk=$(best min "${sk_runs[@]}")
printf "  %-34s %8.1f s (runs %s)  test pseudo-likelihood %8.2f\n" "scikit-learn BernoulliRBM (PCD)" "$sk" \
    "$(printf "%.1f " "${sk_runs[@]}")" "$sk_pl"
echo "  (the cores' handover before each run, ns:$core_runs)"
for variant in "CD-1:cd" "PCD:pcd"; do
    name=${variant%%:*} key=${variant#*:}
    our=$(best min ${runs[$key]})
    printf "  %-34s %8.1f s (runs%s)  test pseudo-likelihood %8.2f   %sx faster\n" "Synapse rbm ($name)" "$our" \
        "${runs[$key]} " "${pl[$key]}" "$(ratio "$sk" "$our")"
done

echo "Autoencoder pretraining steps, batch 64, Adam, $threads threads (images/s; each run the median of 3 blocks of 200 steps):"
for spec in "sparse:autoencoder --sparsity-weight 3" "stacked:stacked-autoencoder --corruption 0.2"; do
    name=${spec%%:*} args=${spec#*:}
    ref_runs=() our_runs=()
    theirs() { ref_runs+=("$("$py" pytorch_autoencoder.py --model "$name" --threads "$threads" --steps 200 --json | json images_per_second)"); }
    ours() { our_runs+=("$("$synapse" bench model --model $args --device cpu --threads "$threads" --steps 200 --json | json images_per_second)"); }
    in_turns theirs ours
    ref=$(best max "${ref_runs[@]}") our=$(best max "${our_runs[@]}")
    printf "  %-10s Synapse %8.0f (runs %s)  PyTorch %8.0f (runs %s)  %sx  (cores:%s ns)\n" "$name" "$our" \
        "$(printf "%.0f " "${our_runs[@]}")" "$ref" "$(printf "%.0f " "${ref_runs[@]}")" "$(ratio "$our" "$ref")" "$core_runs"
done

echo "Sparse coding, 128 atoms, 20,000 8x8 patches of the default photographs, lambda 0.15, batch 256, 10 epochs (seconds):"
sk_runs=() sc_runs=()
theirs() {
    OPENBLAS_NUM_THREADS=$threads "$py" sklearn_dictionary.py --threads "$threads" --json > "$tmp/dictionary.json"
    sk_runs+=("$(json seconds < "$tmp/dictionary.json")")
}
ours() {
    "$synapse" train --model sparse-coding --device cpu --threads "$threads" --checkpoint "$tmp/sc.safetensors" --overwrite \
        > "$tmp/sc.log" 2>&1 || die "synapse sparse coding: $(tail -3 "$tmp/sc.log")"
    sc_runs+=("$(awk '/^epoch [0-9]+\/[0-9]+  train/ { s += $(NF - 1) } END { print s }' "$tmp/sc.log")")
}
in_turns theirs ours
sk=$(best min "${sk_runs[@]}") our=$(best min "${sc_runs[@]}")
"$py" -c 'import json, sys; r = json.load(open(sys.argv[1])); print("  %-40s %8.1f s (runs %s)  held-out mse %.4f at %.1f codes" % ("scikit-learn MiniBatchDictionaryLearning", float(sys.argv[2]), sys.argv[3], r["mean_squared_error"], r["nonzeros"]))' \
    "$tmp/dictionary.json" "$sk" "$(printf "%.1f " "${sk_runs[@]}")"
printf "  %-40s %8.1f s (runs %s)  %s   %sx faster  (cores:%s ns)\n" "Synapse sparse-coding" "$our" \
    "$(printf "%.1f " "${sc_runs[@]}")" "$(grep -E '^epoch [0-9]+/[0-9]+  train' "$tmp/sc.log" | tail -n 1)" \
    "$(ratio "$sk" "$our")" "$core_runs"

[ "$accuracy" = 1 ] || exit 0
echo "Fashion-MNIST test accuracy (20 epochs in all; stacks: 5 pretraining epochs per layer of 500,500, then 10):"
run() {
    local name=$1; shift
    "$synapse" train "$@" --device cpu --threads "$threads" --checkpoint "$tmp/$name.safetensors" --overwrite > "$tmp/$name.log" 2>&1 \
        || die "synapse $name: $(tail -3 "$tmp/$name.log")"
    printf "  %-52s %6.2f%%\n" "Synapse $name" "$(awk -F, 'NR > 1 { m = $4 } END { print 100 * m }' "$tmp/$name.csv")"
}
run softmax --model softmax --epochs 20
run "stacked denoising autoencoders" --model stacked-autoencoder --corruption 0.2 --pretrain-epochs 5 --epochs 10
run "sigmoid MLP 500-500, Adam, from scratch" --model stacked-autoencoder --pretrain-epochs 0 --epochs 20
run "deep belief net" --model dbn --pretrain-epochs 5 --epochs 10
run "sigmoid MLP 500-500, SGD, [0, 1] pixels, from scratch" --model dbn --pretrain-epochs 0 --epochs 20
for model in softmax mlp-adam mlp-sgd; do
    printf "  %-52s %6.2f%%\n" "PyTorch $model" "$("$py" pytorch_classic.py --model "$model" --threads "$threads" --json \
        | "$py" -c 'import json, sys; print(100 * json.load(sys.stdin)["test_accuracy"])')"
done
