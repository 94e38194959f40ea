#!/usr/bin/env bash
# Training killed with SIGKILL at random moments, saves included, must always leave a checkpoint that
# evaluates, and resuming after every kill must end with the weights of an uninterrupted run, bit for bit.
#   scripts/kill-test.sh [SYNAPSE] [KILLS] [TRAIN OPTIONS...]
# (default .build/release/synapse, 12 kills, the MLP on 300 images for 8 epochs; give --device cpu --threads 1
# among the options, as the resumes use them)
set -euo pipefail
synapse="${1:-.build/release/synapse}"
kills="${2:-12}"
shift $(( $# < 2 ? $# : 2 ))
data=/usr/share/datasets/fashion-mnist
if [ ! -d "$data" ]; then
    echo "kill-test: skipped, $data is missing (apt-get install dataset-fashion-mnist)"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "kill-test: $*" >&2; exit 1; }
# Small epochs, so that saves (4 MB of weights and momentum, fsync'd) are a good part of the run's time.
run=(--model mlp --train-limit 300 --test-limit 100 --batch-size 20 --epochs 8 --device cpu --threads 1)
[ $# -gt 0 ] && run=("$@")

start=$(date +%s%N)
"$synapse" train "${run[@]}" --checkpoint "$dir/reference.safetensors" > "$dir/reference.log" 2>&1 \
    || fail "the uninterrupted run failed: $(cat "$dir/reference.log")"
duration_ms=$(( ($(date +%s%N) - start) / 1000000 ))

# The tensors of a checkpoint: its data section and its header without the metadata (which holds timings).
tensors() {
    python3 - "$1" <<'EOF'
import hashlib, json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
header.pop("__metadata__", None)
print(hashlib.sha256(json.dumps(header, sort_keys=True).encode() + raw[8 + n:]).hexdigest())
EOF
}

checkpoint="$dir/run.safetensors"
during_save=0
temporaries() { ls "$dir" | grep -c '\.tmp-' || true; }
for k in $(seq 1 "$kills"); do
    before=$(temporaries)
    if [ -f "$checkpoint" ]; then
        "$synapse" train --resume --device cpu --threads 1 --checkpoint "$checkpoint" > "$dir/attempt.log" 2>&1 &
    else
        "$synapse" train "${run[@]}" --checkpoint "$checkpoint" > "$dir/attempt.log" 2>&1 &
    fi
    pid=$!
    if [ $((k % 2)) -eq 1 ]; then
        # Anywhere in a whole run's time: start-up, training, evaluation or a save.
        delay_ms=$(( RANDOM % (duration_ms + 1) ))
        sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
        delay_ms="$delay_ms ms"
    else
        # While a save is being written: as soon as its temporary file appears (a builtin test, no fork).
        while kill -0 "$pid" 2>/dev/null && ! compgen -G "$checkpoint.tmp-*" >/dev/null; do :; done
        delay_ms="a save"
    fi
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # A save killed before its rename leaves its temporary file (the next save removes it).
    [ "$(temporaries)" -gt "$before" ] && during_save=$((during_save + 1))
    if [ -f "$checkpoint" ]; then
        "$synapse" evaluate "$checkpoint" --device cpu --threads 1 > "$dir/evaluate.log" 2>&1 \
            || fail "after kill $k (at $delay_ms) the checkpoint does not evaluate: $(cat "$dir/evaluate.log")"
    fi
done

if [ -f "$checkpoint" ]; then
    "$synapse" train --resume --device cpu --threads 1 --checkpoint "$checkpoint" > "$dir/final.log" 2>&1 \
        || fail "the final resume failed: $(cat "$dir/final.log")"
else
    "$synapse" train "${run[@]}" --checkpoint "$checkpoint" > "$dir/final.log" 2>&1 || fail "the final run failed: $(cat "$dir/final.log")"
fi
[ "$(tensors "$checkpoint")" = "$(tensors "$dir/reference.safetensors")" ] \
    || fail "after $kills kills and resumes the weights differ from the uninterrupted run's"
[ "$(temporaries)" -eq 0 ] || fail "temporary files were left behind: $(ls "$dir")"
echo "kill-test (${run[*]}): $kills kills at random moments ($during_save during a save), every checkpoint evaluated, the resumed run is bit-identical to the uninterrupted one"
