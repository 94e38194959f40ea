// OpenBLAS, loaded with dlopen from a constructor, before any thread starts, so that its kernels can be chosen
// first. Debian 12's OpenBLAS 0.3.21 runs AMD's Zen 4 and Zen 5, which have AVX-512, with its AVX2 (Haswell)
// kernels at about half the speed its SkylakeX kernels reach there (later versions choose those themselves).
// OpenBLAS picks its kernels once, when it loads, from OPENBLAS_CORETYPE; so Synapse sets that before loading
// it, on such a processor and unless the user set it.
// OpenBLAS runs single-threaded: the CPU backend cuts a large GEMM into blocks for its own threads, which also run
// every other op, so that no second pool of threads spins for the cores between calls. OPENBLAS_NUM_THREADS=1
// keeps it from starting threads when it loads (Synapse's thread count is the backend's, not this variable's),
// and the thread count is set again once loaded, in case another library had loaded OpenBLAS first.
// OPENBLAS_THREAD_TIMEOUT, unless set, is for gemm-bench, whose reference call runs OpenBLAS's own threads: these
// spin (sched_yield) for 2^28 cycles, a tenth of a second, after each multi-threaded call; 2^18 cycles keep them
// from taking a core from the measurements that follow.
#include "CBLAS.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_function)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                               float *, int);
static sgemm_function sgemm;
static void (*set_threads)(int);
static char *(*get_config)(void);
static char *(*get_core)(void);
static char failure[512];
static const char *chosen;

// An AMD processor whose AVX-512 (foundation, byte/word, doubleword/quadword, vector length) the OS supports.
static int amd_with_avx512(void) {
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 0;
    const int amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163;  // "AuthenticAMD"
    __builtin_cpu_init();
    return amd && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

__attribute__((constructor)) static void load_openblas(void) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_THREAD_TIMEOUT", "18", 0);
    if (getenv("OPENBLAS_CORETYPE") == NULL && amd_with_avx512()) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
        chosen = "SkylakeX";
    }
    void *library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure, sizeof failure, "OpenBLAS could not be loaded (%s); install libopenblas0", dlerror());
        return;
    }
    const char *names[] = {"cblas_sgemm", "openblas_set_num_threads", "openblas_get_config", "openblas_get_corename"};
    void *functions[4];
    for (int i = 0; i < 4; i++) {
        functions[i] = dlsym(library, names[i]);
        if (functions[i] == NULL) {
            snprintf(failure, sizeof failure, "libopenblas.so.0 has no %s", names[i]);
            return;
        }
    }
    sgemm = (sgemm_function)functions[0];
    set_threads = (void (*)(int))functions[1];
    get_config = (char *(*)(void))functions[2];
    get_core = (char *(*)(void))functions[3];
    set_threads(1);
}

const char *synapse_blas_failure(void) { return sgemm == NULL ? failure : NULL; }

void synapse_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                   int ldb, float beta, float *c, int ldc) {
    sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void synapse_blas_set_threads(int threads) { set_threads(threads); }
const char *synapse_blas_config(void) { return get_config(); }
const char *synapse_blas_core(void) { return get_core(); }
const char *synapse_blas_chosen_core(void) { return chosen; }
