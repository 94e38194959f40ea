// Bias over a [outer, channels, inner] tensor: NCHW activations (inner = H*W) or dense outputs (inner = 1).
// The gradient kernels add to db when `accumulate` is set, else overwrite it.
// GROUP_SIZE (-D, a power of two) is the work-group size of bias_gradient.
#ifndef GROUP_SIZE
#define GROUP_SIZE 256
#endif

__kernel void bias_add(__global float* data, const int data_offset, __global const float* bias, const int bias_offset,
                       const int outer, const int channels, const int inner) {
    data += data_offset;
    bias += bias_offset;
    FOR_EACH_INDEX(i, outer * channels * inner) data[i] += bias[(i / inner) % channels];
}

// Dense layers' bias gradient (inner = 1): one work-item per channel sums its column; neighbouring
// work-items read neighbouring addresses. A work-group per channel with a tree reduction costs PoCL
// more in barriers than the sum itself.
__kernel void bias_gradient_columns(__global const float* dy, const int dy_offset, __global float* db,
                                    const int db_offset, const int outer, const int channels, const int accumulate) {
    dy += dy_offset;
    db += db_offset;
    const int c = get_global_id(0);
    if (c >= channels) return;
    float sum = 0.0f;
    for (int o = 0; o < outer; o++) sum += dy[o * channels + c];
    db[c] = accumulate ? db[c] + sum : sum;
}

// One work-group per channel: strided partial sums, then a tree reduction in local memory.
__kernel __attribute__((reqd_work_group_size(GROUP_SIZE, 1, 1)))
void bias_gradient(__global const float* dy, const int dy_offset, __global float* db, const int db_offset,
                   const int outer, const int channels, const int inner, const int accumulate) {
    dy += dy_offset;
    db += db_offset;
    __local float partial[GROUP_SIZE];
    const int c = get_group_id(0), t = get_local_id(0);
    float sum = 0.0f;
    for (int e = t; e < outer * inner; e += GROUP_SIZE) {
        const int o = e / inner, i = e % inner;
        sum += dy[(o * channels + c) * inner + i];
    }
    partial[t] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = GROUP_SIZE / 2; stride > 0; stride /= 2) {
        if (t < stride) partial[t] += partial[t + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) db[c] = accumulate ? db[c] + partial[0] : partial[0];
}
