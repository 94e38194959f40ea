# The commands a new user runs. Each installs the Debian packages it needs when they are missing.
.PHONY: train test devices bench build

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

# What OpenCL sees, and which device Synapse would use.
devices: build
	.build/release/synapse devices

# GEMM and elementwise-bandwidth benchmarks (release build).
bench: build
	.build/release/gemm-bench
	.build/release/bandwidth-bench
