// im2col / col2im for one image, Caffe's layout: column row (c*KH + i)*KW + j, column (oh*OW + ow).
// Geometry arguments: channels, height, width, kernel (kh, kw), padding (ph, pw), stride (sh, sw),
// dilation (dh, dw), output size (oh, ow).

#define GEOMETRY const int channels, const int height, const int width, const int kh, const int kw, \
    const int ph, const int pw, const int sh, const int sw, const int dh, const int dw, const int oh, const int ow

// One column element per index; positions in the padding read as zero.
__kernel void im2col(__global const float* image, const int image_offset, GEOMETRY,
                     __global float* columns, const int columns_offset) {
    const int spatial = oh * ow;
    FOR_EACH_INDEX(index, channels * kh * kw * spatial) {
        const int x = index % ow, y = (index / ow) % oh, row = index / spatial;
        const int j = row % kw, i = (row / kw) % kh, c = row / (kw * kh);
        const int h = y * sh - ph + i * dh, w = x * sw - pw + j * dw;
        const bool inside = h >= 0 && h < height && w >= 0 && w < width;
        columns[columns_offset + index] = inside ? image[image_offset + (c * height + h) * width + w] : 0.0f;
    }
}

// One image pixel per index: gathers every column entry that maps to it (no atomics needed).
__kernel void col2im(__global const float* columns, const int columns_offset, GEOMETRY,
                     __global float* image, const int image_offset) {
    FOR_EACH_INDEX(index, channels * height * width) {
        const int w = index % width, h = (index / width) % height, c = index / (width * height);
        float sum = 0.0f;
        for (int i = 0; i < kh; i++) {
            const int hp = h + ph - i * dh;
            if (hp < 0 || hp % sh != 0 || hp / sh >= oh) continue;
            for (int j = 0; j < kw; j++) {
                const int wp = w + pw - j * dw;
                if (wp < 0 || wp % sw != 0 || wp / sw >= ow) continue;
                sum += columns[columns_offset + (((c * kh + i) * kw + j) * oh + hp / sh) * ow + wp / sw];
            }
        }
        image[image_offset + index] = sum;
    }
}
