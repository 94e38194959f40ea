#!/usr/bin/env bash
# Runs the kernel parity tests under Oclgrind, an OpenCL simulator that reports out-of-bounds accesses,
# data races and uses of uninitialised values in kernels. Oclgrind presents itself as a GPU, so the kernels
# run with the GPU-class parameters (ELEMENTS_PER_ITEM=1, 256-wide work-groups, the GPU GEMM tiles per
# shape), which PoCL, a CPU device, does not use. The tests run with SYNAPSE_TEST_SHAPES=small: fewer,
# smaller cases that still reach every kernel and code path (TestShapes in Tests/SynapseTests/Harness.swift).
#
#   scripts/oclgrind.sh [--build] [--tests PATH] [TestClass[/testMethod] ...]
#
#   --tests PATH  the test bundle: a SynapsePackageTests.xctest binary, or a SwiftPM scratch path holding
#                 release/SynapsePackageTests.xctest (default: $SYNAPSE_OCLGRIND_TESTS, else .build, which
#                 scripts/test.sh builds with `swift build -c release --build-tests`)
#   --build       build that bundle first (it is built anyway when missing)
#   --logs DIR    keep each class's test output, Oclgrind report and the launch trace in DIR
#   TestClass     default: every kernel parity class; then the run also fails unless every kernel in
#                 Kernels/*.cl was launched, and unless every program was built with the GPU parameters.
#
# Fails on any test failure or crash, any Oclgrind report (invalid read or write, data race, uninitialised
# value, API error, fatal error), and when no test ran on the Oclgrind device. Prints one line per class
# with its time, and the total.
#
# Two workarounds for Oclgrind 21.10 (Debian's), both in the preloaded shim below or in the build options:
# - Its uninitialised-value checker cannot handle LLVM's `freeze` instruction, which the optimiser emits
#   for div/rem pairs (most index computations): the kernel is abandoned with "Unsupported instruction:
#   freeze". Programs are therefore built with -cl-opt-disable under Oclgrind.
# - That checker sizes a buffer's shadow memory by the last host write to it, from offset 0, and
#   clEnqueueFillBuffer writes it 4 bytes at a time: after Synapse's zero fill of every new buffer (or any
#   upload at an offset), everything but the first few bytes reads as uninitialised and writes by kernels
#   are dropped, which reports correct kernels. The shim turns every host write and fill into one write
#   of the whole buffer (reading back the rest first). Device memory is therefore always initialised in
#   Oclgrind's eyes, as it is in Synapse (allocate zero-fills): what is reported is an uninitialised
#   private or local value, such as a local-memory slot read before any work-item wrote it.
# The shim also records every program build's options and every kernel launch, for the checks above.
set -euo pipefail
cd "$(dirname "$0")/.."

default_classes=(ActivationTests ConvolutionTests PoolingTests LRNTests SoftmaxTests PhiloxTests DropoutTests
    ElementwiseTests AdamTests MemoryTests OptimizerTests GemmTests ViewTests SamplingTests IndexingTests LSTMCellTests)
tests="${SYNAPSE_OCLGRIND_TESTS:-.build}"
logs=""
build=0
classes=()
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=1 ;;
        --tests) tests="$2"; shift ;;
        --tests=*) tests="${1#--tests=}" ;;
        --logs) logs="$2"; shift ;;
        --logs=*) logs="${1#--logs=}" ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) classes+=("$1") ;;
    esac
    shift
done
full_run=0
[ ${#classes[@]} -gt 0 ] || { classes=("${default_classes[@]}"); full_run=1; }

case "$tests" in
    *.xctest) scratch="" xctest="$tests" ;;
    *) scratch="$tests" xctest="$tests/release/SynapsePackageTests.xctest" ;;
esac
if [ "$build" = 1 ] || [ ! -x "$xctest" ]; then
    [ -n "$scratch" ] || { echo "error: no test bundle at $xctest (give --tests a scratch path to build one)" >&2; exit 2; }
    swift build -c release --build-tests --scratch-path "$scratch"
fi
[ -x "$xctest" ] || { echo "error: no test bundle at $xctest" >&2; exit 2; }

if ! command -v oclgrind >/dev/null; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq oclgrind
fi
# The `oclgrind` command only sets OCLGRIND_* variables and preloads this library; the script does the
# same itself, so that the shim comes first.
runtime=""
for dir in "$(dirname "$(readlink -f "$(command -v oclgrind)")")/../lib/oclgrind" /usr/lib/oclgrind /usr/local/lib/oclgrind; do
    if [ -f "$dir/liboclgrind-rt.so" ]; then runtime="$(readlink -f "$dir/liboclgrind-rt.so")"; break; fi
done
[ -n "$runtime" ] || { echo "error: liboclgrind-rt.so not found next to $(command -v oclgrind)" >&2; exit 1; }

work="$(mktemp -d)"
keep_logs() {
    [ -z "$logs" ] || { mkdir -p "$logs" && cp "$work"/*.log "$work"/*.oclgrind "$work"/*.trace "$logs"/ 2>/dev/null || true; }
    rm -rf "$work"
}
trap keep_logs EXIT
cc="${CC:-}"
if [ -z "$cc" ]; then
    for candidate in cc gcc clang; do command -v "$candidate" >/dev/null && { cc="$candidate"; break; }; done
fi
[ -n "$cc" ] || { echo "error: a C compiler is needed for the Oclgrind shim (cc, gcc or clang)" >&2; exit 1; }
cat >"$work/shim.c" <<'EOF'
// Preloaded ahead of Oclgrind's runtime: see scripts/oclgrind.sh.
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef cl_int (*write_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void*, cl_uint,
                           const cl_event*, cl_event*);
typedef cl_int (*read_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void*, cl_uint, const cl_event*,
                          cl_event*);
typedef cl_int (*fill_fn)(cl_command_queue, cl_mem, const void*, size_t, size_t, size_t, cl_uint, const cl_event*,
                          cl_event*);
typedef cl_int (*build_fn)(cl_program, cl_uint, const cl_device_id*, const char*,
                           void (CL_CALLBACK*)(cl_program, void*), void*);
typedef cl_int (*launch_fn)(cl_command_queue, cl_kernel, cl_uint, const size_t*, const size_t*, const size_t*,
                            cl_uint, const cl_event*, cl_event*);

static void* next(const char* name) {
    void* f = dlsym(RTLD_NEXT, name);
    if (!f) { fprintf(stderr, "oclgrind shim: %s not found\n", name); abort(); }
    return f;
}

// One line per event in $SYNAPSE_OCLGRIND_TRACE (appended whole, so concurrent writers do not interleave).
static void trace(const char* line) {
    const char* path = getenv("SYNAPSE_OCLGRIND_TRACE");
    if (!path || !*path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    ssize_t ignored = write(fd, line, strlen(line));
    (void)ignored;
    close(fd);
}

// Stores `size` bytes at `offset` (a copy of `data`, or `pattern` repeated) as one write of the whole buffer.
static cl_int whole_write(cl_command_queue queue, cl_mem buffer, size_t offset, size_t size, const void* data,
                          const void* pattern, size_t pattern_size, cl_uint waits, const cl_event* wait,
                          cl_event* event) {
    static write_fn write_buffer;
    static read_fn read_buffer;
    if (!write_buffer) write_buffer = (write_fn)next("clEnqueueWriteBuffer");
    if (!read_buffer) read_buffer = (read_fn)next("clEnqueueReadBuffer");
    size_t total = 0;
    cl_int status = clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof total, &total, NULL);
    if (status != CL_SUCCESS) return status;
    if (offset > total || size > total - offset) return CL_INVALID_VALUE;  // as the real call would say
    unsigned char* host = malloc(total);
    if (!host) return CL_OUT_OF_HOST_MEMORY;
    if (offset != 0 || size != total) {
        status = read_buffer(queue, buffer, CL_TRUE, 0, total, host, waits, wait, NULL);
        waits = 0;
        wait = NULL;
        if (status != CL_SUCCESS) { free(host); return status; }
    }
    if (pattern) {
        for (size_t i = 0; i < size; i += pattern_size) memcpy(host + offset + i, pattern, pattern_size);
    } else {
        memcpy(host + offset, data, size);
    }
    status = write_buffer(queue, buffer, CL_TRUE, 0, total, host, waits, wait, event);
    free(host);
    return status;
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking,
                                                     size_t offset, size_t size, const void* data, cl_uint waits,
                                                     const cl_event* wait, cl_event* event) {
    static write_fn write_buffer;
    if (!write_buffer) write_buffer = (write_fn)next("clEnqueueWriteBuffer");
    // Made blocking, which a caller cannot tell from a non-blocking write that finished at once.
    if (!data || size == 0) return write_buffer(queue, buffer, blocking, offset, size, data, waits, wait, event);
    return whole_write(queue, buffer, offset, size, data, NULL, 0, waits, wait, event);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueFillBuffer(cl_command_queue queue, cl_mem buffer, const void* pattern,
                                                    size_t pattern_size, size_t offset, size_t size, cl_uint waits,
                                                    const cl_event* wait, cl_event* event) {
    static fill_fn fill_buffer;
    if (!fill_buffer) fill_buffer = (fill_fn)next("clEnqueueFillBuffer");
    if (!pattern || pattern_size == 0 || offset % pattern_size != 0 || size % pattern_size != 0 || size == 0)
        return fill_buffer(queue, buffer, pattern, pattern_size, offset, size, waits, wait, event);
    return whole_write(queue, buffer, offset, size, NULL, pattern, pattern_size, waits, wait, event);
}

CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program program, cl_uint devices, const cl_device_id* list,
                                               const char* options, void (CL_CALLBACK* notify)(cl_program, void*),
                                               void* data) {
    static build_fn build;
    if (!build) build = (build_fn)next("clBuildProgram");
    char line[4096];
    snprintf(line, sizeof line, "build %s\n", options ? options : "");
    trace(line);
    return build(program, devices, list, options, notify, data);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dims,
                                                       const size_t* offset, const size_t* global, const size_t* local,
                                                       cl_uint waits, const cl_event* wait, cl_event* event) {
    static launch_fn launch;
    if (!launch) launch = (launch_fn)next("clEnqueueNDRangeKernel");
    char name[256] = "?", line[512];
    clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
    cl_device_id device = NULL;
    cl_device_type type = 0;
    clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof device, &device, NULL);
    if (device) clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    int n = snprintf(line, sizeof line, "launch %s %s global", name, (type & CL_DEVICE_TYPE_GPU) ? "gpu" : "not-gpu");
    for (cl_uint d = 0; d < dims && global; d++) n += snprintf(line + n, sizeof line - n, " %zu", global[d]);
    n += snprintf(line + n, sizeof line - n, " local");
    for (cl_uint d = 0; d < dims && local; d++) n += snprintf(line + n, sizeof line - n, " %zu", local[d]);
    snprintf(line + n, sizeof line - n, "\n");
    trace(line);
    return launch(queue, kernel, dims, offset, global, local, waits, wait, event);
}
EOF
if ! "$cc" -O2 -shared -fPIC -o "$work/shim.so" "$work/shim.c" -ldl 2>"$work/shim.err"; then
    cat "$work/shim.err" >&2
    echo "error: could not build the Oclgrind shim (are the OpenCL headers installed? scripts/install-deps.sh)" >&2
    exit 1
fi

# One line per distinct report in an Oclgrind log: how often, what (addresses dropped), kernel, source line.
summarize() {
    awk '
        function flush() { if (what != "") count[what " | " kernel " | " where]++; what = kernel = where = "" }
        /^[^ \t]/ { flush(); what = $0; gsub(/ 0x[0-9a-fA-F]+/, "", what); next }
        /^\tKernel: / { kernel = substr($0, 10); next }
        /^\tAt line / { split($0, w, " "); where = "line " w[3] ":"; getline; sub(/^[ \t]+/, ""); where = where " " $0; next }
        !NF { flush() }
        END { flush(); for (k in count) printf "%6d  %s\n", count[k], k }
    ' "$1" | sort -rn
}

# Oclgrind writes its reports (memory errors, races, uninitialised values, API misuse, fatal errors) to
# OCLGRIND_LOG; anything there fails the class. Its own lines in the test output count too.
reports='OCLGRIND|^Oclgrind|Invalid (read|write) of size|data race at|Uninitialized value|Controlflow depends'
export SYNAPSE_TEST_SHAPES=small
export SYNAPSE_CACHE_DIR="$work/cache"    # fresh: nothing PoCL (or an older Oclgrind run) built is reused
status=0
start=$SECONDS
version="$(oclgrind --version 2>&1 || true)"
echo "$(echo "$version" | grep -m1 '^Oclgrind' || echo 'Oclgrind (version unknown)'), tests: $xctest"
for class in "${classes[@]}"; do
    name="${class//\//.}"
    log="$work/$name.log" report="$work/$name.oclgrind"
    export SYNAPSE_OCLGRIND_TRACE="$work/$name.trace"
    class_start=$SECONDS
    set +e
    timeout "${SYNAPSE_OCLGRIND_TIMEOUT:-900}" env LD_PRELOAD="$work/shim.so:$runtime${LD_PRELOAD:+:$LD_PRELOAD}" \
        LD_LIBRARY_PATH="$(dirname "$runtime")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=1 OCLGRIND_CHECK_API=1 OCLGRIND_MAX_ERRORS=200 \
        OCLGRIND_BUILD_OPTIONS=-cl-opt-disable OCLGRIND_LOG="$report" \
        "$xctest" "SynapseTests.$class" >"$log" 2>&1
    rc=$?
    set -e
    seconds=$((SECONDS - class_start))
    problems=()
    if [ "$rc" -eq 124 ]; then
        problems+=("timed out after ${SYNAPSE_OCLGRIND_TIMEOUT:-900} s")
    elif [ "$rc" -ne 0 ]; then
        problems+=("exit status $rc")
    fi
    if [ -s "$report" ] || grep -qE "$reports" "$log"; then problems+=("Oclgrind reported errors"); fi
    ran=$(sed -n 's/^Synapse: \([0-9]*\) tests ran on the OpenCL backend$/\1/p' "$log" | tail -n 1)
    [ "${ran:-0}" -gt 0 ] || problems+=("no test ran on the Oclgrind device")
    summary=$(grep -E 'Executed [0-9]+ tests?' "$log" | tail -n 1 | sed 's/^[[:space:]]*//')
    printf '%-28s %4d s  %s; %s on Oclgrind\n' "$class" "$seconds" "${summary:-no XCTest summary}" "${ran:-0}"
    if [ ${#problems[@]} -gt 0 ]; then
        status=1
        printf '  FAILED: %s\n' "$(IFS=';'; echo "${problems[*]}")"
        if [ -s "$report" ]; then
            echo "  Oclgrind's reports, by kind, kernel and source line (count, message | kernel | line: source):"
            summarize "$report" | head -n 25 | sed 's/^/  | /' || true
            echo "  the first in full:"
            awk 'NF { on = 1 } on && !NF && ++blank == 2 { exit } on' "$report" | sed 's/^/  | /' || true
        fi
        grep -E "$reports|error:|failed \(|Fatal error|Crash|signal" "$log" | grep -v "^Test Suite" | sed 's/^/  > /' \
            | head -n 40 || true
        # No XCTest summary: a crash or a hang; the end of the output says where.
        [ -n "$summary" ] || tail -n 15 "$log" | sed 's/^/  $ /' || true
    fi
done

# Every kernel was launched, on a GPU-class device, from programs built with the GPU parameters.
if [ "$full_run" = 1 ]; then
    traces=("$work"/*.trace)
    [ -e "${traces[0]}" ] || traces=()
    # kernel class, one line per kernel a class launched
    coverage=$(for trace in ${traces[@]+"${traces[@]}"}; do
        class=$(basename "$trace" .trace)
        awk -v class="$class" '$1 == "launch" { print $2, class }' "$trace" | sort -u
    done | sort)
    kernels=$(perl -0777 -ne 'while (/__kernel\b.*?\bvoid\s+(\w+)\s*\(/gs) { print "$1\n" }' Kernels/*.cl | sort -u)
    launched=$(echo "$coverage" | awk 'NF { print $1 }' | sort -u)
    echo "kernels launched under Oclgrind, by the classes that launch them:"
    echo "$coverage" | awk 'NF { by[$1] = by[$1] (by[$1] ? ", " : "") $2 } END { for (k in by) printf "  %-32s %s\n", k, by[k] }' | sort
    missing=$(comm -23 <(echo "$kernels") <(echo "$launched"))
    if [ -n "$missing" ]; then
        status=1
        echo "FAILED: kernels in Kernels/*.cl that no test launched under Oclgrind (give one of the classes above a case):"
        echo "$missing" | sed 's/^/  /'
    fi
    all_traces() { cat /dev/null ${traces[@]+"${traces[@]}"}; }
    if all_traces | awk '$1 == "launch" && $3 != "gpu"' | grep -q .; then
        status=1
        echo "FAILED: kernels ran on a device that is not a GPU, so not with the GPU parameters"
    fi
    if all_traces | grep -o -- '-DELEMENTS_PER_ITEM=[0-9]*' | grep -qv '=1$'; then
        status=1
        echo "FAILED: programs built with other than the GPU's ELEMENTS_PER_ITEM=1:"
        all_traces | grep -o -- '-DELEMENTS_PER_ITEM=[0-9]*' | sort | uniq -c | sed 's/^/  /'
    fi
    echo "$(echo "$launched" | grep -c .) of $(echo "$kernels" | grep -c .) kernels in Kernels/*.cl launched;" \
        "$(all_traces | grep -c '^launch ') launches, $(all_traces | grep -c '^build ') program builds; GEMM tiles built:"
    all_traces | grep '^build .*-DMWG=' | grep -o -- '-DMWG=.*' | sort | uniq -c | sed 's/^/  /'
fi
echo "total: $((SECONDS - start)) s"
[ "$status" -eq 0 ] && echo "Oclgrind: no errors" || echo "Oclgrind: FAILED"
exit "$status"
