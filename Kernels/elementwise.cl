// Elementwise vector operations.

__kernel void axpy(const float alpha, __global const float* x, const int x_offset, __global float* y,
                   const int y_offset, const int count) {
    x += x_offset;
    y += y_offset;
    FOR_EACH_INDEX(i, count) y[i] += alpha * x[i];
}

__kernel void scale(__global float* x, const int x_offset, const float alpha, const int count) {
    x += x_offset;
    FOR_EACH_INDEX(i, count) x[i] *= alpha;
}

__kernel void multiply(__global const float* a, const int a_offset, __global const float* b, const int b_offset,
                       __global float* out, const int out_offset, const int count) {
    a += a_offset;
    b += b_offset;
    out += out_offset;
    FOR_EACH_INDEX(i, count) out[i] = a[i] * b[i];
}

// x *= min(1, max_norm / (sqrt(sum_sq[0]) + 1e-6)): PyTorch's clip_grad_norm_ scaling, the norm read on the device.
__kernel void clip_to_norm(__global float* x, const int x_offset, __global const float* sum_sq, const int sum_sq_offset,
                           const float max_norm, const int count) {
    x += x_offset;
    sum_sq += sum_sq_offset;
    const float coefficient = fmin(1.0f, max_norm / (sqrt(sum_sq[0]) + 1e-6f));
    FOR_EACH_INDEX(i, count) x[i] *= coefficient;
}

// The sparse autoencoder's KL penalty per hidden unit and its derivative, for mean activations r (clamped away
// from 0 and 1) and the target activation rho.
__kernel void sparsity_penalty(__global const float* r, const int r_offset, const float rho, __global float* divergence,
                               const int divergence_offset, __global float* gradient, const int gradient_offset,
                               const int count) {
    r += r_offset;
    divergence += divergence_offset;
    gradient += gradient_offset;
    FOR_EACH_INDEX(i, count) {
        const float q = clamp(r[i], 1e-6f, 1.0f - 1e-6f);
        divergence[i] = rho * log(rho / q) + (1.0f - rho) * log((1.0f - rho) / (1.0f - q));
        gradient[i] = -rho / q + (1.0f - rho) / (1.0f - q);
    }
}

// The proximal step of the L1 norm: sign(x) max(|x| - threshold, 0).
__kernel void soft_threshold(__global const float* x, const int x_offset, const float threshold, __global float* y,
                             const int y_offset, const int count) {
    x += x_offset;
    y += y_offset;
    FOR_EACH_INDEX(i, count) {
        // A comparison rather than fmax, so that NaN stays NaN as on the CPU backend.
        const float shrunk = fabs(x[i]) - threshold, kept = shrunk <= 0.0f ? 0.0f : shrunk;
        y[i] = x[i] < 0.0f ? -kept : kept;
    }
}

// Logistic units: loss -(y log sigmoid(s) + (1 - y) log(1 - sigmoid(s))) in a form that stays finite, and its
// derivative sigmoid(s) - y.
__kernel void sigmoid_cross_entropy(__global const float* logits, const int logits_offset, __global const float* labels,
                                    const int labels_offset, __global float* losses, const int losses_offset,
                                    __global float* gradients, const int gradients_offset, const int count) {
    logits += logits_offset;
    labels += labels_offset;
    losses += losses_offset;
    gradients += gradients_offset;
    FOR_EACH_INDEX(i, count) {
        const float s = logits[i], y = labels[i];
        losses[i] = fmax(s, 0.0f) - s * y + log1p(exp(-fabs(s)));
        gradients[i] = 1.0f / (1.0f + exp(-s)) - y;
    }
}
