// Philox4x32-10 (Salmon et al., SC'11); the same function as SynapseCore/Philox.swift, bit for bit.

uint4 philox4x32_10(uint4 counter, uint2 key) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            key.x += 0x9E3779B9u;
            key.y += 0xBB67AE85u;
        }
        const uint hi0 = mul_hi(0xD2511F53u, counter.x), lo0 = 0xD2511F53u * counter.x;
        const uint hi1 = mul_hi(0xCD9E8D57u, counter.z), lo1 = 0xCD9E8D57u * counter.z;
        counter = (uint4)(hi1 ^ counter.y ^ key.x, lo1, hi0 ^ counter.w ^ key.y, lo0);
    }
    return counter;
}

// Word `counter` of stream `stream` under key `seed`; four consecutive words share one block.
uint philox_word(ulong seed, ulong stream, ulong counter) {
    const ulong block = counter >> 2;
    const uint4 r = philox4x32_10((uint4)((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32)),
                                  (uint2)((uint)seed, (uint)(seed >> 32)));
    switch (counter & 3) {
        case 0: return r.x;
        case 1: return r.y;
        case 2: return r.z;
        default: return r.w;
    }
}

// Uniform in [0, 1) from the top 24 bits: exact in float, hence identical on every device.
float philox_uniform(uint word) { return (float)(word >> 8) * (1.0f / 16777216.0f); }

// Raw blocks for given counters and keys (known-answer tests): in[i] = (c0, c1, c2, c3, k0, k1).
__kernel void philox_blocks(__global const uint* in, __global uint* out, const int count) {
    const int i = get_global_id(0);
    if (i >= count) return;
    __global const uint* p = in + 6 * i;
    vstore4(philox4x32_10((uint4)(p[0], p[1], p[2], p[3]), (uint2)(p[4], p[5])), i, out);
}
