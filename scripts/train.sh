#!/usr/bin/env bash
# Installs what is missing (Debian packages, including the Fashion-MNIST data set), builds in release mode
# and trains; with no arguments, the LeNet-style net on Fashion-MNIST on the best device. Arguments are
# passed to `synapse train` (see `synapse train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product synapse
exec .build/release/synapse train "$@"
