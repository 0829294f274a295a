#!/usr/bin/env bash
# The GPU benchmark in one call, on a machine with an NVIDIA GPU, PyTorch (python3) and no Node,
# from the repository root, with bench/out/gpu/ prepared by bench/gpu/prepare.sh and carried:
#   bash bench/gpu/run.sh
# It runs the correctness checks of the webgpu kernels (ours and the stock ones) against the cpu
# backend, then every timing side by side with PyTorch on CUDA, and writes the BENCHMARKS.md
# section to $OUT (default bench/out/gpu-result): section.md, and BENCHMARKS.md with it.
# Environment: GPU_BENCH_SCALE=small|lavapipe|gpu (sizes; default from the adapter);
# LAVAPIPE=1 runs on Mesa's software Vulkan (to test the chain without a GPU) instead of NVIDIA's;
# PYTHON = the PyTorch interpreter (default python3); GPU_BENCH_TIMEOUT_S = the run's limit (540 s:
# the section in $OUT is rewritten after every measurement, so a run stopped there still leaves it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
pack="$root/bench/out/gpu"
out="${OUT:-$root/bench/out/gpu-result}"
if [ "${LAVAPIPE:-0}" != 1 ]; then
  export GPU_BENCH_REQUIRE_HARDWARE=1
  if [ -n "${VK_DRIVER_FILES:-}" ]; then
    icd=$VK_DRIVER_FILES
  else
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    for c in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do [ -f "$c" ] && icd=$c && break; done
  fi
  if [ ! -f "$icd" ]; then
    echo "run.sh: no NVIDIA Vulkan driver found ($icd is missing; looked in /usr/local/nvidia/share/vulkan/icd.d, /usr/share/vulkan/icd.d and /etc/vulkan/icd.d unless VK_DRIVER_FILES names the file). Without it Dawn has no GPU adapter. LAVAPIPE=1 runs on the software rasteriser instead." >&2
    exit 3
  fi
fi
[ -f "$pack/bench.js" ] || { echo "run.sh: $pack is missing: run bash bench/gpu/prepare.sh first (and carry bench/out/gpu)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
xz -dc "$pack/node.xz" > "$work/node" && chmod +x "$work/node"
# The bundle and the webgpu package, with Dawn's binary unpacked next to its JavaScript.
cp "$pack/bench.js" "$pack/torch_peer.py" "$work/"
mkdir -p "$work/node_modules/webgpu/dist/linux-x64"
cp "$pack/node_modules/webgpu/package.json" "$pack/node_modules/webgpu/index.js" "$work/node_modules/webgpu/"
xz -dc "$pack/node_modules/webgpu/dist/linux-x64/dawn.node.xz" > "$work/node_modules/webgpu/dist/linux-x64/dawn.node"
if [ "${LAVAPIPE:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    for f in "$pack"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    for f in "$pack"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
    export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  fi
  export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  egl=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
  [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
fi
command -v "${PYTHON:-python3}" >/dev/null || { echo "run.sh: ${PYTHON:-python3} (with PyTorch) is missing" >&2; exit 4; }
mkdir -p "$out"
cd "$work"
GPU_BENCH_OUT="$out" GPU_BENCH_BASE="$root/BENCHMARKS.md" GPU_BENCH_PYTHON="${PYTHON:-python3}" \
  GPU_BENCH_COMMAND="bash bench/gpu/prepare.sh (here), then bash bench/gpu/run.sh (on the GPU machine)" \
  timeout --kill-after=10 "${GPU_BENCH_TIMEOUT_S:-540}" "$work/node" "$work/bench.js"
