#!/usr/bin/env bash
# The diagnostics' GPU timing (docs/gpu.md; issue target: the whole analyze suite on
# SmolLM2-135M with 1M evaluation tokens in under 5 minutes on one GPU, recovery with the
# paper's 200-step cap for all 30 layers included or timed apart), run on a GPU host from the
# repository root after `make gpu-check` here (carry gpu-carry/):
#
#   bash scripts/analyze-gpu.sh [OUTDIR]
#
# The model is $MODEL when set (SmolLM2-135M's GGUF is 98 MB, more than the device tool
# carries); otherwise a SmolLM2-135M-shaped model (30 layers, hidden 576, MLP 1536, heads 9/3,
# vocabulary 49152) with random weights, which one training step on the host turns into an HF
# model directory: what this measures is the time, not the findings. The evaluation text is
# the repository's embedded corpus (data/corpus), of which the first 1M tokens are used.
# GT_DEVICE, GT_LAYERS, GT_EVAL_TOKENS, GT_SEQ_LEN and GT_RECOVERY_STEPS change the sizes
# (a quick run of the whole recipe on a CPU: GT_DEVICE=cpu GT_LAYERS=4 GT_EVAL_TOKENS=2000
# GT_SEQ_LEN=64 GT_RECOVERY_STEPS=2). The log and the analysis land in OUTDIR.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/gpu-out}}
mkdir -p "$out"
exec > >(tee "$out/analyze-gpu.log") 2>&1
dev=${GT_DEVICE:-cuda}
layers=${GT_LAYERS:-30}
tokens=${GT_EVAL_TOKENS:-1000000}
seq=${GT_SEQ_LEN:-2048}
rsteps=${GT_RECOVERY_STEPS:-0}
gt=${GROWTHTRAIN:-}
if [ -z "$gt" ]; then
  [ -s "$root/gpu-carry/growthtrain.gz" ] || { echo "analyze-gpu: gpu-carry/growthtrain.gz is missing: run 'make gpu-check' on a development machine and carry gpu-carry/"; exit 2; }
  bash "$root/scripts/gpu-unpack.sh" || exit 2
  gt="$root/gpu-bin/growthtrain"
fi
if [ "$dev" != cpu ]; then # the C library built against the host's PyTorch, as gpu-check.sh does
  bash "$root/scripts/gpu-lib.sh" || exit 1
  export LD_LIBRARY_PATH="$root/build-gpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
"$gt" version || exit 1
work="$out/analyze-gpu-work"
rm -rf "$work" && mkdir -p "$work"
tar -xzOf "$root/data/corpus/corpus.tar.gz" > "$work/eval.txt" || exit 1
model=${MODEL:-}
if [ -z "$model" ]; then
  dtype=bfloat16
  [ "$dev" = cpu ] && dtype=float32
  cat > "$work/shape.toml" <<TOML
# SmolLM2-135M's shape, random weights: one step makes the checkpoint analyze times.
[run]
name = "smollm2-shape"
device = "$dev"
dtype = "$dtype"
output = "$work/shape"
[model]
vocab_size = 49152
hidden_size = 576
intermediate_size = 1536
num_hidden_layers = $layers
num_attention_heads = 9
num_key_value_heads = 3
max_position_embeddings = 2048
rope_theta = 100000.0
rms_norm_eps = 1e-5
tie_word_embeddings = true
[data]
corpus = ["default"]
tokenizer = "train:2048"
seq_len = 64
batch_size = 2
cache_dir = "$work/cache"
[[phase]]
layers = "all"
steps = 1
train_embeddings = true
train_head = true
train_final_norm = true
TOML
  echo "== a SmolLM2-135M-shaped model with random weights ($layers layers)"
  "$gt" -c "$work/shape.toml" >/dev/null || exit 1
  model="$work/shape/checkpoints/step-0000001/model"
fi
echo "== analyze: $model on $dev, $tokens evaluation tokens in windows of $seq, every metric"
start=$(date +%s)
"$gt" analyze -m "$model" --device "$dev" --data "$work/eval.txt" --eval-tokens "$tokens" --seq-len "$seq" \
  --metrics ablation,predictability,recovery,manipulation,structure,lens,blocks --recovery-layers all \
  --recovery-steps "$rsteps" -o "$out/analyze" >/dev/null
rc=$?
echo "== analyze exit status $rc, wall $(( $(date +%s) - start )) s (each metric's time: the lines 'NAME done in' above)"
exit $rc
