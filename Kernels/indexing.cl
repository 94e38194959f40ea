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

// table[indices[n]] += gradients[n] for every n, deterministically and without atomics: one work-item per table
// element sums, in increasing n, the gradients of the positions that index its row, then adds the sum once.
// The CPU backend adds in the same order, so both give the same bits. It reads every index once per table
// element: made for small tables (characters); indices outside the table add nothing.
__kernel void scatter_add_rows(__global const float* gradients, const int gradients_offset,
                               __global const int* indices, const int indices_offset, const int count,
                               __global float* table, const int table_offset, const int rows, const int width) {
    gradients += gradients_offset;
    indices += indices_offset;
    table += table_offset;
    const int e = get_global_id(0);
    if (e >= rows * width) return;
    const int row = e / width, column = e % width;
    float sum = 0.0f;
    bool touched = false;
    for (int n = 0; n < count; n++) {
        if (indices[n] == row) {
            sum += gradients[n * width + column];
            touched = true;
        }
    }
    if (touched) table[e] += sum;
}
