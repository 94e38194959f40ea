// Adam (Kingma & Ba), PyTorch's form with L2 weight decay folded into the gradient:
// g' = g + wd*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
// w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with bc1 = 1 - b1^t and bc2 = 1 - b2^t computed on the host
// (so that every device uses the same Float32 values).

__kernel void adam(__global float* w, __global const float* g, __global float* m, __global float* v, const int count,
                   const float lr, const float b1, const float b2, const float eps, const float wd,
                   const float bc1, const float sqrt_bc2) {
    FOR_EACH_INDEX(i, count) {
        const float grad = g[i] + wd * w[i];
        const float mean = b1 * m[i] + (1.0f - b1) * grad;
        const float variance = b2 * v[i] + (1.0f - b2) * grad * grad;
        m[i] = mean;
        v[i] = variance;
        w[i] -= (lr / bc1) * mean / (sqrt(variance) / sqrt_bc2 + eps);
    }
}
