#!/usr/bin/env bash
# The parts of the suite that exercise threads, files and the OpenCL runtime, under AddressSanitizer and
# ThreadSanitizer, and a LeakSanitizer check of a short OpenCL training run: no leak whose allocation
# Synapse's own code made.
#   scripts/sanitizers.sh [address|thread|leaks ...]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(address thread leaks)
export SYNAPSE_CACHE_DIR="$(mktemp -d)"
source scripts/python-env.sh   # CheckpointTests include the Python interop checks
work=$(mktemp -d)
trap 'rm -rf "$work" "$SYNAPSE_CACHE_DIR"' EXIT

# The first-contact test runs itself in child processes, where AddressSanitizer's own thread teardown
# fails (munmap EINVAL) before any Synapse code is involved; the normal suite runs it.
tests=(ThreadSafetyTests/testOneBackendSharedByTrainingThreads ThreadSafetyTests/testABackendPerThread
       ThreadSafetyTests/testDroppedOpenCLBackendsAreFreed ReliabilityTests CheckpointTests SafeTensorsTests
       DataTests BadInputTests RuntimeTests MemoryTests ReportingTests GraphTests ViewTests PartsTests
       GemmTests/testCPUProductsReadingBInPlaceAtBufferEnds)

build() {  # swift build arguments...
    swift build -c debug "$@" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; echo "sanitizers: swift build $* failed" >&2; exit 1; }
}

run_tests() {  # sanitizer, scratch path, test names...
    local sanitizer="$1" scratch="$2"; shift 2
    local start=$SECONDS
    build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
    local binary="$scratch/debug/SynapsePackageTests.xctest"
    local status=0
    for test in "$@"; do
        "$binary" "SynapseTests.$test" > "$work/$sanitizer.log" 2>&1 || status=1
        if [ $status -ne 0 ] || grep -qE "ERROR: (Address|Thread|Leak)Sanitizer|WARNING: ThreadSanitizer" "$work/$sanitizer.log"; then
            grep -E -A30 "ERROR: |WARNING: ThreadSanitizer| error: " "$work/$sanitizer.log" | head -80
            echo "sanitizers: $test failed under the $sanitizer sanitizer" >&2
            exit 1
        fi
    done
    echo "sanitizers: $sanitizer: $# test groups clean in $((SECONDS - start)) s (build included)"
}

for part in "${parts[@]}"; do
    case "$part" in
    address)
        # Leaks are checked below, on a whole training run; XCTest's own allocations would drown them here.
        # allocator_may_return_null: an allocation beyond what the machine has must reach Synapse as a failed
        # allocation, which it reports as out of memory (GraphTests asks for one on purpose).
        ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 run_tests address .build-asan "${tests[@]}"
        ;;
    thread)
        TSAN_OPTIONS=halt_on_error=1 run_tests thread .build-tsan ThreadSafetyTests/testOneBackendSharedByTrainingThreads \
            ThreadSafetyTests/testABackendPerThread RuntimeTests PartsTests
        ;;
    leaks)
        start=$SECONDS
        build --sanitize=address --scratch-path .build-asan --product synapse
        device=opencl
        .build-asan/debug/synapse devices | grep -q "opencl:0" || device=cpu
        # A report lists each leaked block with the stack that allocated it. A leak is Synapse's when the
        # innermost frame outside the allocators and runtimes is in Synapse's code; the OpenCL driver's
        # own leaks (PoCL's compiler) are not.
        ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=exitcode=0 .build-asan/debug/synapse train --device "$device" \
            --model lenet --train-limit 64 --test-limit 64 --epochs 2 --batch-size 32 \
            --checkpoint "$work/leaks.safetensors" > "$work/leaks.log" 2>&1 \
            || { cat "$work/leaks.log"; echo "sanitizers: the training run failed" >&2; exit 1; }
        python3 - "$work/leaks.log" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
runtime = re.compile(r"asan_|lsan_|malloc|calloc|realloc|operator new|swift_slowAlloc|swift_allocObject|"
                     r"libswiftCore|libc\.so|libstdc\+\+|libFoundation|libdispatch")
ours, theirs = [], 0
for record in re.split(r"\n(?=(?:Direct|Indirect) leak of)", text):
    # Indirect leaks count too: the blocks of a retain cycle point at each other, so LeakSanitizer calls
    # every one of them indirect.
    if not re.match(r"(Direct|Indirect) leak of", record):
        continue
    frames = [line for line in record.splitlines() if re.match(r"\s+#\d+ ", line)]
    first = next((f for f in frames if not runtime.search(f)), "")
    if "/Sources/" in first or "Synapse" in first:
        ours.append("\n".join(record.splitlines()[:12]))
    else:
        theirs += 1
for record in ours:
    print(record)
print(f"sanitizers: leaks: {len(ours)} leaks from Synapse's code, {theirs} from other libraries")
sys.exit(1 if ours else 0)
EOF
        echo "sanitizers: leaks: a 2-epoch LeNet run on $device checked in $((SECONDS - start)) s (build included)"
        ;;
    *)
        echo "usage: scripts/sanitizers.sh [address|thread|leaks ...]" >&2
        exit 2
        ;;
    esac
done
