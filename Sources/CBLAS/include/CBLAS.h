#ifndef SYNAPSE_CBLAS_H
#define SYNAPSE_CBLAS_H

// OpenBLAS, loaded when the program starts (see blas.c), and the few of its functions Synapse calls.

// NULL when OpenBLAS is loaded; else why it is not.
const char *synapse_blas_failure(void);

// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C (cblas_sgemm).
void synapse_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                   int ldb, float beta, float *c, int ldc);

// OpenBLAS's own thread count, 1 unless changed: for a benchmark's reference call only (gemm-bench), which must set
// it back to 1 before the CPU backend runs, whose threads call OpenBLAS at once.
void synapse_blas_set_threads(int threads);

// OpenBLAS's build configuration, and the name of the kernels it runs.
const char *synapse_blas_config(void);
const char *synapse_blas_core(void);

// The kernels Synapse asked OpenBLAS for (OPENBLAS_CORETYPE), or NULL when it left the choice to OpenBLAS.
const char *synapse_blas_chosen_core(void);

#endif
