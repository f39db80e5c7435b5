#!/usr/bin/env bash
# Every GPU measurement of docs/performance.md in one run of a few minutes (issue 14):
#   1. bench train: ours against torch.nn.Transformer, random tokens and real Lyapunov batches
#      (bf16 autocast when `bench train` has --precision; fp32 otherwise, said in the output),
#      and torch.compile on and off (`--compile`);
#   2. beam search speed: bench model (KV cache against none, SDPA against eager attention);
#   3. a short PolyMixture training run in bf16: BPoly backward systems (generated in --shard parts,
#      joined with `data merge`) + forward fbarr systems, `--config lyapunov-paper`, --time-limit.
#
# usage, from anywhere:   bash benchmarks/gpu.sh
#   OUT=DIR        where everything is written (default: a new temporary directory)
#   DEVICE=cuda    the torch device (QUICK=1 uses cpu)
#   TRAIN_TIME=3m  length of the training run;   QUICK=1: tiny budgets, a CPU check of this script
# Outputs: OUT/machine.txt, OUT/bench-*.txt, OUT/generate.txt, OUT/runs/mixture (metrics.jsonl), OUT/summary.txt
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d -t seq2math-gpu-XXXX)}
QUICK=${QUICK:-0}
PYTHON=${PYTHON:-python}
source benchmarks/gpu-site.sh          # carried wheels (.whl/), then this repository, on PYTHONPATH
mkdir -p "$OUT/data" "$OUT/runs"
CORES=$(nproc)
if [ "$QUICK" = 1 ]; then
  DEVICE=${DEVICE:-cpu}; TRAIN_TIME=${TRAIN_TIME:-20s}; REPEATS=1; BPOLY=200; FBARR=4; FORWARD_TIME=60
  TRAIN_SIZE=(model.d_model=64 model.n_heads=2 model.enc_layers=1 model.dec_layers=1 model.d_ff=128 train.batch_size=4)
  BENCH_TRAIN=(--d-model 64 --heads 2 --d-ff 128 --batch 8 --steps 1 --count 16 --matmul 256)
  BENCH_MODEL=(--batch 2 --beam 2 --max-len 8 --repeats 1 --attention-len 64)
else
  DEVICE=${DEVICE:-cuda}; TRAIN_TIME=${TRAIN_TIME:-3m}; REPEATS=5; BPOLY=50000; FBARR=300; FORWARD_TIME=150
  TRAIN_SIZE=()
  BENCH_TRAIN=(--batch 256 --steps 10 --count 1024 --matmul 8192)
  BENCH_MODEL=(--preset small --batch 64 --beam 50 --max-len 64 --repeats 3 --attention-len 1024)
fi
seq2math() { "$PYTHON" -m seq2math.cli "$@"; }
note() { echo "== $*" | tee -a "$OUT/summary.txt"; }
clock() { date +%s; }

note "seq2math GPU measurements, $(date -u +%Y-%m-%dT%H:%MZ), device $DEVICE, quick=$QUICK, out $OUT"
{
  date -u
  uname -a
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PYTHON" -c "import sys, torch; gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no cuda'
print('python', sys.version.split()[0], 'torch', torch.__version__, gpu)"
  echo "cores $CORES"
  git rev-parse HEAD 2>/dev/null || true
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt" >> "$OUT/summary.txt"

# 1. training throughput against torch.nn.Transformer
PRECISION=()
bench_help=$(seq2math bench train --help)
if grep -q -- "--precision" <<<"$bench_help"; then PRECISION=(--precision bf16); fi
[ "$DEVICE" = cpu ] && PRECISION=()
note "bench train ${PRECISION[*]:-fp32}"
start=$(clock)
seq2math bench train --device "$DEVICE" --repeats "$REPEATS" "${BENCH_TRAIN[@]}" "${PRECISION[@]}" \
  | tee "$OUT/bench-train.txt"
seq2math bench train --device "$DEVICE" --repeats "$REPEATS" --lyapunov "${BENCH_TRAIN[@]}" "${PRECISION[@]}" \
  | tee "$OUT/bench-train-lyapunov.txt"
if [ "$QUICK" != 1 ]; then   # torch.compile on and off (compiling takes a minute or two; tested on the CPU by pytest)
  seq2math bench train --device "$DEVICE" --repeats "$REPEATS" --compile "${BENCH_TRAIN[@]}" "${PRECISION[@]}" \
    | tee "$OUT/bench-train-compile.txt"
fi
note "bench train: $(( $(clock) - start )) s"

# 2. beam search (KV cache) and attention speed
start=$(clock)
seq2math bench model --device "$DEVICE" "${BENCH_MODEL[@]}" | tee "$OUT/bench-model.txt"
note "bench model: $(( $(clock) - start )) s"

# 3. PolyMixture: BPoly in 2 shards (merged) + forward fbarr systems, then a bf16 training run
start=$(clock)
half=$(( CORES > 2 ? CORES / 2 : 1 ))
for i in 0 1; do
  seq2math generate lyapunov --preset bpoly --count "$BPOLY" --seed 0 --shard "$i/2" --workers "$half" --quiet \
    --out "$OUT/data/bpoly.$i.txt" &
done
wait
seq2math data merge "$OUT/data/bpoly.0.txt" "$OUT/data/bpoly.1.txt" --out "$OUT/data/bpoly.txt"
# forward generation runs an SOS search per system: bounded by time, the complete lines are kept
timeout "$FORWARD_TIME" "$PYTHON" -m seq2math.cli generate lyapunov --preset fbarr --count "$FBARR" --seed 0 \
  --workers "$CORES" --quiet --out "$OUT/data/fbarr.txt" || true
touch "$OUT/data/fbarr.txt"
forward=$(grep -c . "$OUT/data/fbarr.txt" || true)
if [ "$forward" -gt 0 ]; then
  seq2math data mix "$OUT/data/bpoly.txt" "$OUT/data/fbarr.txt" --out "$OUT/data/mixture.txt" --seed 0
else
  cp "$OUT/data/bpoly.txt" "$OUT/data/mixture.txt"
fi
note "data: $BPOLY bpoly + $forward fbarr systems in $(( $(clock) - start )) s" | tee "$OUT/generate.txt"
PRECISION_TRAIN=(train.precision=bf16)
[ "$DEVICE" = cpu ] && PRECISION_TRAIN=(train.precision=fp32)
start=$(clock)
# positional arguments go together: the data FILE and the dotted overrides, then the options
seq2math train --config lyapunov-paper "$OUT/data/mixture.txt" "${PRECISION_TRAIN[@]}" train.valid_count=64 \
  train.verify_count=16 train.eval_every=1000000 train.log_every=20 train.tensorboard=false "${TRAIN_SIZE[@]}" \
  --out "$OUT/runs/mixture" --device "$DEVICE" --time-limit "$TRAIN_TIME" --quiet
note "training ($TRAIN_TIME): $(( $(clock) - start )) s; last log line:"
grep '"kind": "train"' "$OUT/runs/mixture/metrics.jsonl" | tail -1 | tee -a "$OUT/summary.txt" || true
note "done: $OUT"
