// Sum (SQUARE=0) or sum of squares (SQUARE=1) in two passes: `reduce_partial` leaves one partial sum
// per work-group, `reduce_final` (one work-group) adds them into result[0].
// GROUP_SIZE (-D, a power of two) is the work-group size of both.
#ifndef GROUP_SIZE
#define GROUP_SIZE 256
#endif
#ifndef SQUARE
#define SQUARE 0
#endif
#if SQUARE
#define TERM(v) ((v) * (v))
#else
#define TERM(v) (v)
#endif

float group_sum(float value, __local float* scratch) {
    const int t = get_local_id(0);
    scratch[t] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = GROUP_SIZE / 2; stride > 0; stride /= 2) {
        if (t < stride) scratch[t] += scratch[t + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

__kernel __attribute__((reqd_work_group_size(GROUP_SIZE, 1, 1)))
void reduce_partial(__global const float* x, const int x_offset, const int count, __global float* partials,
                    const int partials_offset) {
    x += x_offset;
    partials += partials_offset;
    __local float scratch[GROUP_SIZE];
    float sum = 0.0f;
#if ELEMENTS_PER_ITEM > 1
    // CPU devices: one contiguous stretch per work-item, which stays in cache and vectorises.
    const int stretch = (count + get_global_size(0) - 1) / get_global_size(0);
    const int start = get_global_id(0) * stretch, end = min(start + stretch, count);
    for (int i = start; i < end; i++) sum += TERM(x[i]);
#else
    // GPUs: neighbouring work-items read neighbouring elements (coalesced).
    for (int i = get_global_id(0); i < count; i += get_global_size(0)) sum += TERM(x[i]);
#endif
    const float total = group_sum(sum, scratch);
    if (get_local_id(0) == 0) partials[get_group_id(0)] = total;
}

__kernel __attribute__((reqd_work_group_size(GROUP_SIZE, 1, 1)))
void reduce_final(__global const float* partials, const int partials_offset, const int count, __global float* result,
                  const int result_offset) {
    partials += partials_offset;
    result += result_offset;
    __local float scratch[GROUP_SIZE];
    float sum = 0.0f;
    for (int i = get_local_id(0); i < count; i += GROUP_SIZE) sum += partials[i];
    const float total = group_sum(sum, scratch);
    if (get_local_id(0) == 0) result[0] = total;
}
