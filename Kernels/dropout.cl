// Inverted dropout with a mask drawn from Philox (philox.cl is prepended): element i is kept when
// word (counter + i) is at least `probability` as a uniform; kept elements are scaled by `scale`
// (= 1 / (1 - probability), computed once on the host so every device multiplies by the same float).

__kernel void dropout_forward(__global const float* x, __global float* y, const int count, const float probability,
                              const float scale, const ulong seed, const ulong stream, const ulong counter) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const bool keep = philox_uniform(philox_word(seed, stream, counter + i)) >= probability;
    y[i] = keep ? x[i] * scale : 0.0f;
}

// The backward pass regenerates the mask from the same address instead of storing it.
__kernel void dropout_backward(__global const float* dy, __global float* dx, const int count, const float probability,
                               const float scale, const ulong seed, const ulong stream, const ulong counter) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const bool keep = philox_uniform(philox_word(seed, stream, counter + i)) >= probability;
    dx[i] = keep ? dy[i] * scale : 0.0f;
}
