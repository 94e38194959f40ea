// Elementwise vector operations.

__kernel void axpy(const float alpha, __global const float* x, __global float* y, const int count) {
    const int i = get_global_id(0);
    if (i < count) y[i] += alpha * x[i];
}

__kernel void scale(__global float* x, const float alpha, const int count) {
    const int i = get_global_id(0);
    if (i < count) x[i] *= alpha;
}

__kernel void multiply(__global const float* a, __global const float* b, __global float* out, const int count) {
    const int i = get_global_id(0);
    if (i < count) out[i] = a[i] * b[i];
}
