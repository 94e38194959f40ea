// Elementwise nonlinearities. `kind`: 0 ReLU, 1 leaky ReLU (uses `slope`), 2 sigmoid, 3 tanh, 4 step, 5 softplus,
// 6 LeCun's scaled tanh 1.7159 tanh(2x/3).
// The backward pass reads the derivative from the input (ReLU family, softplus) or the output (sigmoid, tanh, scaled tanh);
// the step's derivative is 0 wherever it exists.

__kernel void activation_forward(const int kind, const float slope, __global const float* x, const int x_offset,
                                 __global float* y, const int y_offset, const int count) {
    x += x_offset;
    y += y_offset;
    switch (kind) {
        case 0: FOR_EACH_INDEX(i, count) y[i] = x[i] > 0.0f ? x[i] : 0.0f; break;
        case 1: FOR_EACH_INDEX(i, count) y[i] = x[i] > 0.0f ? x[i] : slope * x[i]; break;
        case 2: FOR_EACH_INDEX(i, count) y[i] = 1.0f / (1.0f + exp(-x[i])); break;
        case 4: FOR_EACH_INDEX(i, count) y[i] = x[i] >= 0.0f ? 1.0f : 0.0f; break;
        case 5: FOR_EACH_INDEX(i, count) y[i] = fmax(x[i], 0.0f) + log1p(exp(-fabs(x[i]))); break;
        case 6: FOR_EACH_INDEX(i, count) y[i] = 1.7159f * tanh(x[i] * (2.0f / 3.0f)); break;
        default: FOR_EACH_INDEX(i, count) y[i] = tanh(x[i]); break;
    }
}

__kernel void activation_backward(const int kind, const float slope, __global const float* x, const int x_offset,
                                  __global const float* y, const int y_offset, __global const float* dy,
                                  const int dy_offset, __global float* dx, const int dx_offset, const int count) {
    x += x_offset;
    y += y_offset;
    dy += dy_offset;
    dx += dx_offset;
    switch (kind) {
        // dy is loaded unconditionally: read only under the condition, it kept PoCL from vectorising (7x slower).
        case 0: FOR_EACH_INDEX(i, count) { const float g = dy[i]; dx[i] = x[i] > 0.0f ? g : 0.0f; } break;
        case 1: FOR_EACH_INDEX(i, count) { const float g = dy[i]; dx[i] = x[i] > 0.0f ? g : slope * g; } break;
        case 2: FOR_EACH_INDEX(i, count) dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
        case 4: FOR_EACH_INDEX(i, count) dx[i] = 0.0f; break;
        case 5: FOR_EACH_INDEX(i, count) dx[i] = dy[i] / (1.0f + exp(-x[i])); break;
        case 6: FOR_EACH_INDEX(i, count) dx[i] = dy[i] * (2.0f / 3.0f) * (1.7159f - y[i] * y[i] / 1.7159f); break;
        default: FOR_EACH_INDEX(i, count) dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
    }
}
