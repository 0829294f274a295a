#!/usr/bin/env bash
# Prepares bench/out/gpu/ (ignored by git) for bench/gpu/run.sh on a GPU machine that has no
# network and no Node: a compressed Node binary, the benchmark bundled with esbuild (tfjs inside),
# the `webgpu` package (Dawn for Node, linux-x64 only) and the Vulkan/GL loader packages the
# NVIDIA driver needs (.deb files from Debian, unpacked there with dpkg -x).
# Run from the repository root: bash bench/gpu/prepare.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/out/gpu"
rm -rf "$out"
mkdir -p "$out/node_modules/webgpu" "$out/debs"
cd "$root"
node_modules/.bin/esbuild bench/gpu/gpu.bench.ts --bundle --platform=node --format=cjs --target=node20 \
  --external:webgpu --outfile="$out/bench.js" --log-level=warning
cp bench/gpu/torch_gpu.py "$out/"
# webgpu: its JavaScript and the linux-x64 Dawn binary only.
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/node_modules/webgpu/"
mkdir -p "$out/node_modules/webgpu/dist" && cp -r node_modules/webgpu/dist/linux-x64 "$out/node_modules/webgpu/dist/"
strip -o "$out/node" "$(command -v node)" 2>/dev/null || cp "$(command -v node)" "$out/node"
xz -T0 -6 -f "$out/node"
(cd "$out/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
du -sh "$out"
ls "$out" "$out/debs"
