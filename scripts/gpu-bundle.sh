#!/usr/bin/env bash
# Packs Synapse for a GPU machine that has no Swift toolchain (README.md, "Running on a GPU"): the synapse
# tool, gemm-bench and the test binary, every shared library they load but glibc's (the Swift runtime and
# Foundation, XCTest, the OpenCL ICD loader, OpenBLAS, gfortran, ...), Fashion-MNIST, the PyTorch reference
# scripts and scripts/gpu-run.sh, which does the GPU run there. The Swift runtime travels as shared
# libraries rather than linked in with --static-swift-stdlib, because XCTest has no static build.
#   scripts/gpu-bundle.sh [bundle.tar.xz]    (default: bundle/synapse-gpu.tar.xz; about 58 MB, xz: gzip gives 74)
# On the GPU machine: tar xJf synapse-gpu.tar.xz && synapse-gpu/gpu-run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
out=$(realpath -m "${1:-bundle/synapse-gpu.tar.xz}")
mkdir -p "$(dirname "$out")"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/synapse-gpu"
mkdir -p "$root/bin" "$root/lib" "$root/data"

swift build -c release --build-tests
bin=$(swift build -c release --show-bin-path)
cp "$bin/synapse" "$bin/gemm-bench" "$bin/SynapsePackageTests.xctest" "$root/bin/"
# Every shared library the binaries load, except glibc's own, which any Linux machine has. OpenBLAS is opened
# at start-up rather than linked (Sources/CBLAS/blas.c), so ldd does not list it: it and its own libraries
# (gfortran, quadmath) are added by name.
openblas=$(ldconfig -p | awk '$1 == "libopenblas.so.0" {print $NF; exit}')
[ -n "$openblas" ] || { echo "gpu-bundle.sh: libopenblas.so.0 not found (install libopenblas0)" >&2; exit 1; }
for lib in $( { ldd "$root"/bin/* "$openblas"; echo "x => $openblas"; } | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
    case "$(basename "$lib")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
        *) cp -L "$lib" "$root/lib/" ;;
    esac
done
cp /usr/share/datasets/fashion-mnist/* "$root/data/"
cp scripts/gpu-run.sh Benchmarks/compare/pytorch_train.py Benchmarks/compare/pytorch_gpu.py "$root/"
tar -C "$stage" -cJf "$out" synapse-gpu
echo "wrote $out ($(du -h "$out" | cut -f1)); libraries: $(ls "$root/lib" | tr '\n' ' ')"
