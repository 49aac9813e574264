#!/usr/bin/env bash
# The GPU benchmark (issue targets: training and evaluation tokens/s against PyTorch eager and
# torch.compile, MFU, peak memory, and the growth phases' step times for the top k of 30 layers),
# run on a GPU host from the repository root after `make gpu-check` here (carry gpu-carry/):
#
#   bash scripts/bench-gpu.sh [OUTDIR]
#
# SmolLM2-135M's shape (30 layers, vocabulary 49152), batch 16 x 2048 tokens, bfloat16 mixed
# precision on both sides (float32 weights, autocast), fused AdamW, transformers' sdpa. It
# builds the library unless scripts/gpu-check.sh already did (build-gpu/, scripts/gpu-lib.sh).
# Under 10 minutes on an H200, torch.compile's warm-up (~100 s) included.
#
# GT_DEVICE, GT_LAYERS, GT_VOCAB, GT_BATCH, GT_SEQ_LEN, GT_TOP, GT_ROUNDS and GT_STEPS change the
# setting (a dry run of the script on a CPU: GT_DEVICE=cpu GT_LAYERS=4 GT_VOCAB=512 GT_BATCH=2
# GT_SEQ_LEN=32 GT_TOP=4,2 GT_ROUNDS=1 GT_STEPS=1).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/gpu-out}}
mkdir -p "$out"
exec > >(tee "$out/bench-gpu.log") 2>&1
[ -s "$root/gpu-carry/bench-train.gz" ] || { echo "bench-gpu: gpu-carry/bench-train.gz is missing: run 'make gpu-check' on a development machine and carry gpu-carry/"; exit 2; }
bash "$root/scripts/gpu-unpack.sh" || exit 2
bench="$root/gpu-bin/bench-train"
py=${GROWTHTRAIN_PYTHON:-python3}
GROWTHTRAIN_PYTHON="$py" bash "$root/scripts/gpu-lib.sh" || exit 1
export LD_LIBRARY_PATH="$root/build-gpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
cd "$root"
dev=${GT_DEVICE:-cuda} layers=${GT_LAYERS:-30} vocab=${GT_VOCAB:-49152} batch=${GT_BATCH:-16} seq=${GT_SEQ_LEN:-2048}
top=${GT_TOP:-30,15,8,2} rounds=${GT_ROUNDS:-3} steps=${GT_STEPS:-5}
shape=(--python "$py" --device "$dev" --dtype bfloat16 --layers "$layers" --vocab "$vocab" --batch "$batch" --seq-len "$seq")
"$bench" "${shape[@]}" --top "$top" --rounds "$rounds" --steps "$steps" --eval --reference eager,compile
rc=$?
# Activation checkpointing: growthtrain with every layer recomputed against transformers'
# gradient checkpointing, all layers trained (time and peak memory; about a minute).
"$bench" "${shape[@]}" --top "$layers" --rounds "$(( rounds > 2 ? 2 : rounds ))" --steps "$(( steps > 3 ? 3 : steps ))" \
  --recompute --reference checkpointing || rc=$?
echo "== bench-gpu exit status $rc"
exit $rc
