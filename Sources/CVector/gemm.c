// Products of few rows with a large B (an LSTM's recurrent weight at every time step, a wide dense layer at a small
// batch), read in place. OpenBLAS packs both operands at every call: with few rows to share it, packing a B larger
// than the core's cache costs a pass over memory as long as the product's own. Here each block of C's rows reads B
// where it lies: rows of B (A B^T) as the second operand of dot products, or 64-column panels of B's rows (A B),
// which stay in the core's cache while every block of rows reads them.
//
// Each element of C is computed whole, in an order that depends on K only, never on where its block falls: a
// product gives the same bits however the backend cuts C's columns between threads. AVX-512 only (FMA on 16 lanes);
// elsewhere the backend keeps OpenBLAS.
#include "CVector.h"
#include "lanes.h"

#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__x86_64__)
// Everything up to the entry points is compiled for AVX-512 (their callers check that the processor has it).
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)

INLINE floats fma16(floats a, floats b, floats c) { return __builtin_elementwise_fma(a, b, c); }

INLINE floats load(const float *p) {
    floats v;
    memcpy(&v, p, sizeof v);
    return v;
}

// The first `count` lanes from p (at most LANES), zeros after them; reads nothing past them.
INLINE floats load_first(const float *p, size_t count) {
    return (floats)_mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), p);
}

// x and y with the lanes `width` apart added, x's sums in the first half of the result and y's in the second.
INLINE floats fold(floats x, floats y, int width) {
    floats low, high;
    switch (width) {
    case 8:
        low = __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        high = __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
        break;
    case 4:
        low = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
        high = __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
        break;
    case 2:
        low = __builtin_shufflevector(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
        high = __builtin_shufflevector(x, y, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
        break;
    default:
        low = __builtin_shufflevector(x, y, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        high = __builtin_shufflevector(x, y, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        break;
    }
    return low + high;
}

// Lane i: the sum of v[i]'s lanes, l + (l + 8), then + 4, + 2, + 1 apart, the same tree for every v[i].
INLINE floats lane_sums(const floats v[LANES]) {
    floats eighths[8], quarters[4], halves[2];
    for (int i = 0; i < 8; i++) eighths[i] = fold(v[2 * i], v[2 * i + 1], 8);
    for (int i = 0; i < 4; i++) quarters[i] = fold(eighths[2 * i], eighths[2 * i + 1], 4);
    for (int i = 0; i < 2; i++) halves[i] = fold(quarters[2 * i], quarters[2 * i + 1], 2);
    return fold(halves[0], halves[1], 1);
}

INLINE void store_scaled(float *c, float sum, float alpha, float beta) {
    // beta == 0 stores without reading C, which may hold NaN.
    *c = beta == 0 ? alpha * sum : alpha * sum + beta * *c;
}

// A B^T as dot products: a tile of 4 rows of A by 4 rows of B keeps 16 sums of 16 lanes each (lane l takes the
// products at k = l mod 16), folded into one vector at the end. Every block of A's rows reads the same 4 rows of B,
// from cache.
enum { DOT_ROWS = 4, DOT_COLUMNS = 4 };
_Static_assert(DOT_ROWS * DOT_COLUMNS == LANES, "a tile's sums fold into one vector");

INLINE void dot_products(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b,
                         size_t ldb, float beta, float *c, size_t ldc) {
    for (size_t j = 0; j < n; j += DOT_COLUMNS) {
        // Past the last row of A or B a tile reads that last row again and stores nothing of it.
        const float *bs[DOT_COLUMNS];
        for (size_t s = 0; s < DOT_COLUMNS; s++) bs[s] = b + (j + s < n ? j + s : n - 1) * ldb;
        for (size_t i = 0; i < m; i += DOT_ROWS) {
            const float *as[DOT_ROWS];
            for (size_t r = 0; r < DOT_ROWS; r++) as[r] = a + (i + r < m ? i + r : m - 1) * lda;
            floats sums[LANES] = {0};
            // The last step takes the rest of K, zeros in the lanes past it.
            for (size_t p = 0; p < k; p += LANES) {
                const size_t count = k - p < LANES ? k - p : LANES;
                floats av[DOT_ROWS], bv[DOT_COLUMNS];
                for (size_t r = 0; r < DOT_ROWS; r++) {
                    av[r] = count == LANES ? load(as[r] + p) : load_first(as[r] + p, count);
                }
                for (size_t s = 0; s < DOT_COLUMNS; s++) {
                    bv[s] = count == LANES ? load(bs[s] + p) : load_first(bs[s] + p, count);
                }
                for (size_t r = 0; r < DOT_ROWS; r++) {
                    for (size_t s = 0; s < DOT_COLUMNS; s++) {
                        sums[r * DOT_COLUMNS + s] = fma16(av[r], bv[s], sums[r * DOT_COLUMNS + s]);
                    }
                }
            }
            const floats totals = lane_sums(sums);
            for (size_t r = 0; r < DOT_ROWS && i + r < m; r++) {
                for (size_t s = 0; s < DOT_COLUMNS && j + s < n; s++) {
                    store_scaled(c + (i + r) * ldc + j + s, totals[r * DOT_COLUMNS + s], alpha, beta);
                }
            }
        }
    }
}

// A B with B's rows read in place: a tile of 6 rows of A by a panel of 64 of B's columns, each element of C one
// chain of multiply-adds in K's order.
enum { PANEL_ROWS = 6, PANEL_VECTORS = 4, PANEL_WIDTH = PANEL_VECTORS * LANES };

INLINE void panel_products(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    for (size_t j = 0; j < n; j += PANEL_WIDTH) {
        const size_t width = n - j < PANEL_WIDTH ? n - j : PANEL_WIDTH;
        for (size_t i = 0; i < m; i += PANEL_ROWS) {
            const float *as[PANEL_ROWS];
            for (size_t r = 0; r < PANEL_ROWS; r++) as[r] = a + (i + r < m ? i + r : m - 1) * lda;
            floats sums[PANEL_ROWS][PANEL_VECTORS] = {{0}};
            for (size_t p = 0; p < k; p++) {
                floats bv[PANEL_VECTORS] = {{0}};
                if (width == PANEL_WIDTH) {
                    memcpy(bv, b + p * ldb + j, sizeof bv);
                } else {
                    for (size_t first = 0; first < width; first += LANES) {
                        const size_t count = width - first;
                        bv[first / LANES] = count >= LANES ? load(b + p * ldb + j + first)
                                                           : load_first(b + p * ldb + j + first, count);
                    }
                }
                for (size_t r = 0; r < PANEL_ROWS; r++) {
                    const floats av = (floats)_mm512_set1_ps(as[r][p]);
                    for (size_t v = 0; v < PANEL_VECTORS; v++) sums[r][v] = fma16(av, bv[v], sums[r][v]);
                }
            }
            for (size_t r = 0; r < PANEL_ROWS && i + r < m; r++) {
                for (size_t q = 0; q < width; q++) {
                    store_scaled(c + (i + r) * ldc + j + q, sums[r][q / LANES][q % LANES], alpha, beta);
                }
            }
        }
    }
}

static void in_place_avx512(int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                            const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (trans_b) {
        dot_products(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
        panel_products(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}

#pragma clang attribute pop

// The loops in C run AVX-512 (synapse_vector_select can switch them to others, for tests).
int synapse_gemm_in_place_available(void) { return strcmp(synapse_vector_instructions(), "AVX-512") == 0; }

void synapse_gemm_in_place(int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (alpha == 0) {
        // As BLAS: C = beta C, whatever A and B hold.
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        }
    } else if (m > 0 && n > 0) {
        in_place_avx512(trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
#else
int synapse_gemm_in_place_available(void) { return 0; }

void synapse_gemm_in_place(int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c, size_t ldc) {}
#endif
