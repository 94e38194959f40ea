#ifndef SYNAPSE_CVECTOR_H
#define SYNAPSE_CVECTOR_H

// The CPU backend's loops that Swift cannot vectorise past the x86-64 baseline: the random ops (Philox), the
// exp-based activations, the LSTM cell and a dense layer's bias gradient. Each is compiled for AVX-512, AVX2 and
// the baseline, one chosen at start-up for the processor; all give the same bits (see vector.c). And products of
// few rows with a large B, for AVX-512 (gemm.c).

#include <stddef.h>
#include <stdint.h>

// Element i from Philox4x32-10 word counter + i of `stream` under `key`, as Philox.word numbers them (block
// b = word / 4 is counter (b low, b high, stream low, stream high), key (key low, key high)), through
// u = (word >> 8) / 2^24, uniform in [0, 1):
// y[i] = low + (high - low) u;
void synapse_uniform(float *y, size_t count, float low, float high, uint64_t counter, uint64_t stream, uint64_t key);
// y[i] = 1 when u < p[i], else 0;
void synapse_bernoulli(const float *p, float *y, size_t count, uint64_t counter, uint64_t stream, uint64_t key);
// y[i] = x[i] / (1 - probability) when u >= probability, else 0.
void synapse_dropout(const float *x, float *y, size_t count, float probability, uint64_t counter, uint64_t stream,
                     uint64_t key);

// y[i] = 1 / (1 + exp(-x[i])).
void synapse_sigmoid(const float *x, float *y, size_t count);

// y[i] = amplitude * tanh(slope * x[i]).
void synapse_tanh(const float *x, float *y, size_t count, float amplitude, float slope);

// For columns c in first ..< first + count of x [rows, columns]: the column's sum in Double, in row order, as a
// float, stored to sums[c] or, when `accumulate`, added to it (a dense layer's bias gradient).
void synapse_bias_gradient(const float *x, size_t rows, size_t columns, size_t first, size_t count, float *sums,
                           int accumulate);

// The LSTM cell of `rows` rows of `width` units, as Kernels/lstm.cl computes it: gates [rows, 4 width] (input,
// forget, candidate, output pre-activations, overwritten by their activations), previous_cell, cell, cell_tanh and
// hidden [rows, width].
void synapse_lstm_cell_forward(float *gates, const float *previous_cell, float *cell, float *cell_tanh, float *hidden,
                               size_t rows, size_t width);

// C [m, n] = alpha A B + beta C (A B^T when trans_b), A [m, k], B [k, n] (or [n, k]), rows lda, ldb, ldc floats
// apart, with B read where it lies (CPUBackend.readsBInPlace says where that beats OpenBLAS); beta 0 does not read
// C, alpha 0 does not read A or B. Each element's bits depend on K only, not on where its block of C lies. Call it
// only while synapse_gemm_in_place_available() returns 1, which it does while the loops above run AVX-512.
int synapse_gemm_in_place_available(void);
void synapse_gemm_in_place(int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c, size_t ldc);

// The instructions in use: "AVX-512", "AVX2" or "baseline".
const char *synapse_vector_instructions(void);

// Switches to the named instructions ("AVX-512", "AVX2" or "baseline") and returns 1, or returns 0 when this
// processor lacks them. For tests, between ops: nothing may run at the time.
int synapse_vector_select(const char *name);

#endif
