// Adam (Kingma & Ba), PyTorch's form with L2 weight decay folded into the gradient:
// g' = g + wd*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
// w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with bc1 = 1 - b1^t and bc2 = 1 - b2^t computed on the host
// (so that every device uses the same Float32 values). Each segment of the update (a parameter, or
// consecutive ones alike) scales lr and wd by its multipliers.

__kernel void adam(__global float* w, const int w_offset, __global const float* g, const int g_offset,
                   __global float* m, const int m_offset, __global float* v, const int v_offset, const int count,
                   const float lr, const float b1, const float b2, const float eps, const float wd,
                   const float bc1, const float sqrt_bc2, __global const int* ends, const int ends_offset,
                   __global const float* lr_scale, const int lr_scale_offset, __global const float* wd_scale,
                   const int wd_scale_offset, const int runs) {
    w += w_offset;
    g += g_offset;
    m += m_offset;
    v += v_offset;
    ends += ends_offset;
    lr_scale += lr_scale_offset;
    wd_scale += wd_scale_offset;
    FOR_EACH_INDEX(i, count) {
        const int s = segment_of(i, ends, runs);
        const float rate = lr * lr_scale[s], decay = wd * wd_scale[s];
        const float grad = g[i] + decay * w[i];
        const float mean = b1 * m[i] + (1.0f - b1) * grad;
        const float variance = b2 * v[i] + (1.0f - b2) * grad * grad;
        m[i] = mean;
        v[i] = variance;
        w[i] -= (rate / bc1) * mean / (sqrt(variance) / sqrt_bc2 + eps);
    }
}
