// Inverted dropout with a mask drawn from Philox (philox.cl is prepended): element i is kept when
// word (counter + i) is at least `probability` as a uniform; kept elements are scaled by `scale`
// (= 1 / (1 - probability), computed once on the host so every device multiplies by the same float).
// The backward pass is the same function applied to the gradient: the mask is regenerated from the
// same address rather than stored.
//
// One work-item per Philox block: block (counter / 4 + id) yields the four words of up to four elements.
__kernel void dropout(__global const float* in, const int in_offset, __global float* out, const int out_offset,
                      const int count, const float probability, const float scale, const ulong seed,
                      const ulong stream, const ulong counter) {
    in += in_offset;
    out += out_offset;
    const ulong block = ((counter >> 2) + get_global_id(0)) & 0x3FFFFFFFFFFFFFFFul;
    const long first = (long)((block << 2) - counter);  // element of the block's first word; may be negative
    if (first >= count) return;
    const uint4 r = philox4x32_10((uint4)((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32)),
                                  (uint2)((uint)seed, (uint)(seed >> 32)));
    const uint words[4] = {r.x, r.y, r.z, r.w};
    for (int lane = 0; lane < 4; lane++) {
        const long i = first + lane;
        if (i >= 0 && i < count) out[i] = philox_uniform(words[lane]) >= probability ? in[i] * scale : 0.0f;
    }
}
