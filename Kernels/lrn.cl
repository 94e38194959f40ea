// Local response normalisation across channels (Caffe's ACROSS_CHANNELS) of a [batch, channels, spatial]
// tensor: scale = k + alpha/size * sum of x^2 over the `size` channels centred on c; y = x * scale^-beta.

// value * scale^-beta, with AlexNet's beta = 0.75 as a division by two square roots (cheaper than pow, and
// the CPU backend's formula).
float times_inverse_power(const float value, const float scale, const float beta) {
    return beta == 0.75f ? value / (sqrt(scale) * sqrt(sqrt(scale))) : value * pow(scale, -beta);
}

__kernel void lrn_forward(__global const float* x, const int x_offset, __global float* y, const int y_offset,
                          __global float* scale, const int scale_offset, const int batch, const int channels,
                          const int spatial, const int size, const float alpha, const float beta, const float k) {
    x += x_offset;
    y += y_offset;
    scale += scale_offset;
    FOR_EACH_INDEX(index, batch * channels * spatial) {
        const int s = index % spatial, c = (index / spatial) % channels, n = index / (spatial * channels);
        const int c0 = max(c - size / 2, 0), c1 = min(c + size / 2, channels - 1);
        float sum = 0.0f;
        for (int j = c0; j <= c1; j++) {
            const float v = x[(n * channels + j) * spatial + s];
            sum += v * v;
        }
        const float sc = k + alpha / (float)size * sum;
        scale[index] = sc;
        y[index] = times_inverse_power(x[index], sc, beta);
    }
}

// dx = dy * scale^-beta - 2*alpha*beta/size * x * sum over the window of dy * y / scale.
__kernel void lrn_backward(__global const float* x, const int x_offset, __global const float* y, const int y_offset,
                           __global const float* scale, const int scale_offset, __global const float* dy,
                           const int dy_offset, __global float* dx, const int dx_offset, const int batch,
                           const int channels, const int spatial, const int size, const float alpha,
                           const float beta) {
    x += x_offset;
    y += y_offset;
    scale += scale_offset;
    dy += dy_offset;
    dx += dx_offset;
    FOR_EACH_INDEX(index, batch * channels * spatial) {
        const int s = index % spatial, c = (index / spatial) % channels, n = index / (spatial * channels);
        const int c0 = max(c - size / 2, 0), c1 = min(c + size / 2, channels - 1);
        float sum = 0.0f;
        for (int j = c0; j <= c1; j++) {
            const int e = (n * channels + j) * spatial + s;
            sum += dy[e] * y[e] / scale[e];
        }
        dx[index] = times_inverse_power(dy[index], scale[index], beta) - 2.0f * alpha * beta / (float)size * x[index] * sum;
    }
}
