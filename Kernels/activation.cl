// Elementwise nonlinearities. `kind`: 0 ReLU, 1 leaky ReLU (uses `slope`), 2 sigmoid, 3 tanh.
// The backward pass reads the derivative from the input (ReLU family) or the output (sigmoid, tanh).

__kernel void activation_forward(const int kind, const float slope, __global const float* x, __global float* y,
                                 const int count) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float v = x[i];
    switch (kind) {
        case 0: y[i] = v > 0.0f ? v : 0.0f; break;
        case 1: y[i] = v > 0.0f ? v : slope * v; break;
        case 2: y[i] = 1.0f / (1.0f + exp(-v)); break;
        default: y[i] = tanh(v); break;
    }
}

__kernel void activation_backward(const int kind, const float slope, __global const float* x, __global const float* y,
                                  __global const float* dy, __global float* dx, const int count) {
    const int i = get_global_id(0);
    if (i >= count) return;
    switch (kind) {
        case 0: dx[i] = x[i] > 0.0f ? dy[i] : 0.0f; break;
        case 1: dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i]; break;
        case 2: dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
        default: dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
    }
}
