#!/usr/bin/env bash
# GPU check, run on a GPU host from the repository root (the host has PyTorch, cmake and g++,
# but no Go). Prepare on a development machine first:
#
#   make gpu-check            # builds gpu-carry/: the Go test binaries, growthtrain, bench-train
#
# then, on the host (e.g. through the device tool, carrying gpu-carry/):
#
#   bash scripts/gpu-check.sh [OUTDIR]
#
# It builds libgrowthtorch against the host's PyTorch (CUDA), then runs the CUDA tests (those
# named *CUDA*) of the carried test binaries with LD_LIBRARY_PATH at that build and
# GROWTHTRAIN_REQUIRE_CUDA=1, so a CUDA test that cannot run fails instead of skipping, and the
# selftest on cuda. The CPU parity tests are not run there (make test runs them). It exits
# non-zero when anything it must run is missing or fails. The log lands in OUTDIR (default
# $OUT, else gpu-out/).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/gpu-out}}
mkdir -p "$out"
log="$out/gpu-check.log"
exec > >(tee "$log") 2>&1

# gpu-carry/ holds the binaries gzipped (the device tool carries at most 64 MiB); they are
# unpacked into gpu-bin/, with the package directory of each test binary beside it.
carry="$root/gpu-carry"
bin="$root/gpu-bin"
expected=(growthtrain torch.test model.test optim.test trainer.test)
missing=0
for f in "${expected[@]}"; do
  if [ ! -s "$carry/$f.gz" ]; then
    echo "gpu-check: $carry/$f.gz is missing: run 'make gpu-check' on a development machine and carry gpu-carry/"
    missing=1
  fi
done
[ $missing -eq 0 ] || exit 2
bash "$root/scripts/gpu-unpack.sh" || exit 2

py=${GROWTHTRAIN_PYTHON:-python3}
echo "== host: $(hostname) $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' || { echo "no PyTorch for $py"; exit 1; }
GROWTHTRAIN_PYTHON="$py" bash "$root/scripts/gpu-lib.sh" --always || exit 1
export LD_LIBRARY_PATH="$root/build-gpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GROWTHTRAIN_REQUIRE_CUDA=1 GROWTHTRAIN_PYTHON="$py"

status=0
echo "== growthtrain version / selftest on cuda"
"$bin/growthtrain" version || status=1
"$bin/growthtrain" selftest --device cuda --steps 300 || status=1
for exe in "$bin"/*.test; do
  name=$(basename "$exe" .test)
  # A Go test binary runs in its package directory (tests find the repository from there).
  pkgdir=$(cat "$carry/$name.dir" 2>/dev/null || echo .)
  echo "== CUDA tests of $pkgdir"
  res=$(cd "$root/$pkgdir" && "$exe" -test.run 'CUDA' -test.count=1 -test.v -test.timeout 8m 2>&1)
  rc=$?
  echo "$res" | grep -E '^(--- |PASS|FAIL|ok|panic)|_test.go'
  [ $rc -eq 0 ] || status=1
  if ! echo "$res" | grep -q -- '--- PASS'; then
    echo "gpu-check: no CUDA test ran in $pkgdir"
    status=1
  fi
done
echo "== gpu-check exit status $status"
exit $status
