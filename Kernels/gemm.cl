// Row-major SGEMM: C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
//
// Split K: work-groups along dimension 2 each take k_slice of the K dimension and write their partial
// product (beta = 0) to their own copy of C, c_slice_stride elements apart; gemm_sum_slices then adds the
// copies into C. Without split, there is one slice with k_slice = k.
//
// One work-group computes an MWG x NWG tile of C. For each KWG-deep slice of the K dimension it
// copies the matching tiles of op(A) and op(B) into local memory (zero-padded at the matrix edges,
// so the inner loop has no bounds checks), then each of its MDIMC x NDIMC work-items accumulates an
// MWI x NWI block of C in registers, NWI columns at a time as float vectors of width VWN.
//
// Parameters (-D), with defaults; the backend picks them per matrix shape (GemmPlan: tuned by
// `synapse tune`, else defaults per device class):
//   TRANS_A, TRANS_B   0 or 1: whether A (resp. B) is stored transposed
//   MWG, NWG, KWG      tile of C per work-group, and depth of the K slice held in local memory
//   MDIMC, NDIMC       work-items per work-group along M and N
//   VWN                vector width along N: 1, 2, 4, 8 or 16; must divide NWG / NDIMC
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef MWG
#define MWG 64
#endif
#ifndef NWG
#define NWG 64
#endif
#ifndef KWG
#define KWG 16
#endif
#ifndef MDIMC
#define MDIMC 8
#endif
#ifndef NDIMC
#define NDIMC 8
#endif
#ifndef VWN
#define VWN 4
#endif

#define MWI (MWG / MDIMC)
#define NWI (NWG / NDIMC)
#define NVEC (NWI / VWN)

#if VWN == 1
typedef float floatN;
#define LOADN(offset, p) ((p)[offset])
#define STOREN(v, offset, p) ((p)[offset] = (v))
#elif VWN == 2
typedef float2 floatN;
#define LOADN vload2
#define STOREN vstore2
#elif VWN == 4
typedef float4 floatN;
#define LOADN vload4
#define STOREN vstore4
#elif VWN == 8
typedef float8 floatN;
#define LOADN vload8
#define STOREN vstore8
#elif VWN == 16
typedef float16 floatN;
#define LOADN vload16
#define STOREN vstore16
#endif

// Element (row, col) of op(A) (M x K) and op(B) (K x N).
#if TRANS_A
#define A_AT(row, col) a[(col) * lda + (row)]
#else
#define A_AT(row, col) a[(row) * lda + (col)]
#endif
#if TRANS_B
#define B_AT(row, col) b[(col) * ldb + (row)]
#else
#define B_AT(row, col) b[(row) * ldb + (col)]
#endif

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void gemm(const int m, const int n, const int k, const float alpha,
          __global const float* restrict a, const int a_offset, const int lda,
          __global const float* restrict b, const int b_offset, const int ldb,
          const float beta, __global float* c, const int c_offset, const int ldc,
          const int k_slice, const int c_slice_stride) {
    __local float a_tile[KWG * MWG];  // [k][m]
    __local float b_tile[KWG * NWG];  // [k][n]
    a += a_offset;
    b += b_offset;
    c += c_offset + get_group_id(2) * c_slice_stride;
    const int k_begin = get_group_id(2) * k_slice, k_end = min(k, k_begin + k_slice);

    const int tx = get_local_id(0), ty = get_local_id(1);
    const int thread = ty * NDIMC + tx;
    const int m0 = get_group_id(1) * MWG, n0 = get_group_id(0) * NWG;
    const bool interior_mn = m0 + MWG <= m && n0 + NWG <= n;

    floatN acc[MWI][NVEC];
    for (int i = 0; i < MWI; i++)
        for (int j = 0; j < NVEC; j++) acc[i][j] = (floatN)(0.0f);

    for (int k0 = k_begin; k0 < k_end; k0 += KWG) {
        if (interior_mn && k0 + KWG <= k_end) {
            for (int e = thread; e < KWG * MWG; e += MDIMC * NDIMC) {
#if TRANS_A
                const int kk = e / MWG, mm = e % MWG;   // consecutive threads read along M
#else
                const int mm = e / KWG, kk = e % KWG;   // consecutive threads read along K
#endif
                a_tile[kk * MWG + mm] = A_AT(m0 + mm, k0 + kk);
            }
            for (int e = thread; e < KWG * NWG; e += MDIMC * NDIMC) {
#if TRANS_B
                const int nn = e / KWG, kk = e % KWG;
#else
                const int kk = e / NWG, nn = e % NWG;
#endif
                b_tile[kk * NWG + nn] = B_AT(k0 + kk, n0 + nn);
            }
        } else {
            for (int e = thread; e < KWG * MWG; e += MDIMC * NDIMC) {
                const int kk = e / MWG, mm = e % MWG;
                const bool inside = m0 + mm < m && k0 + kk < k_end;
                a_tile[kk * MWG + mm] = inside ? A_AT(m0 + mm, k0 + kk) : 0.0f;
            }
            for (int e = thread; e < KWG * NWG; e += MDIMC * NDIMC) {
                const int kk = e / NWG, nn = e % NWG;
                const bool inside = n0 + nn < n && k0 + kk < k_end;
                b_tile[kk * NWG + nn] = inside ? B_AT(k0 + kk, n0 + nn) : 0.0f;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int kk = 0; kk < KWG; kk++) {
            floatN b_reg[NVEC];
            for (int j = 0; j < NVEC; j++)
                b_reg[j] = LOADN(0, b_tile + kk * NWG + tx * NWI + j * VWN);
            for (int i = 0; i < MWI; i++) {
                const float a_reg = a_tile[kk * MWG + ty * MWI + i];
                for (int j = 0; j < NVEC; j++) acc[i][j] = fma((floatN)(a_reg), b_reg[j], acc[i][j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    if (interior_mn) {
        // Whole vectors, no bounds checks: a product with a short K (a weight gradient over a batch) spends
        // most of its time here.
        for (int i = 0; i < MWI; i++) {
            __global float* out = c + (m0 + ty * MWI + i) * ldc + n0 + tx * NWI;
            for (int j = 0; j < NVEC; j++) {
                const floatN r = alpha * acc[i][j];
                STOREN(beta == 0.0f ? r : r + beta * LOADN(0, out + j * VWN), 0, out + j * VWN);
            }
        }
        return;
    }
    for (int i = 0; i < MWI; i++) {
        const int row = m0 + ty * MWI + i;
        if (row >= m) break;
        for (int j = 0; j < NVEC; j++) {
            const floatN v = acc[i][j];
            float lanes[VWN];
            STOREN(v, 0, lanes);
            for (int l = 0; l < VWN; l++) {
                const int col = n0 + tx * NWI + j * VWN + l;
                if (col < n) {
                    const float r = alpha * lanes[l];
                    c[row * ldc + col] = beta == 0.0f ? r : r + beta * c[row * ldc + col];
                }
            }
        }
    }
}

// C = alpha * (sum of the slices' partial products, each [m, n] with leading dimension n) + beta * C.
__kernel void gemm_sum_slices(__global const float* partial, const int partial_offset, const int slices, const int m,
                              const int n, const float alpha, const float beta, __global float* c, const int c_offset,
                              const int ldc) {
    partial += partial_offset;
    const int index = get_global_id(0);
    if (index >= m * n) return;
    float sum = 0.0f;
    for (int s = 0; s < slices; s++) sum += partial[s * m * n + index];
    __global float* out = c + c_offset + (index / n) * ldc + index % n;
    *out = beta == 0.0f ? alpha * sum : alpha * sum + beta * *out;
}
