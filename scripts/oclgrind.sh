#!/usr/bin/env bash
# Runs test classes under Oclgrind, an OpenCL simulator that reports out-of-bounds accesses and data
# races in kernels: scripts/oclgrind.sh [TestClass ...] (default: every class but the large GEMM runs).
# Oclgrind presents itself as a GPU, so the kernels run with the GPU build options.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v oclgrind >/dev/null; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq oclgrind
fi
swift build --build-tests
classes=("$@")
[ ${#classes[@]} -gt 0 ] || classes=(ActivationTests ConvolutionTests PoolingTests LRNTests SoftmaxTests PhiloxTests
    DropoutTests ElementwiseTests AdamTests MemoryTests GemmTests/testOtherTileParameters)
status=0
for class in "${classes[@]}"; do
    log=$(mktemp)
    oclgrind --data-races .build/debug/SynapsePackageTests.xctest "SynapseTests.$class" >"$log" 2>&1 || status=1
    if grep -qE "Invalid (read|write)|data race|OCLGRIND FATAL" "$log"; then
        status=1
        grep -E -A6 "Invalid (read|write)|data race|OCLGRIND FATAL" "$log" | head -40
    fi
    echo "$class: $(grep 'Executed' "$log" | tail -1 | sed 's/^[[:space:]]*//')"
    rm -f "$log"
done
exit "$status"
