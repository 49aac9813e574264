#!/usr/bin/env bash
# Builds libgrowthtorch against the GPU host's PyTorch (its CUDA libtorch) into build-gpu/, for
# scripts/gpu-check.sh, bench-gpu.sh and analyze-gpu.sh; a library already there is kept unless
# --always is given (then the build is redone, incrementally). The callers point
# LD_LIBRARY_PATH at build-gpu/. Exits non-zero when there is no PyTorch or the build fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib="$root/build-gpu/libgrowthtorch.so"
[ "${1:-}" != --always ] && [ -e "$lib" ] && exit 0
py=${GROWTHTRAIN_PYTHON:-python3}
torch_dir=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))') || { echo "gpu-lib: no PyTorch for $py"; exit 1; }
echo "== building libgrowthtorch against $torch_dir"
start=$(date +%s)
cmake -S "$root" -B "$root/build-gpu" -DLIBTORCH="$torch_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$root/build-gpu" -j"$(nproc)" 2>&1 | tail -3
[ -e "$lib" ] || { echo "gpu-lib: the library did not build"; exit 1; }
echo "built in $(( $(date +%s) - start ))s"
