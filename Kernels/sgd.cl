// SGD with momentum, PyTorch's form: g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v),
// where each segment of the update (a parameter, or consecutive ones alike) scales lr and wd by its multipliers.
// With mu = 0, plain SGD, v is neither read nor written: w -= lr * g'.

__kernel void sgd_momentum(__global float* w, const int w_offset, __global const float* g, const int g_offset,
                           __global float* v, const int v_offset, const int count, const float lr, const float mu,
                           const float wd, const int nesterov, __global const int* ends, const int ends_offset,
                           __global const float* lr_scale, const int lr_scale_offset, __global const float* wd_scale,
                           const int wd_scale_offset, const int runs) {
    w += w_offset;
    g += g_offset;
    v += v_offset;
    ends += ends_offset;
    lr_scale += lr_scale_offset;
    wd_scale += wd_scale_offset;
    FOR_EACH_INDEX(i, count) {
        const int s = segment_of(i, ends, runs);
        const float rate = lr * lr_scale[s], decay = wd * wd_scale[s];
        const float grad = g[i] + decay * w[i];
        if (mu == 0.0f) {
            w[i] -= rate * grad;
            continue;
        }
        const float velocity = mu * v[i] + grad;
        v[i] = velocity;
        w[i] -= rate * (nesterov ? grad + mu * velocity : velocity);
    }
}
