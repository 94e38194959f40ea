// Prepended to every program but gemm.cl.
//
// ELEMENTS_PER_ITEM (-D, default 1): how many consecutive elements one work-item handles in the
// elementwise kernels. GPUs want 1; CPU implementations (PoCL) vectorise a short loop per work-item,
// whereas a per-item bounds check stops them vectorising across work-items (measured 4x slower).
#ifndef ELEMENTS_PER_ITEM
#define ELEMENTS_PER_ITEM 1
#endif

// Loops `i` over this work-item's elements of 0..<count.
#define FOR_EACH_INDEX(i, count) \
    for (int i = get_global_id(0) * ELEMENTS_PER_ITEM, i##_end = min(i + ELEMENTS_PER_ITEM, (count)); i < i##_end; i++)

// The run of an optimizer update's segments that element `i` lies in: the first whose (exclusive) end
// exceeds `i`, by binary search over the `runs` increasing ends.
int segment_of(const int i, __global const int* ends, const int runs) {
    int low = 0, high = runs - 1;
    while (low < high) {
        const int middle = (low + high) / 2;
        if (ends[middle] > i) high = middle; else low = middle + 1;
    }
    return low;
}
