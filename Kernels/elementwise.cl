// Elementwise vector operations.

__kernel void axpy(const float alpha, __global const float* x, __global float* y, const int count) {
    FOR_EACH_INDEX(i, count) y[i] += alpha * x[i];
}

__kernel void scale(__global float* x, const float alpha, const int count) {
    FOR_EACH_INDEX(i, count) x[i] *= alpha;
}

__kernel void multiply(__global const float* a, __global const float* b, __global float* out, const int count) {
    FOR_EACH_INDEX(i, count) out[i] = a[i] * b[i];
}
