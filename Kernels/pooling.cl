// Max and average pooling over independent planes. Windows start at (o*stride - pad); the output size
// uses floor division. Backward passes gather per input pixel, so each pixel is written exactly once.

#define GEOMETRY const int planes, const int height, const int width, const int kh, const int kw, \
    const int sh, const int sw, const int ph, const int pw, const int oh, const int ow

// The range of outputs whose windows cover input coordinate `x` (padded coordinate x + pad).
#define COVERING(x, pad, k, s, limit, first, last) \
    const int first = ((x) + (pad) < (k)) ? 0 : ((x) + (pad) - (k)) / (s) + 1; \
    const int last = min(((x) + (pad)) / (s) + 1, (limit))

__kernel void max_pool_forward(__global const float* x, const int x_offset, __global float* y, const int y_offset,
                               __global int* argmax, const int argmax_offset, GEOMETRY) {
    x += x_offset;
    y += y_offset;
    argmax += argmax_offset;
    FOR_EACH_INDEX(index, planes * oh * ow) {
        const int ox = index % ow, oy = (index / ow) % oh, plane = index / (ow * oh);
        const int h0 = max(oy * sh - ph, 0), h1 = min(oy * sh - ph + kh, height);
        const int w0 = max(ox * sw - pw, 0), w1 = min(ox * sw - pw + kw, width);
        __global const float* input = x + plane * height * width;
        float best = -INFINITY;
        int best_index = h0 * width + w0;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++)
                if (input[h * width + w] > best) {
                    best = input[h * width + w];
                    best_index = h * width + w;
                }
        y[index] = best;
        argmax[index] = best_index;
    }
}

__kernel void max_pool_backward(__global const float* dy, const int dy_offset, __global const int* argmax,
                                const int argmax_offset, __global float* dx, const int dx_offset, GEOMETRY) {
    dy += dy_offset;
    argmax += argmax_offset;
    dx += dx_offset;
    FOR_EACH_INDEX(index, planes * height * width) {
        const int w = index % width, h = (index / width) % height, plane = index / (width * height);
        COVERING(h, ph, kh, sh, oh, oy0, oy1);
        COVERING(w, pw, kw, sw, ow, ox0, ox1);
        const int offset = plane * oh * ow, pixel = h * width + w;
        float sum = 0.0f;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = ox0; ox < ox1; ox++)
                if (argmax[offset + oy * ow + ox] == pixel) sum += dy[offset + oy * ow + ox];
        dx[index] = sum;
    }
}

// The divisor counts padding but not the part of a window beyond the padded plane (PyTorch's count_include_pad).
int pool_size(int oy, int ox, int height, int width, int kh, int kw, int sh, int sw, int ph, int pw) {
    const int h0 = oy * sh - ph, w0 = ox * sw - pw;
    return (min(h0 + kh, height + ph) - h0) * (min(w0 + kw, width + pw) - w0);
}

__kernel void avg_pool_forward(__global const float* x, const int x_offset, __global float* y, const int y_offset,
                               GEOMETRY) {
    x += x_offset;
    y += y_offset;
    FOR_EACH_INDEX(index, planes * oh * ow) {
        const int ox = index % ow, oy = (index / ow) % oh, plane = index / (ow * oh);
        const int h0 = max(oy * sh - ph, 0), h1 = min(oy * sh - ph + kh, height);
        const int w0 = max(ox * sw - pw, 0), w1 = min(ox * sw - pw + kw, width);
        __global const float* input = x + plane * height * width;
        float sum = 0.0f;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) sum += input[h * width + w];
        y[index] = sum / (float)pool_size(oy, ox, height, width, kh, kw, sh, sw, ph, pw);
    }
}

__kernel void avg_pool_backward(__global const float* dy, const int dy_offset, __global float* dx,
                                const int dx_offset, GEOMETRY) {
    dy += dy_offset;
    dx += dx_offset;
    FOR_EACH_INDEX(index, planes * height * width) {
        const int w = index % width, h = (index / width) % height, plane = index / (width * height);
        COVERING(h, ph, kh, sh, oh, oy0, oy1);
        COVERING(w, pw, kw, sw, ow, ox0, ox1);
        const int offset = plane * oh * ow;
        float sum = 0.0f;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = ox0; ox < ox1; ox++)
                sum += dy[offset + oy * ow + ox] / (float)pool_size(oy, ox, height, width, kh, kw, sh, sw, ph, pw);
        dx[index] = sum;
    }
}
