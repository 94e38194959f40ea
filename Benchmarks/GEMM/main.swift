print("gemm")
