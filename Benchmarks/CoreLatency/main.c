// The round trip of a cache line between two cores: two threads, pinned to the first two CPUs the process may use,
// take turns writing one shared counter. On a shared VM it tells the machine's phases apart: where the hypervisor
// places the two virtual CPUs on distant cores, every handover between threads costs several times as much, while
// each core alone computes as fast as ever; the comparison scripts wait for a quick phase before they time a pair.
// C, because Swift does not import Glibc's affinity calls (GNU extensions).
//
//   swift run -c release core-latency [rounds]   prints the median of five runs' nanoseconds per round trip
// (each run at most 100,000 rounds by default, and stopped after a second: where another task shares a pinned CPU, a
// round trip can take a scheduler's time slice)
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic long turn;
static _Atomic int partner_ready;
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
    atomic_store(&partner_ready, 1);
    // Answers each odd turn with the next even one, until the timing thread writes -1.
    for (long i = 0;; i++) {
        long seen;
        while ((seen = atomic_load_explicit(&turn, memory_order_acquire)) != 2 * i + 1) {
            if (seen < 0) return NULL;
        }
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
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
    if (rounds > 100000000) rounds = 100000000;
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
        atomic_store(&partner_ready, 0);
        pthread_t thread;
        if (pthread_create(&thread, NULL, partner, NULL) != 0) {
            fprintf(stderr, "core-latency: could not start a thread\n");
            return 1;
        }
        pin(cpus[0]);
        while (!atomic_load(&partner_ready)) {}
        const double start = seconds();
        long done = 0;
        while (done < rounds) {
            atomic_store_explicit(&turn, 2 * done + 1, memory_order_release);
            while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * done + 2) {}
            done++;
            if (done % 1024 == 0 && seconds() - start > 1) break;
        }
        times[run] = (seconds() - start) / done * 1e9;
        atomic_store(&turn, -1);
        pthread_join(thread, NULL);
    }
    qsort(times, 5, sizeof times[0], ascending);
    printf("%.0f\n", times[2]);
    return 0;
}
