#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (release, AddressSanitizer + LeakSanitizer) and runs each for SECONDS
# on a copy of its seed corpus. Fails on any crash, timeout, out-of-memory or leak, and prints the reproducer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 s each for fuzz-idx fuzz-cifar fuzz-safetensors fuzz-checkpoint
#   scripts/fuzz.sh 60                        what CI runs
#   scripts/fuzz.sh 3600 fuzz-checkpoint      a longer run by hand
#
# Environment: SWIFT (swift driver, default `swift`), FUZZ_JOBS (build jobs, default 1), FUZZ_TIMEOUT (seconds per
# input, default 10), FUZZ_RSS_LIMIT_MB (default 2048), FUZZ_WORK (where corpora copies, logs and crash files go;
# default a new directory under $TMPDIR or /tmp), FUZZ_KEEP=1 (keep that directory even when everything passes),
# FUZZ_SKIP_BUILD=1 (reuse the last build). Extra libFuzzer flags can go in FUZZ_FLAGS (e.g. "-seed=1").
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir="$root/Fuzz"
all_targets=(fuzz-idx fuzz-cifar fuzz-safetensors fuzz-checkpoint)

seconds=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ $seconds =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS a positive integer, got '$seconds')" >&2
    exit 2
fi
targets=("$@")
(( ${#targets[@]} == 0 )) && targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    if [[ ! " ${all_targets[*]} " == *" $target "* ]]; then
        echo "fuzz.sh: unknown target '$target'; the targets are: ${all_targets[*]}" >&2
        exit 2
    fi
done

swift=${SWIFT:-swift}
timeout=${FUZZ_TIMEOUT:-10}
rss_limit=${FUZZ_RSS_LIMIT_MB:-2048}
scratch="$fuzz_dir/.build"   # git-ignored (.build/ in the top-level .gitignore)
build_flags=(--package-path "$fuzz_dir" --scratch-path "$scratch" -c release -j "${FUZZ_JOBS:-1}"
             -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

if [[ ${FUZZ_SKIP_BUILD:-0} != 1 ]]; then
    echo "==> building the fuzz targets (release, -sanitize=fuzzer,address) into $scratch"
    build_start=$(date +%s)
    if ! "$swift" build "${build_flags[@]}"; then
        echo "fuzz.sh: the build failed" >&2
        exit 1
    fi
    echo "==> built in $(( $(date +%s) - build_start )) s"
fi
bin=$("$swift" build "${build_flags[@]}" --show-bin-path) || exit 1

work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/synapse-fuzz.XXXXXX")}
mkdir -p "$work"
echo "==> working directory (corpus copies, logs, crash files): $work"
# The files the targets write for every input go to memory when possible: Checkpoint.save and SafeTensors.write
# fsync, which on a disk costs milliseconds per input.
if [[ -d /dev/shm && -w /dev/shm ]]; then
    scratch_root=$(mktemp -d /dev/shm/synapse-fuzz.XXXXXX)
else
    scratch_root="$work/scratch"
fi
trap 'rm -rf "$scratch_root"' EXIT

# Swift's own crash handler (the runtime backtracer) would otherwise take the fatal signals before libFuzzer,
# which then neither prints its stack trace nor saves the crashing input.
export SWIFT_BACKTRACE=enable=no

summaries=()
failed=0
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    artifacts="$work/artifacts/$target"
    scratch_files="$scratch_root/$target"
    log="$work/$target.log"
    rm -rf "$corpus" "$scratch_files"
    mkdir -p "$corpus" "$artifacts" "$scratch_files"
    cp -R "$fuzz_dir/Corpus/$target/." "$corpus/"
    dict=()
    [[ -f "$fuzz_dir/Dictionaries/$target.dict" ]] && dict=(-dict="$fuzz_dir/Dictionaries/$target.dict")

    echo "==> $target for $seconds s (log: $log)"
    start=$(date +%s)
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
    SYNAPSE_FUZZ_TMPDIR="$scratch_files" "$bin/$target" \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_limit" -detect_leaks=1 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1
    status=$?
    elapsed=$(( $(date +%s) - start ))

    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [[ -z $executions ]]; then
        # No final stats (a crash or leak ends the run before them): the last status line's count.
        executions=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    fi
    executions=${executions:-0}
    if [[ -z $rate || $rate == 0 ]]; then rate=$(( executions / (elapsed > 0 ? elapsed : 1) )); fi

    reproducer=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                                              -o -name 'oom-*' -o -name 'slow-unit-*' \) | head -n 1)
    if (( status == 0 )) && [[ -z $reproducer ]]; then
        summary="$target: $executions executions in $elapsed s ($rate/s), no crash"
    else
        failed=1
        kind=$(basename "${reproducer:-none}" | cut -d- -f1)
        [[ -z $reproducer ]] && kind="exit status $status"
        summary="$target: $executions executions in $elapsed s ($rate/s), FAILED ($kind)"
        echo "---- $target: end of the log ----"
        tail -n 80 "$log"
        echo "----"
        if [[ -n $reproducer ]]; then
            summary+=", reproducer: $reproducer"
            echo "$target: reproducer $reproducer"
            echo "$target: rerun it with: SWIFT_BACKTRACE=enable=no $bin/$target $reproducer"
        fi
    fi
    echo "$summary"
    summaries+=("$summary")
    rm -rf "$scratch_files"
done

echo "==> summary"
printf '%s\n' "${summaries[@]}"
if (( failed )); then
    echo "fuzz.sh: FAILED; logs and crash files are in $work" >&2
    exit 1
fi
if [[ ${FUZZ_KEEP:-0} == 1 || -n ${FUZZ_WORK:-} ]]; then
    echo "==> logs kept in $work"
else
    rm -rf "$work"
fi
