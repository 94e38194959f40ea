// im2col / col2im over a batch of images, Caffe's layout with the images side by side: column row
// (c*KH + i)*KW + j, column n*OH*OW + oh*OW + ow. Image n starts image_stride elements after image 0.
// Geometry arguments: channels, height, width, kernel (kh, kw), padding (ph, pw), stride (sh, sw),
// dilation (dh, dw), output size (oh, ow), images and image_stride.

#define GEOMETRY const int channels, const int height, const int width, const int kh, const int kw, \
    const int ph, const int pw, const int sh, const int sw, const int dh, const int dw, const int oh, const int ow, \
    const int images, const int image_stride

// One column element per index; positions in the padding read as pad_value.
__kernel void im2col(__global const float* image, const int image_offset, GEOMETRY, __global float* columns,
                     const int columns_offset, const float pad_value) {
    const int spatial = oh * ow;
    FOR_EACH_INDEX(index, channels * kh * kw * images * spatial) {
        const int x = index % ow, y = (index / ow) % oh, n = (index / spatial) % images;
        const int row = index / (spatial * images);
        const int j = row % kw, i = (row / kw) % kh, c = row / (kw * kh);
        const int h = y * sh - ph + i * dh, w = x * sw - pw + j * dw;
        const bool inside = h >= 0 && h < height && w >= 0 && w < width;
        columns[columns_offset + index] =
            inside ? image[image_offset + n * image_stride + (c * height + h) * width + w] : pad_value;
    }
}

// One image pixel per index: gathers every column entry that maps to it (no atomics needed).
__kernel void col2im(__global const float* columns, const int columns_offset, GEOMETRY, __global float* image,
                     const int image_offset) {
    const int pixels = channels * height * width, width_of_columns = images * oh * ow;
    FOR_EACH_INDEX(index, images * pixels) {
        const int n = index / pixels, pixel = index % pixels;
        const int w = pixel % width, h = (pixel / width) % height, c = pixel / (width * height);
        __global const float* image_columns = columns + columns_offset + n * oh * ow;
        float sum = 0.0f;
        for (int i = 0; i < kh; i++) {
            const int hp = h + ph - i * dh;
            if (hp < 0 || hp % sh != 0 || hp / sh >= oh) continue;
            for (int j = 0; j < kw; j++) {
                const int wp = w + pw - j * dw;
                if (wp < 0 || wp % sw != 0 || wp / sw >= ow) continue;
                sum += image_columns[((c * kh + i) * kw + j) * width_of_columns + (hp / sh) * ow + wp / sw];
            }
        }
        image[image_offset + n * image_stride + pixel] = sum;
    }
}

// output[c][r][i] = input[r][c][i] for a [rows, columns, block_size] input; reads are consecutive. The elements
// move as uint, so float and int32 buffers keep their bits (a float copy may flush denormals, which small ints are).
__kernel void transpose_blocks(__global const uint* input, const int input_offset, __global uint* output,
                               const int output_offset, const int rows, const int columns, const int block_size) {
    FOR_EACH_INDEX(index, rows * columns * block_size) {
        const int i = index % block_size, c = (index / block_size) % columns, r = index / (block_size * columns);
        output[output_offset + (c * rows + r) * block_size + i] = input[input_offset + index];
    }
}
