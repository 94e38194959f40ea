# The commands a new user runs. Each installs the Debian packages it needs when they are missing.
.PHONY: train test check devices bench compare build

build:
	scripts/install-deps.sh
	swift build -c release

# Trains the LeNet-style net on Fashion-MNIST on the best device (15 epochs), writing lenet.safetensors,
# lenet.csv and lenet.svg. Pass options through ARGS, e.g. make train ARGS="--model mlp --epochs 20".
train:
	scripts/train.sh $(ARGS)

# Every test, on every device (the CPU backend and each OpenCL device).
test:
	scripts/test.sh

# What CI runs after the tests (about 15 minutes on 2 cores): the kernel parity tests under Oclgrind, the
# sanitizers with a leak check, and 60 s of each fuzzer. Needs the release test build that `make test` makes.
check:
	scripts/oclgrind.sh
	scripts/sanitizers.sh
	scripts/fuzz.sh 60

# What OpenCL sees, and which device Synapse would use.
devices: build
	.build/release/synapse devices

# GEMM against OpenBLAS and CLBlast, elementwise bandwidth, and every kernel on the best device (release build).
bench: build
	.build/release/gemm-bench
	.build/release/bandwidth-bench
	.build/release/synapse bench kernels

# Training throughput against PyTorch (CPU) and tinygrad (OpenCL); installs both into .build-py.
compare: build
	Benchmarks/compare/run.sh
