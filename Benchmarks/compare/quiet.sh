# Sourced by run.sh and classic.sh: waiting for a quick phase of the machine before a pair is timed.
#
# Shared VMs have phases, seconds to minutes long, in which the hypervisor places the virtual CPUs on distant cores:
# each core computes as fast as ever, but a cache line takes several times as long to pass between them, and work
# shared between threads (Synapse's most of all, whose threads hand data over at every op) runs up to twice as
# slowly. `core-latency` measures that handover; `wait_for_quick_phase` sleeps while it is more than twice the
# quickest seen in this run, for at most $quick_phase_wait seconds, and leaves the last figure in $core_ns.
# Needs $core_latency (the binary) and die().

quick_phase_wait=${quick_phase_wait:-300}
quickest_core_ns=""
core_ns=""

measure_core_ns() {
    core_ns=$("$core_latency") || die "$core_latency failed"
    if [ -z "$quickest_core_ns" ] || [ "$core_ns" -lt "$quickest_core_ns" ]; then quickest_core_ns=$core_ns; fi
}

# At the start: three samples five seconds apart, so that a run that starts in a slow phase still finds the quick one.
find_quickest_core_ns() {
    measure_core_ns; sleep 5; measure_core_ns; sleep 5; measure_core_ns
    echo "cores hand a cache line over in $core_ns ns (quickest of three samples $quickest_core_ns ns)" >&2
}

wait_for_quick_phase() {
    local waited=0
    measure_core_ns
    while [ "$core_ns" -gt $((2 * quickest_core_ns)) ] && [ "$waited" -lt "$quick_phase_wait" ]; do
        [ "$waited" -gt 0 ] || echo "  waiting for a quick phase (cores at $core_ns ns, quickest $quickest_core_ns ns)..." >&2
        sleep 5
        waited=$((waited + 5))
        measure_core_ns
    done
    if [ "$core_ns" -gt $((2 * quickest_core_ns)) ]; then
        echo "  warning: still a slow phase after ${waited} s (cores at $core_ns ns); timing anyway" >&2
    fi
}
