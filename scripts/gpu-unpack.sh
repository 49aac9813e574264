#!/usr/bin/env bash
# Unpacks the gzipped binaries of gpu-carry/ (made by `make gpu-check`) into gpu-bin/, on a GPU
# host, for scripts/gpu-check.sh and scripts/bench-gpu.sh. Exits non-zero when gpu-carry/ has
# none or one does not unpack.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry="$root/gpu-carry"
bin="$root/gpu-bin"
shopt -s nullglob
files=("$carry"/*.gz)
if [ ${#files[@]} -eq 0 ]; then
  echo "gpu-unpack: no binaries in $carry: run 'make gpu-check' on a development machine and carry gpu-carry/"
  exit 2
fi
mkdir -p "$bin"
for f in "${files[@]}"; do
  name=$(basename "$f" .gz)
  gunzip -c "$f" > "$bin/$name.tmp" && chmod +x "$bin/$name.tmp" && mv "$bin/$name.tmp" "$bin/$name" ||
    { echo "gpu-unpack: $f does not unpack"; exit 1; }
done
