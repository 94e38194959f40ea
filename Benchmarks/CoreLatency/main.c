// The round trip of a cache line between two cores: two threads, pinned to the first two CPUs the process may use,
// take turns writing one shared counter. On a shared VM it tells the machine's phases apart: where the hypervisor
// places the two virtual CPUs on distant cores, every handover between threads costs several times as much, while
// each core alone computes as fast as ever; the comparison scripts wait for a quick phase before they time a pair.
// C, because Swift does not import Glibc's affinity calls (GNU extensions).
//
//   swift run -c release core-latency [rounds]   prints the median of five runs' nanoseconds per round trip
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic long turn;
static long rounds = 100000;
static int cpus[2];

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *partner(void *unused) {
    (void)unused;
    pin(cpus[1]);
    for (long i = 0; i < rounds; i++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int ascending(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atol(argv[1]);
    cpu_set_t allowed;
    int found = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
            if (CPU_ISSET(cpu, &allowed)) cpus[found++] = cpu;
        }
    }
    if (found < 2 || rounds <= 0) {
        fprintf(stderr, "core-latency: needs two CPUs (has %d) and a positive round count\n", found);
        return 1;
    }
    double times[5];
    for (int run = 0; run < 5; run++) {
        atomic_store(&turn, 0);
        pthread_t thread;
        if (pthread_create(&thread, NULL, partner, NULL) != 0) {
            fprintf(stderr, "core-latency: could not start a thread\n");
            return 1;
        }
        pin(cpus[0]);
        const double start = seconds();
        for (long i = 0; i < rounds; i++) {
            atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2) {}
        }
        times[run] = (seconds() - start) / rounds * 1e9;
        pthread_join(thread, NULL);
    }
    qsort(times, 5, sizeof times[0], ascending);
    printf("%.0f\n", times[2]);
    return 0;
}
