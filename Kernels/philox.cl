// Philox4x32-10 (Salmon et al., SC'11); the same function as SynapseCore/Philox.swift, bit for bit.
// Word w of a stream is lane w % 4 of the block at counter (w / 4 as two words, stream as two words).

uint4 philox4x32_10(uint4 counter, uint2 key) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            key.x += 0x9E3779B9u;
            key.y += 0xBB67AE85u;
        }
        // 64-bit products rather than mul_hi, which PoCL does not vectorise.
        const ulong p0 = (ulong)0xD2511F53u * counter.x, p1 = (ulong)0xCD9E8D57u * counter.z;
        counter = (uint4)((uint)(p1 >> 32) ^ counter.y ^ key.x, (uint)p1, (uint)(p0 >> 32) ^ counter.w ^ key.y, (uint)p0);
    }
    return counter;
}

// Uniform in [0, 1) from the top 24 bits: exact in float, hence identical on every device.
float philox_uniform(uint word) { return (float)(word >> 8) * (1.0f / 16777216.0f); }

// Raw blocks for given counters and keys (known-answer tests): in[i] = (c0, c1, c2, c3, k0, k1).
__kernel void philox_blocks(__global const uint* in, const int in_offset, __global uint* out,
                            const int out_offset, const int count) {
    in += in_offset;
    out += out_offset;
    const int i = get_global_id(0);
    if (i >= count) return;
    __global const uint* p = in + 6 * i;
    vstore4(philox4x32_10((uint4)(p[0], p[1], p[2], p[3]), (uint2)(p[4], p[5])), i, out);
}
