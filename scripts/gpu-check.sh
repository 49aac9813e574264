#!/usr/bin/env bash
# GPU check, run on a GPU host from the repository root (the host has PyTorch, cmake and g++,
# but no Go). Prepare on a development machine first:
#
#   make gpu-check            # builds gpu-carry/: the Go test binaries and bin/growthtrain
#
# then, on the host (e.g. through the device tool, carrying gpu-carry/):
#
#   bash scripts/gpu-check.sh [OUTDIR]
#
# It builds libgrowthtorch against the host's PyTorch (CUDA), then runs the Go test binaries
# with LD_LIBRARY_PATH at that build and GROWTHTRAIN_REQUIRE_CUDA=1, so a CUDA test that cannot
# run fails instead of skipping. The log lands in OUTDIR (default $OUT, else gpu-out/).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/gpu-out}}
mkdir -p "$out"
log="$out/gpu-check.log"
exec > >(tee "$log") 2>&1

py=${GROWTHTRAIN_PYTHON:-python3}
echo "== host: $(hostname) $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
torch_dir=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))') || { echo "no PyTorch for $py"; exit 1; }
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'

echo "== building libgrowthtorch against $torch_dir"
start=$(date +%s)
cmake -S "$root" -B "$root/build-gpu" -DLIBTORCH="$torch_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$root/build-gpu" -j"$(nproc)" 2>&1 | tail -3 || exit 1
echo "built in $(( $(date +%s) - start ))s"
export LD_LIBRARY_PATH="$root/build-gpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GROWTHTRAIN_REQUIRE_CUDA=1 GROWTHTRAIN_PYTHON="$py"

status=0
carry="$root/gpu-carry"
if [ -x "$carry/growthtrain" ]; then
  echo "== growthtrain version / selftest on cuda"
  "$carry/growthtrain" version || status=1
  "$carry/growthtrain" selftest --device cuda --steps 300 || status=1
fi
for bin in "$carry"/*.test; do
  [ -e "$bin" ] || continue
  name=$(basename "$bin" .test)
  # A Go test binary runs in its package directory (tests find the repository from there).
  pkgdir=$(cat "$carry/$name.dir" 2>/dev/null || echo .)
  echo "== go test binary $name (in $pkgdir)"
  (cd "$root/$pkgdir" && "$bin" -test.count=1 -test.v -test.timeout 8m 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go' | grep -v '=== RUN') || status=1
done
echo "== gpu-check exit status $status"
exit $status
