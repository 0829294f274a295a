#!/usr/bin/env bash
# Runs the GPU benchmark on a machine with an NVIDIA GPU, PyTorch and no Node, from the
# repository root, with bench/out/gpu/ prepared by bench/gpu/prepare.sh and carried along:
#   bash bench/gpu/run.sh
# GPU_BENCH_SMALL=1 shrinks the sizes; LAVAPIPE=1 uses Mesa's software Vulkan instead of NVIDIA's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
pack="$root/bench/out/gpu"
[ -f "$pack/bench.js" ] || { echo "bench/out/gpu is missing: run bash bench/gpu/prepare.sh first" >&2; exit 2; }
work=$(mktemp -d)
xz -dc "$pack/node.xz" > "$work/node" && chmod +x "$work/node"
if [ "${LAVAPIPE:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    for f in "$pack"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    for f in "$pack"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
    export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  fi
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  export VK_ICD_FILENAMES=$VK_DRIVER_FILES
  export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
fi
export NODE_PATH="$pack/node_modules"
GPU_BENCH_OUT="$work" "$work/node" "$pack/bench.js"
rm -rf "$work"
