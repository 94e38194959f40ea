// The CPU backend's random draws (Philox), exp-based activations, LSTM cell and bias gradient, in vectors of
// sixteen lanes written once (clang's vector extensions) and compiled three times: for AVX-512, for AVX2 and for
// the x86-64 baseline, the best the processor has chosen when the program starts. Swift compiles for the baseline
// only, where these loops run at a third to a half of the speed. Contraction into FMA is off, so that every
// target, and the Swift reference code (Philox.block, the tests' expectations), computes the same IEEE operations
// in the same order: the same bits everywhere.
#include "CVector.h"
#include "lanes.h"

#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the word and lane bit casts assume little-endian lanes");

typedef int32_t ints __attribute__((vector_size(4 * LANES)));
typedef uint32_t words __attribute__((vector_size(4 * LANES)));
typedef uint64_t doublewords __attribute__((vector_size(4 * LANES)));
typedef uint32_t word_pairs __attribute__((vector_size(8 * LANES)));
typedef double doubles __attribute__((vector_size(8 * LANES)));

INLINE floats splat(float value) { return (floats){0} + value; }

// Lanes of `a` where `mask` is set, else of `b`.
INLINE floats choose(ints mask, floats a, floats b) { return (floats)(((ints)a & mask) | ((ints)b & ~mask)); }

// p[i ..< i + LANES], zeros past `end`; the test is one compare, taken the same way but at the end.
INLINE floats load(const float *p, size_t i, size_t end) {
    floats v = {0};
    if (end - i >= LANES) {
        memcpy(&v, p + i, sizeof v);
    } else {
        for (size_t k = 0; k < end - i; k++) v[k] = p[i + k];
    }
    return v;
}

// The lanes of v that lie before `end`, to p + i.
INLINE void store(floats v, float *p, size_t i, size_t end) {
    if (end - i >= LANES) {
        memcpy(p + i, &v, sizeof v);
    } else {
        for (size_t k = 0; k < end - i; k++) p[i + k] = v[k];
    }
}

// Cephes' single-precision exp: x = n ln 2 + r, |r| <= ln 2 / 2, exp(r) by a polynomial, 2^n from exponent bits.
INLINE floats vector_exp(floats x) {
    x = choose(x < -87.3365f, splat(-87.3365f), x);
    x = choose(x > 88.3762626647949f, splat(88.3762626647949f), x);
    // n = x / ln 2 rounded to an integer: adding and taking away 1.5 * 2^23 rounds to nearest.
    floats n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    // ln 2 in two parts, so that n ln 2 is exact.
    floats r = x - n * 0.693359375f + n * 2.12194440e-4f;
    floats p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    floats y = p * (r * r) + r + 1;
    // n + 127 + 2^23 is exact, and its low mantissa bits are n + 127: the exponent field of 2^n.
    words biased = (words)(n + 8388735.0f) & 0x7FFFFFu;
    return y * (floats)(biased << 23);
}

INLINE floats vector_sigmoid(floats x) { return 1 / (1 + vector_exp(0 - x)); }

INLINE floats vector_tanh(floats x) {
    floats magnitude = (floats)((words)x & 0x7FFFFFFFu);
    // Near zero a polynomial, whose relative error stays small; further out 1 - 2 / (exp(2|x|) + 1).
    floats z = x * x;
    floats p = splat(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    floats small = p * z * x + x;
    floats far = 1 - 2 / (vector_exp(magnitude * 2) + 1);
    floats large = choose(x < 0, 0 - far, far);
    return choose(magnitude >= 0.625f, large, small);
}

// The high and low words of each lane's 64-bit product with `factor`: even and odd lanes multiplied as 64-bit
// lanes apart, which is one 32x32->64 multiply instruction each.
INLINE void multiply_wide(words x, uint64_t factor, words *high, words *low) {
    doublewords even = ((doublewords)x & 0xFFFFFFFFu) * factor, odd = ((doublewords)x >> 32) * factor;
    *high = (words)((even >> 32) | (odd & 0xFFFFFFFF00000000u));
    *low = (words)((even & 0xFFFFFFFFu) | (odd << 32));
}

// Blocks first ..< first + LANES, lane j of the vectors being block first + j, written out in word order.
INLINE void philox_lanes(uint64_t first, uint32_t stream_low, uint32_t stream_high, uint32_t key_low,
                         uint32_t key_high, uint32_t out[4 * LANES]) {
    const words lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    words c0 = (uint32_t)first + lane;
    // A lane whose low word wrapped carries one into the high word (true lanes compare as -1).
    words c1 = ((uint32_t)(first >> 32) - (words)(c0 < (uint32_t)first)) & 0x3FFFFFFFu;
    words c2 = (words){0} + stream_low, c3 = (words){0} + stream_high;
    uint32_t k0 = key_low, k1 = key_high;
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        words high0, low0, high1, low1;
        multiply_wide(c0, 0xD2511F53u, &high0, &low0);
        multiply_wide(c2, 0xCD9E8D57u, &high1, &low1);
        c0 = high1 ^ c1 ^ k0;
        c1 = low1;
        c2 = high0 ^ c3 ^ k1;
        c3 = low0;
    }
    // Transposed to word order: pairs (c0, c1) and (c2, c3) interleaved, then the pairs.
    word_pairs a = __builtin_shufflevector(c0, c1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, 8, 24, 9, 25,
                                           10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    word_pairs b = __builtin_shufflevector(c2, c3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, 8, 24, 9, 25,
                                           10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    words q0 = __builtin_shufflevector(a, b, 0, 1, 32, 33, 2, 3, 34, 35, 4, 5, 36, 37, 6, 7, 38, 39);
    words q1 = __builtin_shufflevector(a, b, 8, 9, 40, 41, 10, 11, 42, 43, 12, 13, 44, 45, 14, 15, 46, 47);
    words q2 = __builtin_shufflevector(a, b, 16, 17, 48, 49, 18, 19, 50, 51, 20, 21, 52, 53, 22, 23, 54, 55);
    words q3 = __builtin_shufflevector(a, b, 24, 25, 56, 57, 26, 27, 58, 59, 28, 29, 60, 61, 30, 31, 62, 63);
    memcpy(out, &q0, sizeof q0);
    memcpy(out + LANES, &q1, sizeof q1);
    memcpy(out + 2 * LANES, &q2, sizeof q2);
    memcpy(out + 3 * LANES, &q3, sizeof q3);
}

INLINE void philox_body(uint64_t first, size_t count, uint64_t stream, uint64_t key, uint32_t *out) {
    const uint32_t s0 = (uint32_t)stream, s1 = (uint32_t)(stream >> 32), k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    size_t j = 0;
    for (; j + LANES <= count; j += LANES) philox_lanes(first + j, s0, s1, k0, k1, out + 4 * j);
    if (j < count) {
        uint32_t last[4 * LANES];
        philox_lanes(first + j, s0, s1, k0, k1, last);
        memcpy(out + 4 * j, last, 4 * (count - j) * sizeof(uint32_t));
    }
}

enum random_kind { UNIFORM, BERNOULLI, DROPOUT };
enum { RUN_BLOCKS = 64 };

// Element i of `count` from Philox word counter + i, in runs of RUN_BLOCKS blocks (the first run's first word may
// sit mid-block; the rest start on a block): UNIFORM out = a + b u, BERNOULLI out = (u < in) ? 1 : 0, DROPOUT
// out = (u >= a) ? in b : 0, where u is the word's top 24 bits over 2^24 (Philox.uniform), exact in a float.
INLINE void random_body(enum random_kind kind, const float *in, float *out, size_t count, float a, float b,
                        uint64_t counter, uint64_t stream, uint64_t key) {
    // Room for a run's words and the lanes a padded last vector reads past them, which read zeros or an earlier
    // run's words (so defined) and are not stored.
    uint32_t run[4 * RUN_BLOCKS + LANES] = {0};
    for (size_t start = 0; start < count;) {
        const uint64_t word = counter + start;
        const size_t skipped = word % 4, room = 4 * RUN_BLOCKS - skipped;
        const size_t length = count - start < room ? count - start : room, end = start + length;
        philox_body(word / 4, (skipped + length + 3) / 4, stream, key, run);
        // The run's last vector loads and stores only the run's elements: one past them may be the next run's
        // input, when the op runs in place.
        for (size_t k = 0; k < length; k += LANES) {
            words w;
            memcpy(&w, run + skipped + k, sizeof w);   // past `length` only when the last vector is padded
            const floats u = __builtin_convertvector((ints)(w >> 8), floats) * (1.0f / 16777216.0f);
            floats value;
            switch (kind) {
            case UNIFORM: value = a + b * u; break;
            case BERNOULLI: value = choose(u < load(in, start + k, end), splat(1), splat(0)); break;
            case DROPOUT: value = choose(u >= a, load(in, start + k, end) * b, splat(0)); break;
            }
            store(value, out, start + k, end);
        }
        start += length;
    }
}

INLINE void sigmoid_body(const float *x, float *y, size_t count) {
    for (size_t i = 0; i < count; i += LANES) store(vector_sigmoid(load(x, i, count)), y, i, count);
}

INLINE void tanh_body(const float *x, float *y, size_t count, float amplitude, float slope) {
    for (size_t i = 0; i < count; i += LANES) store(amplitude * vector_tanh(slope * load(x, i, count)), y, i, count);
}

// Columns first ..< first + count of x [rows, columns] summed down the rows in Double, in row order, two vectors of
// columns at a time so that their additions overlap.
INLINE void bias_gradient_body(const float *x, size_t rows, size_t columns, size_t first, size_t count, float *sums,
                               int accumulate) {
    const size_t end = first + count;
    for (size_t c = first; c < end; c += 2 * LANES) {
        doubles total0 = {0}, total1 = {0};
        for (size_t row = 0; row < rows; row++) {
            const float *line = x + row * columns;
            total0 += __builtin_convertvector(load(line, c, end), doubles);
            if (c + LANES < end) total1 += __builtin_convertvector(load(line, c + LANES, end), doubles);
        }
        for (size_t k = 0; k < 2 * LANES && c + k < end; k++) {
            const float total = (float)(k < LANES ? total0[k] : total1[k - LANES]);
            sums[c + k] = accumulate ? sums[c + k] + total : total;
        }
    }
}

INLINE void lstm_body(float *gates, const float *previous_cell, float *cell, float *cell_tanh, float *hidden,
                      size_t rows, size_t width) {
    for (size_t row = 0; row < rows; row++) {
        float *gate = gates + row * 4 * width;
        const float *cp = previous_cell + row * width;
        float *c = cell + row * width, *t = cell_tanh + row * width, *h = hidden + row * width;
        for (size_t j = 0; j < width; j += LANES) {
            floats i = vector_sigmoid(load(gate, j, width)), f = vector_sigmoid(load(gate + width, j, width));
            floats g = vector_tanh(load(gate + 2 * width, j, width));
            floats o = vector_sigmoid(load(gate + 3 * width, j, width));
            store(i, gate, j, width);
            store(f, gate + width, j, width);
            store(g, gate + 2 * width, j, width);
            store(o, gate + 3 * width, j, width);
            floats value = f * load(cp, j, width) + i * g, squashed = vector_tanh(value);
            store(value, c, j, width);
            store(squashed, t, j, width);
            store(o * squashed, h, j, width);
        }
    }
}

struct kernels {
    const char *name;
    void (*random)(enum random_kind, const float *, float *, size_t, float, float, uint64_t, uint64_t, uint64_t);
    void (*sigmoid)(const float *, float *, size_t);
    void (*tanh)(const float *, float *, size_t, float, float);
    void (*bias_gradient)(const float *, size_t, size_t, size_t, size_t, float *, int);
    void (*lstm)(float *, const float *, float *, float *, float *, size_t, size_t);
};

// A set's entry points. The random one calls random_body with each kind as a constant, so that each kind's loop is
// compiled without the switch in it.
#define KERNELS(suffix, name, target)                                                                                  \
    target static void random_##suffix(enum random_kind kind, const float *in, float *out, size_t count, float a,      \
                                       float b, uint64_t counter, uint64_t stream, uint64_t key) {                     \
        switch (kind) {                                                                                                \
        case UNIFORM: random_body(UNIFORM, in, out, count, a, b, counter, stream, key); break;                        \
        case BERNOULLI: random_body(BERNOULLI, in, out, count, a, b, counter, stream, key); break;                    \
        case DROPOUT: random_body(DROPOUT, in, out, count, a, b, counter, stream, key); break;                        \
        }                                                                                                              \
    }                                                                                                                  \
    target static void sigmoid_##suffix(const float *x, float *y, size_t count) { sigmoid_body(x, y, count); }         \
    target static void tanh_##suffix(const float *x, float *y, size_t count, float amplitude, float slope) {           \
        tanh_body(x, y, count, amplitude, slope);                                                                      \
    }                                                                                                                  \
    target static void bias_gradient_##suffix(const float *x, size_t rows, size_t columns, size_t first, size_t count, \
                                              float *sums, int accumulate) {                                           \
        bias_gradient_body(x, rows, columns, first, count, sums, accumulate);                                          \
    }                                                                                                                  \
    target static void lstm_##suffix(float *gates, const float *previous_cell, float *cell, float *cell_tanh,         \
                                     float *hidden, size_t rows, size_t width) {                                       \
        lstm_body(gates, previous_cell, cell, cell_tanh, hidden, rows, width);                                         \
    }                                                                                                                  \
    static const struct kernels suffix = {name, random_##suffix, sigmoid_##suffix, tanh_##suffix,                      \
                                           bias_gradient_##suffix, lstm_##suffix};

KERNELS(baseline, "baseline", )
#if defined(__x86_64__)
KERNELS(avx2, "AVX2", __attribute__((target("avx2"))))
KERNELS(avx512, "AVX-512", __attribute__((target("avx512f"))))
#endif

// Written at start-up and by synapse_vector_select, read by every op on any thread: atomic, relaxed (each set
// computes the same bits, so no op depends on which it reads).
static const struct kernels *active_set = &baseline;

static const struct kernels *active(void) { return __atomic_load_n(&active_set, __ATOMIC_RELAXED); }

static int supported(const struct kernels *set) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (set == &avx512) return __builtin_cpu_supports("avx512f");
    if (set == &avx2) return __builtin_cpu_supports("avx2");
#endif
    return set == &baseline;
}

static const struct kernels *const every_set[] = {
#if defined(__x86_64__)
    &avx512, &avx2,
#endif
    &baseline,
};

int synapse_vector_select(const char *name) {
    for (size_t i = 0; i < sizeof every_set / sizeof *every_set; i++) {
        if (strcmp(every_set[i]->name, name) == 0 && supported(every_set[i])) {
            __atomic_store_n(&active_set, every_set[i], __ATOMIC_RELAXED);
            return 1;
        }
    }
    return 0;
}

// The best the processor has (every_set runs from the widest), chosen before any thread starts.
__attribute__((constructor)) static void choose_kernels(void) {
    for (size_t i = 0; i < sizeof every_set / sizeof *every_set && !synapse_vector_select(every_set[i]->name); i++) {}
}

const char *synapse_vector_instructions(void) { return active()->name; }

void synapse_uniform(float *y, size_t count, float low, float high, uint64_t counter, uint64_t stream, uint64_t key) {
    active()->random(UNIFORM, NULL, y, count, low, high - low, counter, stream, key);
}

void synapse_bernoulli(const float *p, float *y, size_t count, uint64_t counter, uint64_t stream, uint64_t key) {
    active()->random(BERNOULLI, p, y, count, 0, 0, counter, stream, key);
}

void synapse_dropout(const float *x, float *y, size_t count, float probability, uint64_t counter, uint64_t stream,
                     uint64_t key) {
    active()->random(DROPOUT, x, y, count, probability, 1 / (1 - probability), counter, stream, key);
}

void synapse_sigmoid(const float *x, float *y, size_t count) { active()->sigmoid(x, y, count); }

void synapse_tanh(const float *x, float *y, size_t count, float amplitude, float slope) {
    active()->tanh(x, y, count, amplitude, slope);
}

void synapse_bias_gradient(const float *x, size_t rows, size_t columns, size_t first, size_t count, float *sums,
                           int accumulate) {
    active()->bias_gradient(x, rows, columns, first, count, sums, accumulate);
}

void synapse_lstm_cell_forward(float *gates, const float *previous_cell, float *cell, float *cell_tanh, float *hidden,
                               size_t rows, size_t width) {
    active()->lstm(gates, previous_cell, cell, cell_tanh, hidden, rows, width);
}
