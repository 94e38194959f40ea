# Sourced by run.sh and classic.sh: waiting for a quick phase of the machine before a pair is timed.
#
# Shared VMs have phases, seconds to minutes long, in which the hypervisor places the virtual CPUs on distant cores:
# each core computes as fast as ever, but a cache line takes several times as long to pass between them, and work
# shared between threads (Synapse's most of all, whose threads hand data over at every op) runs up to twice as
# slowly. `core-latency` measures that handover; `wait_for_quick_phase` sleeps while it is more than twice the
# quickest seen in this run, for at most $quick_phase_wait seconds, and leaves the last figure in $core_ns ("-" when
# it cannot be measured: one CPU, or no core-latency binary, in which case nothing waits). `in_turns` times a pair.
# Needs $core_latency (the binary's path, or empty) and $repeats.

quick_phase_wait=${quick_phase_wait:-300}
quickest_core_ns=""
core_ns="-"

measure_core_ns() {
    core_ns="-"
    [ -n "$core_latency" ] || return 0
    if ! core_ns=$("$core_latency" 2>&1) || ! [[ "$core_ns" =~ ^[0-9]+$ ]]; then
        echo "warning: $core_latency gave '$core_ns'; timing without waiting for quick phases" >&2
        core_latency="" core_ns="-"
        return 0
    fi
    if [ -z "$quickest_core_ns" ] || [ "$core_ns" -lt "$quickest_core_ns" ]; then quickest_core_ns=$core_ns; fi
}

slow_phase() { [ "$core_ns" != "-" ] && [ "$core_ns" -gt $((2 * quickest_core_ns)) ]; }

# At the start: three samples five seconds apart, so that a run that starts in a slow phase still finds the quick one.
find_quickest_core_ns() {
    if [ -z "$core_latency" ]; then
        echo "warning: no core-latency binary; timing without waiting for quick phases" >&2
        return 0
    fi
    local sample
    for sample in 1 2 3; do
        [ "$sample" = 1 ] || sleep 5
        measure_core_ns
        [ -n "$core_latency" ] || return 0
    done
    echo "cores hand a cache line over in $core_ns ns (quickest of three samples $quickest_core_ns ns)" >&2
}

wait_for_quick_phase() {
    local waited=0
    measure_core_ns
    while slow_phase && [ "$waited" -lt "$quick_phase_wait" ]; do
        [ "$waited" -gt 0 ] || echo "  waiting for a quick phase (cores at $core_ns ns, quickest $quickest_core_ns ns)..." >&2
        sleep 5
        waited=$((waited + 5))
        measure_core_ns
    done
    if slow_phase; then
        # Perhaps the machine has moved for good: this becomes the quickest, so the next pairs do not wait as long.
        echo "  warning: still a slow phase after ${waited} s (cores at $core_ns ns); timing anyway" >&2
        quickest_core_ns=$core_ns
    fi
}

# in_turns FIRST SECOND: $repeats turns of a pair, each after a wait for a quick phase, FIRST going first in odd turns
# and SECOND in even ones, so that neither side always comes straight after the wait. Both read the turn's number in
# $repeat; $core_runs gathers the cores' handover before each turn.
in_turns() {
    local repeat
    core_runs=""
    for repeat in $(seq 1 "$repeats"); do
        wait_for_quick_phase
        core_runs+=" $core_ns"
        if [ $((repeat % 2)) = 1 ]; then "$1"; "$2"; else "$2"; "$1"; fi
    done
}
