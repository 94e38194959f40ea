#!/usr/bin/env bash
# Data-parallel training over Open MPI, end to end: `mpirun -np 1` gives the weights of a run without MPI bit for
# bit; 2 and 4 ranks (oversubscribed) with the same global batch give the per-step losses of a single process within
# 1e-5 relative over 20 steps, for the MLP (dropout on) and the LeNet-style net, on the CPU backend and on OpenCL;
# a rank killed mid-run stops the others within a bounded time, naming the cause, and the checkpoint still
# evaluates. Run by scripts/test.sh after the XCTest suite.
set -euo pipefail
synapse="$(realpath "${1:-.build/release/synapse}")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "mpi-test: $*" >&2; exit 1; }
command -v mpirun >/dev/null || fail "mpirun is missing (apt-get install openmpi-bin)"
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -ne 0 ] || mpirun+=(--allow-run-as-root)
export SYNAPSE_CACHE_DIR="${SYNAPSE_CACHE_DIR:-$dir/cache}"

# One step an epoch for 20 epochs: the curves' train loss column is then the loss of every step.
steps=(--train-limit 32 --batch-size 32 --test-limit 50 --epochs 20 --threads 1)

losses() { cut -d, -f2 "$1" | tail -n +2; }

# Every epoch's training and test loss of run $2 within 1e-5 relative of run $1's (the test loss is evaluated in
# parts, one per rank, and combined).
same_losses() {
    python3 - "$1" "$2" <<'EOF' || fail "$2 departs from $1"
import sys
a, b = ([float(x) for line in open(path).read().split("\n")[1:] if line for x in line.split(",")[1:3]]
        for path in sys.argv[1:3])
assert len(a) == len(b) > 0, (len(a), len(b))
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
assert worst <= 1e-5, f"largest relative difference {worst:.3g}"
print(f"  {sys.argv[2].split('/')[-1]}: {len(a) // 2} epochs, largest relative difference {worst:.2g}")
EOF
}

for device in cpu opencl; do
    if [ "$device" = opencl ] && ! "$synapse" devices | grep -q "opencl:0"; then
        echo "mpi-test: no OpenCL device; the OpenCL runs are left out"
        continue
    fi
    for model in mlp lenet; do
        run=(train --model "$model" --device "$device" "${steps[@]}")
        "$synapse" "${run[@]}" --checkpoint "$dir/$model-$device-single.safetensors" > "$dir/single.log" \
            || fail "single process: $(cat "$dir/single.log")"
        for n in 1 2 4; do
            "${mpirun[@]}" -np "$n" "$synapse" "${run[@]}" --checkpoint "$dir/$model-$device-np$n.safetensors" \
                > "$dir/np$n.log" 2>&1 || fail "mpirun -np $n: $(cat "$dir/np$n.log")"
            grep -q "data-parallel: $n ranks" "$dir/np$n.log" || fail "-np $n did not train data-parallel: $(cat "$dir/np$n.log")"
            same_losses "$dir/$model-$device-single.csv" "$dir/$model-$device-np$n.csv"
        done
        # Overlapped, in buckets of 64 KB: several all-reduces a step, each started while backward goes on.
        SYNAPSE_ALLREDUCE_BUCKET=65536 "${mpirun[@]}" -x SYNAPSE_ALLREDUCE_BUCKET -np 2 "$synapse" "${run[@]}" --overlap-allreduce \
            --checkpoint "$dir/$model-$device-buckets.safetensors" > "$dir/buckets.log" 2>&1 || fail "buckets: $(cat "$dir/buckets.log")"
        same_losses "$dir/$model-$device-single.csv" "$dir/$model-$device-buckets.csv"
        # One rank is the run without MPI, to the bit.
        python3 - "$dir/$model-$device-single.safetensors" "$dir/$model-$device-np1.safetensors" <<'EOF' \
            || fail "$model on $device: mpirun -np 1 changed the weights"
import sys
from safetensors.numpy import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
EOF
        echo "mpi-test: $model on $device: -np 1 bit-identical, -np 2 and -np 4 (and 2 overlapped, in small buckets) within 1e-5 of one process"
    done
done

# A run resumes with another number of ranks (the checkpoint holds no per-rank state): 2 epochs on 2 ranks, then a
# third in a single process, follow the same run made in one process throughout.
resume=(train --model mlp --device cpu --train-limit 96 --batch-size 32 --test-limit 50 --threads 1 --epochs 2)
"$synapse" "${resume[@]}" --checkpoint "$dir/straight.safetensors" > "$dir/straight.log" || fail "$(cat "$dir/straight.log")"
"$synapse" train --resume --epochs 3 --checkpoint "$dir/straight.safetensors" > "$dir/straight.log" || fail "$(cat "$dir/straight.log")"
"${mpirun[@]}" -np 2 "$synapse" "${resume[@]}" --checkpoint "$dir/resumed.safetensors" > "$dir/first.log" 2>&1 \
    || fail "2 ranks: $(cat "$dir/first.log")"
"$synapse" train --resume --epochs 3 --checkpoint "$dir/resumed.safetensors" > "$dir/second.log" || fail "resume: $(cat "$dir/second.log")"
same_losses "$dir/straight.csv" "$dir/resumed.csv"
echo "mpi-test: a run of 2 ranks resumed in one process follows the run made in one process"

# Two hosts on one machine: two network namespaces joined by a veth pair, a rank in each, Open MPI's TCP transport
# between them (its launch agent runs the far rank inside its namespace), so the gradients cross a network stack.
# Namespaces need root and iproute2; where the sandbox refuses them, this fails and says so.
a=synapse-a-$$ b=synapse-b-$$
trap 'ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; rm -rf "$dir"' EXIT
command -v ip >/dev/null || fail "two-host test: iproute2's ip is missing (apt-get install iproute2)"
ip netns add "$a" 2> "$dir/netns.log" && ip netns add "$b" 2>> "$dir/netns.log" \
    || fail "two-host test: this machine refuses network namespaces ($(cat "$dir/netns.log")); it needs root and CAP_SYS_ADMIN"
ip link add "veth$$a" type veth peer name "veth$$b" || fail "two-host test: cannot make a veth pair"
ip link set "veth$$a" netns "$a" && ip link set "veth$$b" netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev "veth$$a" && ip -n "$b" addr add 10.77.0.2/24 dev "veth$$b"
ip -n "$a" link set "veth$$a" up && ip -n "$b" link set "veth$$b" up && ip -n "$a" link set lo up && ip -n "$b" link set lo up
# mpirun's launch agent for hosts that are network namespaces of this machine: `agent HOST COMMAND...`.
printf '#!/bin/sh\nhost=$1\nshift\nexec ip netns exec "$host" sh -c "$*"\n' > "$dir/netns-agent"
chmod 755 "$dir" "$dir/netns-agent"
tcp=(--host "localhost,$b" --mca plm_rsh_agent "$dir/netns-agent" --mca oob_tcp_if_include 10.77.0.0/24
     --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24)
ip netns exec "$a" "${mpirun[@]}" -np 2 "${tcp[@]}" "$synapse" train --model mlp --device cpu "${steps[@]}" \
    --checkpoint "$dir/hosts.safetensors" > "$dir/hosts.log" 2>&1 || fail "two hosts: $(cat "$dir/hosts.log")"
same_losses "$dir/mlp-cpu-single.csv" "$dir/hosts.csv"
echo "mpi-test: two ranks in two network namespaces over TCP follow one process ($(grep -o 'all-reduce: .*' "$dir/hosts.log"))"

# The network cut mid-run: each rank gives up on the others after SYNAPSE_MPI_TIMEOUT seconds in an all-reduce and
# ends, saying why (mpirun itself may go on waiting for the daemon it can no longer reach; the test ends it).
SYNAPSE_MPI_TIMEOUT=5 ip netns exec "$a" "${mpirun[@]}" -x SYNAPSE_MPI_TIMEOUT -np 2 "${tcp[@]}" "$synapse" train \
    --model mlp --device cpu --train-limit 2000 --test-limit 100 --batch-size 20 --epochs 1000 --threads 1 \
    --checkpoint "$dir/cut.safetensors" > "$dir/cut.log" 2>&1 &
launcher=$!
for _ in $(seq 600); do [ -f "$dir/cut.safetensors" ] && break; sleep 0.1; done
[ -f "$dir/cut.safetensors" ] || fail "two hosts: no checkpoint after 60 s: $(cat "$dir/cut.log")"
ip -n "$b" link set "veth$$b" down
start=$(date +%s)
for _ in $(seq 300); do pgrep -f "^$synapse train .*$dir/cut.safetensors" > /dev/null || break; sleep 0.1; done
! pgrep -f "^$synapse train .*$dir/cut.safetensors" > /dev/null || fail "ranks still ran 30 s after the network was cut"
kill -9 "$launcher" 2>/dev/null || true
wait "$launcher" 2>/dev/null || true
# The far daemon, cut off from the killed mpirun, would linger (and hold this script's output open).
pkill -9 -f "plm_rsh_agent $dir/netns-agent" 2>/dev/null || true
grep -q "waited .* s for the other ranks" "$dir/cut.log" || fail "the cut network is not named: $(cat "$dir/cut.log")"
echo "mpi-test: with the network cut, the ranks ended within $(( $(date +%s) - start )) s, naming the cause"

# A global batch the ranks cannot share equally is refused, naming both numbers.
if "${mpirun[@]}" -np 2 "$synapse" train --model mlp --batch-size 33 --device cpu --checkpoint "$dir/odd.safetensors" \
    > "$dir/odd.log" 2>&1; then fail "a batch of 33 was split over 2 ranks"; fi
grep -q "33 is the global batch.*multiple of 2" "$dir/odd.log" || fail "unexpected refusal: $(cat "$dir/odd.log")"

# A rank killed mid-run: the others stop within a bounded time and the cause is named; the checkpoint evaluates.
"${mpirun[@]}" -np 2 "$synapse" train --model mlp --train-limit 2000 --test-limit 100 --batch-size 20 --epochs 1000 \
    --device cpu --threads 1 --checkpoint "$dir/kill.safetensors" > "$dir/kill.log" 2>&1 &
launcher=$!
for _ in $(seq 600); do [ -f "$dir/kill.safetensors" ] && break; sleep 0.1; done
[ -f "$dir/kill.safetensors" ] || fail "no checkpoint after 60 s: $(cat "$dir/kill.log")"
victim=$(pgrep -n -f "^$synapse train .*$dir/kill.safetensors") || fail "no rank to kill"
kill -9 "$victim"
start=$(date +%s)
for _ in $(seq 300); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$launcher" 2>/dev/null; then
    kill -9 "$launcher"
    fail "the job still ran 30 s after a rank was killed"
fi
wait "$launcher" && fail "the job ended well although a rank was killed"
grep -qi "killed\|signal 9\|exited on signal" "$dir/kill.log" || fail "the cause is not named: $(cat "$dir/kill.log")"
"$synapse" evaluate "$dir/kill.safetensors" --test-limit 100 --device cpu > "$dir/evaluate.log" \
    || fail "the checkpoint left by the killed job does not evaluate: $(cat "$dir/evaluate.log")"
echo "mpi-test: a killed rank stopped the job in $(( $(date +%s) - start )) s, naming it; its checkpoint evaluates"
