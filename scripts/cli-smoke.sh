#!/usr/bin/env bash
# End-to-end check of the command-line tool on a small Fashion-MNIST subset: train, interrupt-free resume,
# refusal of conflicting or overwriting runs, evaluate. Run by scripts/test.sh after the XCTest suite.
set -euo pipefail
synapse="${1:-.build/release/synapse}"
data=/usr/share/datasets/fashion-mnist
if [ ! -d "$data" ]; then
    echo "cli-smoke: skipped, $data is missing (apt-get install dataset-fashion-mnist)"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
small=(--train-limit 600 --test-limit 200 --batch-size 50 --device cpu)
fail() { echo "cli-smoke: $*" >&2; exit 1; }

"$synapse" train "${small[@]}" --epochs 1 --checkpoint "$dir/run.safetensors" > "$dir/train.log"
grep -q "epoch 1/1  train loss" "$dir/train.log" || fail "no epoch summary in: $(cat "$dir/train.log")"
[ -f "$dir/run.csv" ] && [ -f "$dir/run.svg" ] || fail "curves not written"

# An existing checkpoint is never overwritten by a new run, and --resume refuses conflicting settings.
if "$synapse" train "${small[@]}" --checkpoint "$dir/run.safetensors" > "$dir/refused.log" 2>&1; then
    fail "a new run overwrote an existing checkpoint"
fi
grep -q "exists; continue that run with --resume" "$dir/refused.log" || fail "unexpected refusal: $(cat "$dir/refused.log")"
if "$synapse" train --resume --lr 0.5 --checkpoint "$dir/run.safetensors" > "$dir/conflict.log" 2>&1; then
    fail "--resume accepted a conflicting --lr"
fi
grep -q "a resumed run keeps the checkpoint's settings" "$dir/conflict.log" || fail "unexpected error: $(cat "$dir/conflict.log")"

"$synapse" train --resume --epochs 2 --checkpoint "$dir/run.safetensors" > "$dir/resume.log"
grep -q "resumed from .* after epoch 1" "$dir/resume.log" || fail "did not resume: $(cat "$dir/resume.log")"
[ "$(wc -l < "$dir/run.csv")" -eq 3 ] || fail "the curves of a resumed run should hold both epochs: $(cat "$dir/run.csv")"

"$synapse" evaluate "$dir/run.safetensors" --test-limit 200 > "$dir/evaluate.log"
grep -q "test accuracy" "$dir/evaluate.log" && grep -q "confusion matrix" "$dir/evaluate.log" \
    || fail "evaluate output: $(cat "$dir/evaluate.log")"
echo "cli-smoke: train, refusals, resume and evaluate passed"
