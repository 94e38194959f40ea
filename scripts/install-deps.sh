#!/usr/bin/env bash
# Installs the Debian packages Synapse needs, only those that are missing (apt-get update runs once,
# and only when something is to be installed). Swift itself must already be on PATH.
set -euo pipefail

packages=(make ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libopenblas-dev zlib1g-dev libpng-dev libjpeg-dev libclblast-dev clinfo
          dataset-fashion-mnist fortunes dict-gcide python3-skimage python3-venv openmpi-bin iproute2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing missing packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift is not on PATH (Synapse needs Swift 6.0 or later)" >&2; exit 1; }
