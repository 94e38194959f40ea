#!/usr/bin/env bash
# The GPU run, from an unpacked scripts/gpu-bundle.sh bundle: makes NVIDIA's OpenCL driver visible to the
# ICD loader when the machine lacks the vendors file, runs the whole test suite (every test runs on every
# OpenCL device), tunes GEMM, measures SGEMM at 4096 and an AlexNet training step (batch 128) next to
# PyTorch FP32 (TF32 off) in the same run, and trains the default network. Logs go to $OUT (else ./results).
#   gpu-run.sh [--quick]     --quick: 1 training epoch and 10 tuning candidates
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/results}
mkdir -p "$out"
epochs=15 candidates=40
if [ "${1:-}" = "--quick" ]; then epochs=1 candidates=10; fi
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SYNAPSE_CACHE_DIR="$out/cache"
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 && [ -z "${OCL_ICD_VENDORS:-}" ]; then
    export OCL_ICD_VENDORS="$out/vendors"
    mkdir -p "$OCL_ICD_VENDORS"
    echo libnvidia-opencl.so.1 > "$OCL_ICD_VENDORS/nvidia.icd"
fi
synapse="$here/bin/synapse"
step() { echo "== $1"; }

step "devices"
"$synapse" devices | tee "$out/devices.txt"
grep -q "type gpu" "$out/devices.txt" || { echo "error: OpenCL sees no GPU" >&2; exit 1; }

step "test suite"
set +e
"$here/bin/SynapsePackageTests.xctest" > "$out/tests.txt" 2>&1
status=$?
set -e
grep -E "error|OpenCL backend" "$out/tests.txt" || true
grep "Executed" "$out/tests.txt" | tail -n 1
[ "$status" -eq 0 ] || { echo "error: the tests failed (exit $status), see $out/tests.txt" >&2; exit 1; }

step "GEMM tuning"
"$synapse" tune --candidates "$candidates" > "$out/tune.txt"
tail -n 5 "$out/tune.txt"

step "SGEMM 4096: Synapse OpenCL, then cuBLAS FP32"
"$synapse" bench kernels --device opencl --sizes 4096 --filter gemm --json > "$out/sgemm-synapse.json"
(cd "$here" && python3 pytorch_gpu.py gemm --size 4096) > "$out/sgemm-pytorch.json"
step "AlexNet training step, batch 128: Synapse OpenCL, then PyTorch FP32"
"$synapse" bench model --model alexnet --batch 128 --steps 10 --device opencl --json > "$out/alexnet-synapse.json"
(cd "$here" && python3 pytorch_gpu.py alexnet --batch 128) > "$out/alexnet-pytorch.json"
python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
load = lambda name: json.load(open(f"{d}/{name}.json"))
ours, theirs = load("sgemm-synapse")["kernels"][0]["gflops"], load("sgemm-pytorch")["gflops"]
print(f"SGEMM 4096: Synapse {ours:.0f} GFLOP/s, cuBLAS {theirs:.0f} GFLOP/s: {100 * ours / theirs:.0f}% (target 70%)")
ours, theirs = load("alexnet-synapse")["images_per_second"], load("alexnet-pytorch")["images_per_second"]
print(f"AlexNet step, batch 128: Synapse {ours:.0f} img/s, PyTorch {theirs:.0f} img/s: {100 * ours / theirs:.0f}% (target 50%)")
PY
"$synapse" bench kernels --device opencl > "$out/kernels.txt"
cat "$out/kernels.txt"

step "training the default network ($epochs epochs)"
(cd "$out" && "$synapse" train --data "$here/data" --epochs "$epochs" --checkpoint "$out/lenet.safetensors" --overwrite) \
    | tee "$out/train.txt"
