// Random numbers from Philox (philox.cl is prepended), one work-item per Philox block: block (counter / 4 + id)
// yields the words of up to four consecutive elements; element i uses word (counter + i) of the stream, so
// every device draws the same numbers. Nothing here may be contracted into fused multiply-adds: the Swift
// code that computes the same values on the CPU rounds every operation.
#pragma OPENCL FP_CONTRACT OFF

// The first element of work-item `id`'s block (may be negative), and its four words.
#define BLOCK_WORDS(first, words)                                                                          \
    const ulong block = ((counter >> 2) + get_global_id(0)) & 0x3FFFFFFFFFFFFFFFul;                      \
    const long first = (long)((block << 2) - counter);                                                   \
    if (first >= count) return;                                                                           \
    const uint4 r = philox4x32_10((uint4)((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32)), \
                                  (uint2)((uint)seed, (uint)(seed >> 32)));                              \
    const uint words[4] = {r.x, r.y, r.z, r.w}

// Inverted dropout: element i is kept when its word, as a uniform, is at least `probability`; kept elements are
// scaled by `scale` (= 1 / (1 - probability), computed once on the host so every device multiplies by the same
// float). The backward pass is the same function applied to the gradient: the mask is regenerated from the same
// address rather than stored.
__kernel void dropout(__global const float* in, const int in_offset, __global float* out, const int out_offset,
                      const int count, const float probability, const float scale, const ulong seed,
                      const ulong stream, const ulong counter) {
    in += in_offset;
    out += out_offset;
    BLOCK_WORDS(first, words);
    for (int lane = 0; lane < 4; lane++) {
        const long i = first + lane;
        if (i >= 0 && i < count) out[i] = philox_uniform(words[lane]) >= probability ? in[i] * scale : 0.0f;
    }
}

// out[i] = low + (high - low) * u_i.
__kernel void uniform(__global float* out, const int out_offset, const int count, const float low, const float high,
                      const ulong seed, const ulong stream, const ulong counter) {
    out += out_offset;
    BLOCK_WORDS(first, words);
    const float width = high - low;
    for (int lane = 0; lane < 4; lane++) {
        const long i = first + lane;
        if (i >= 0 && i < count) out[i] = low + width * philox_uniform(words[lane]);
    }
}

// out[i] = 1 when u_i < p[i], else 0: a Bernoulli draw with probability p[i].
__kernel void bernoulli(__global const float* p, const int p_offset, __global float* out, const int out_offset,
                        const int count, const ulong seed, const ulong stream, const ulong counter) {
    p += p_offset;
    out += out_offset;
    BLOCK_WORDS(first, words);
    for (int lane = 0; lane < 4; lane++) {
        const long i = first + lane;
        if (i >= 0 && i < count) out[i] = philox_uniform(words[lane]) < p[i] ? 1.0f : 0.0f;
    }
}
