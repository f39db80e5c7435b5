#!/usr/bin/env bash
# Continue the lyapunov-mixture model on one GPU for a few minutes, in one run (issue 11;
# docs/training.md, "Training on a lent GPU"). One H200 minute does roughly what this project's
# 2-core CPU does in hours, so a session that is lent a GPU spends its minutes here:
#
#   1. the carried wheels (.whl/, python-flint and clarabel, which the GPU image lacks) are installed;
#   2. the small-system stream is generated there (lyapunov-tiny, 40,000 systems) and, with the
#      carried FBarr file (data/fbarr-train300.txt), filtered against the committed test sets;
#   3. `seq2math train --config lyapunov-mixture` starts from the committed checkpoint's weights
#      (train.init), BPoly generated on the fly by WORKERS loader processes, token batches of
#      BATCH_TOKENS, bf16, a constant learning rate LR after 300 warm-up steps, the last COOLDOWN share
#      of TRAIN_TIME cooling down to 0 (session 21: 450 s took validation loss 0.254 -> 0.174);
#   4. the last weights are exported in fp16 to OUT/mixture-gpu (model.safetensors, config.json,
#      vocab.json: what comes back), with OUT/metrics.jsonl and OUT/summary.txt.
#
# Back on the CPU machine the export is judged like any other run (docs/results.md):
#   seq2math report tests/data/lyapunov-{bpoly,fbarr,flyap,fsostools}-test200.txt \
#     --methods model,model:seq2math/checkpoints/lyapunov-tiny+DIR/mixture-gpu --limit 50 --beam 50 --time-limit 10
#
# usage, from anywhere:   bash benchmarks/gpu-mixture.sh
#   OUT=DIR (default: a new temporary directory)   DEVICE=cuda   TRAIN_TIME=7m   WORKERS=(cores - 2)   LOG_EVERY=50 (QUICK: 1)
#   BATCH_TOKENS=65536   LR=2e-4   COOLDOWN=0.3   INIT=lyapunov-mixture (a shipped name or a checkpoint directory)
#   SEED=(the call's start, in seconds since 1970): train.seed, the BPoly stream's seed, written to summary.txt; a
#     new one per call, so that a call continuing an earlier one does not see its batches again (session 21);
#     the validation stream stays seed 1 (train.valid_seed), the set every earlier run was measured on
#   EXTRA="train.valid_count=400 ...": further overrides of the training run, appended last
#   TINY_FILE=data/tiny-train40k.f.txt: a carried, already filtered small-system file instead of generating one
#   QUICK=1: a small model for 20 s on the CPU, a check of this script (tests/test_gpu_scripts.py)
# Prepare the wheels on the CPU machine first (pip downloads them for the GPU image's Python 3.12):
#   bash benchmarks/gpu-wheels.sh        # writes .whl/ (ignored by git); carry .whl and data
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d -t seq2math-gpu-mixture-XXXX)}
QUICK=${QUICK:-0}
PYTHON=${PYTHON:-python3}
CORES=$(nproc)
mkdir -p "$OUT" data
source benchmarks/gpu-site.sh          # carried wheels (.whl/), then this repository, on PYTHONPATH
export PYTHONUNBUFFERED=1
seq2math() { "$PYTHON" -m seq2math.cli "$@"; }
note() { echo "== $*" | tee -a "$OUT/summary.txt"; }
if [ "$QUICK" = 1 ]; then
  DEVICE=${DEVICE:-cpu}; TRAIN_TIME=${TRAIN_TIME:-20s}; WORKERS=${WORKERS:-1}; BATCH_TOKENS=${BATCH_TOKENS:-2048}
  LOG_EVERY=${LOG_EVERY:-1}      # a loaded CI machine may make only a few steps in its seconds
  TINY=300; SIZE=(model.d_model=32 model.n_heads=2 model.enc_layers=1 model.dec_layers=1 model.d_ff=64 \
                  task.max_variables=3 task.max_half_degree=2 task.max_source_tokens=256)
  INIT=${INIT:-}
else
  DEVICE=${DEVICE:-cuda}; TRAIN_TIME=${TRAIN_TIME:-7m}; WORKERS=${WORKERS:-$(( CORES > 3 ? CORES - 2 : 1 ))}
  BATCH_TOKENS=${BATCH_TOKENS:-65536}; TINY=40000; SIZE=(); INIT=${INIT-lyapunov-mixture}
  LOG_EVERY=${LOG_EVERY:-50}
fi
LR=${LR:-2e-4}
COOLDOWN=${COOLDOWN:-0.3}
SEED=${SEED:-$(date +%s)}
TINY_FILE=${TINY_FILE:-}
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
FBARR=data/fbarr-train300.txt
note "seq2math lyapunov-mixture on $DEVICE, $(date -u +%Y-%m-%dT%H:%MZ), quick=$QUICK, $CORES cores, seed $SEED, out $OUT"
"$PYTHON" -c "import sys, torch, flint; gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no cuda'
print('python', sys.version.split()[0], 'torch', torch.__version__, 'flint', flint.__version__, gpu)" | tee -a "$OUT/summary.txt"
git rev-parse HEAD 2>/dev/null | tee -a "$OUT/summary.txt" || true

start=$(date +%s)
if [ -n "$TINY_FILE" ]; then
  seq2math data exclude "$TINY_FILE" --against tests/data/lyapunov-*-test200.txt --out "$OUT/tiny.f.txt"
else
  seq2math generate lyapunov --preset tiny --count "$TINY" --seed 11 --workers "$(( CORES < 8 ? CORES : 8 ))" \
    --quiet --out "$OUT/tiny.txt"
  seq2math data exclude "$OUT/tiny.txt" --against tests/data/lyapunov-*-test200.txt --out "$OUT/tiny.f.txt"
fi
MIX="$OUT/tiny.f.txt:0.30"
if [ -s "$FBARR" ]; then
  seq2math data exclude "$FBARR" --against tests/data/lyapunov-*-test200.txt --out "$OUT/fbarr.f.txt"
  MIX="$MIX,$OUT/fbarr.f.txt:0.04"
else
  note "no $FBARR (carry it, docs/training.md): training without the FBarr examples"
fi
note "data: $(( $(date +%s) - start )) s"

INIT_ARG=()
[ -n "$INIT" ] && INIT_ARG=(train.init="$INIT")
PRECISION=train.precision=bf16
[ "$DEVICE" = cpu ] && PRECISION=train.precision=fp32
start=$(date +%s)
seq2math train --config lyapunov-mixture --out "$OUT/run" --device "$DEVICE" --time-limit "$TRAIN_TIME" --quiet \
  "${INIT_ARG[@]}" "train.mix_data=$MIX" "$PRECISION" train.workers="$WORKERS" train.batch_tokens="$BATCH_TOKENS" \
  train.seed="$SEED" train.valid_seed=1 train.lr="$LR" train.schedule=constant train.warmup=300 train.cooldown="$COOLDOWN" train.verify_count=0 train.valid_count=200 \
  train.eval_every=1000 train.log_every="$LOG_EVERY" train.tensorboard=false "${SIZE[@]}" "${EXTRA_ARGS[@]}"
note "training ($TRAIN_TIME): $(( $(date +%s) - start )) s"
cp "$OUT/run/metrics.jsonl" "$OUT/metrics.jsonl"
grep '"kind": "train"' "$OUT/metrics.jsonl" | tail -1 | tee -a "$OUT/summary.txt" || true
grep '"kind": "valid"' "$OUT/metrics.jsonl" | tail -1 | tee -a "$OUT/summary.txt" || true
seq2math export --model "$OUT/run" --checkpoint last --out "$OUT/mixture-gpu"
rm -rf "$OUT/run" "$OUT/tiny.txt" "$OUT/tiny.f.txt" "$OUT/fbarr.f.txt" "$OUT"/*.config.json
note "done: $OUT/mixture-gpu"
