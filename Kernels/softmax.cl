// Row-wise softmax of a [rows, cols] matrix, one work-item per row, max subtracted for stability.

// Writes the softmax of one row and returns (max, sum of exp(x - max)). `out` may be `in`.
float2 softmax_row(__global const float* in, __global float* out, const int cols) {
    float m = -INFINITY;
    for (int j = 0; j < cols; j++) m = fmax(m, in[j]);
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
        out[j] = exp(in[j] - m);
        sum += out[j];
    }
    for (int j = 0; j < cols; j++) out[j] /= sum;
    return (float2)(m, sum);
}

__kernel void softmax_forward(__global const float* x, const int x_offset, __global float* y, const int y_offset,
                              const int rows, const int cols) {
    x += x_offset;
    y += y_offset;
    const int r = get_global_id(0);
    if (r < rows) softmax_row(x + r * cols, y + r * cols, cols);
}

__kernel void softmax_backward(__global const float* y, const int y_offset, __global const float* dy,
                               const int dy_offset, __global float* dx, const int dx_offset, const int rows,
                               const int cols) {
    y += y_offset;
    dy += dy_offset;
    dx += dx_offset;
    const int r = get_global_id(0);
    if (r >= rows) return;
    const int base = r * cols;
    float dot = 0.0f;
    for (int j = 0; j < cols; j++) dot += dy[base + j] * y[base + j];
    for (int j = 0; j < cols; j++) dx[base + j] = y[base + j] * (dy[base + j] - dot);
}

// Probabilities and per-row loss log(sum exp(x - m)) - (x[label] - m), computed from the logits so that
// a confidently wrong row gives a large finite loss rather than log(0). A label outside [0, cols) gives NaN.
__kernel void softmax_cross_entropy_forward(__global const float* x, const int x_offset, __global const int* labels,
                                            const int labels_offset, __global float* p, const int p_offset,
                                            __global float* losses, const int losses_offset, const int rows,
                                            const int cols) {
    x += x_offset;
    labels += labels_offset;
    p += p_offset;
    losses += losses_offset;
    const int r = get_global_id(0);
    if (r >= rows) return;
    __global const float* in = x + r * cols;
    const int label = labels[r];
    const bool valid = label >= 0 && label < cols;
    const float picked = valid ? in[label] : 0.0f;  // read before `p` may overwrite `x` in place
    const float2 max_sum = softmax_row(in, p + r * cols, cols);
    losses[r] = valid ? log(max_sum.y) - (picked - max_sum.x) : NAN;
}

// Gradient of the batch-mean loss: (p - onehot(label)) / rows.
__kernel void softmax_cross_entropy_backward(__global const float* p, const int p_offset, __global const int* labels,
                                             const int labels_offset, __global float* dx, const int dx_offset,
                                             const int rows, const int cols) {
    p += p_offset;
    labels += labels_offset;
    dx += dx_offset;
    FOR_EACH_INDEX(i, rows * cols) {
        const float target = labels[i / cols] == i % cols ? 1.0f : 0.0f;
        dx[i] = (p[i] - target) / (float)rows;
    }
}
