// SGD with momentum, PyTorch's form: g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v).

__kernel void sgd_momentum(__global float* w, __global const float* g, __global float* v, const int count,
                           const float lr, const float mu, const float wd, const int nesterov) {
    FOR_EACH_INDEX(i, count) {
        const float grad = g[i] + wd * w[i];
        const float velocity = mu * v[i] + grad;
        v[i] = velocity;
        w[i] -= lr * (nesterov ? grad + mu * velocity : velocity);
    }
}
