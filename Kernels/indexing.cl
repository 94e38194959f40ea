// Row gathers and scatters of a [rows, width] table by int32 indices: an embedding's lookup and its gradient.

// output[n] = table[indices[n]], one element per index; an index outside the table gives a row of NaN (the
// quiet NaN Swift writes, so that both backends give the same bits).
__kernel void gather_rows(__global const float* table, const int table_offset, const int rows, const int width,
                          __global const int* indices, const int indices_offset, __global float* output,
                          const int output_offset, const int count) {
    table += table_offset;
    indices += indices_offset;
    output += output_offset;
    FOR_EACH_INDEX(e, count * width) {
        const int n = e / width, index = indices[n];
        output[e] = index >= 0 && index < rows ? table[index * width + e % width] : as_float(0x7fc00000u);
    }
}

// table[indices[n]] += gradients[n] for every n, deterministically and without atomics: one work-item per table row
// and run of SCATTER_COLUMNS columns sums, in increasing n, the gradients of the positions that index its row, then
// adds the sums once. The CPU backend adds in the same order, so both give the same bits. Each work-item reads every
// index (a run of columns shares those reads): made for small tables (characters); indices outside the table add
// nothing.
#define SCATTER_COLUMNS 8
__kernel void scatter_add_rows(__global const float* gradients, const int gradients_offset,
                               __global const int* indices, const int indices_offset, const int count,
                               __global float* table, const int table_offset, const int rows, const int width) {
    gradients += gradients_offset;
    indices += indices_offset;
    table += table_offset;
    const int runs = (width + SCATTER_COLUMNS - 1) / SCATTER_COLUMNS;
    const int e = get_global_id(0);
    if (e >= rows * runs) return;
    const int row = e / runs, first = e % runs * SCATTER_COLUMNS, columns = min(SCATTER_COLUMNS, width - first);
    float sums[SCATTER_COLUMNS] = {0.0f};
    bool touched = false;
    for (int n = 0; n < count; n++) {
        if (indices[n] == row) {
            for (int c = 0; c < columns; c++) sums[c] += gradients[n * width + first + c];
            touched = true;
        }
    }
    if (touched) {
        for (int c = 0; c < columns; c++) table[row * width + first + c] += sums[c];
    }
}

// The same sums with the positions grouped by row on the host (`order`, a stable sort by index): one work-item per
// (position, column) whose position starts a group sums the group, in increasing n, and adds the sum once. Each
// gradient is read once, so any table size suits. Positions or rows out of range add nothing.
__kernel void scatter_add_ordered_rows(__global const float* gradients, const int gradients_offset,
                                       __global const int* indices, const int indices_offset,
                                       __global const int* order, const int order_offset, const int count,
                                       __global float* table, const int table_offset, const int rows, const int width) {
    gradients += gradients_offset;
    indices += indices_offset;
    order += order_offset;
    table += table_offset;
    const int e = get_global_id(0);
    if (e >= count * width) return;
    const int k = e / width, column = e % width;
    const int first = order[k];
    if (first < 0 || first >= count) return;
    const int row = indices[first];
    if (row < 0 || row >= rows) return;
    if (k > 0) {
        const int before = order[k - 1];
        if (before >= 0 && before < count && indices[before] == row) return;
    }
    float sum = 0.0f;
    for (int j = k; j < count; j++) {
        const int n = order[j];
        if (n < 0 || n >= count || indices[n] != row) break;
        sum += gradients[n * width + column];
    }
    table[row * width + column] += sum;
}

// output[n] = sum over k of a[n, k] b[n, k], added in increasing k.
__kernel void row_dots(__global const float* a, const int a_offset, __global const float* b, const int b_offset,
                       __global float* output, const int output_offset, const int rows, const int width) {
    a += a_offset;
    b += b_offset;
    output += output_offset;
    FOR_EACH_INDEX(n, rows) {
        float sum = 0.0f;
        for (int k = 0; k < width; k++) sum += a[n * width + k] * b[n * width + k];
        output[n] = sum;
    }
}

// output[n, k] = x[n, k] scales[n].
__kernel void scale_rows(__global const float* x, const int x_offset, __global const float* scales,
                         const int scales_offset, __global float* output, const int output_offset, const int rows,
                         const int width) {
    x += x_offset;
    scales += scales_offset;
    output += output_offset;
    FOR_EACH_INDEX(e, rows * width) output[e] = x[e] * scales[e / width];
}
