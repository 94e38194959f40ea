# The commands a new user runs. Each installs the Debian packages it needs when they are missing.
.PHONY: test devices bench build

build:
	scripts/install-deps.sh
	swift build -c release

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
