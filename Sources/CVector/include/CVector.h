#ifndef SYNAPSE_CVECTOR_H
#define SYNAPSE_CVECTOR_H

// The CPU backend's loops that Swift cannot vectorise past the x86-64 baseline: Philox, and the exp-based
// activations. Each is compiled for AVX-512, AVX2 and the baseline, one chosen at start-up for the processor; all
// give the same bits (see vector.c).

#include <stddef.h>
#include <stdint.h>

// Philox4x32-10 blocks first ..< first + count of `stream` under `key` (Synapse's word layout: block b's counter is
// (b low, b high, stream low, stream high), block numbers taken modulo 2^62), word w of block first + j written to
// words[4 j + w].
void synapse_philox_blocks(uint64_t first, size_t count, uint64_t stream, uint64_t key, uint32_t *words);

// y[i] = 1 / (1 + exp(-x[i])).
void synapse_sigmoid(const float *x, float *y, size_t count);

// y[i] = amplitude * tanh(slope * x[i]).
void synapse_tanh(const float *x, float *y, size_t count, float amplitude, float slope);

// The LSTM cell of `rows` rows of `width` units, as Kernels/lstm.cl computes it: gates [rows, 4 width] (input,
// forget, candidate, output pre-activations, overwritten by their activations), previous_cell, cell, cell_tanh and
// hidden [rows, width].
void synapse_lstm_cell_forward(float *gates, const float *previous_cell, float *cell, float *cell_tanh, float *hidden,
                               size_t rows, size_t width);

// The instructions in use: "AVX-512", "AVX2" or "baseline".
const char *synapse_vector_instructions(void);

// Switches to the named instructions ("AVX-512", "AVX2" or "baseline") and returns 1, or returns 0 when this
// processor lacks them. For tests, between ops: nothing may run at the time.
int synapse_vector_select(const char *name);

#endif
