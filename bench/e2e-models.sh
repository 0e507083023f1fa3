#!/bin/sh
# Trains the models that bench/e2e.ts measures, into runs/e2e/ (not committed), skipping any
# model already there. Short runs: the benchmark measures latency and size, and checks that the
# condensed model predicts exactly what the masked dense one does; accuracy is the sweep's job.
#
#   sh bench/e2e-models.sh && node --experimental-wasm-relaxed-simd --import tsx bench/e2e.ts \
#     runs/e2e/mlp-srigl90.safetensors runs/e2e/mlp-srigl95-gsal0.9.safetensors \
#     runs/e2e/mlp-srigl99.safetensors runs/e2e/cnn-srigl90.safetensors --out bench/results/inference-e2e
set -e
cd "$(dirname "$0")/.."
mkdir -p runs/e2e
train() {
  name=$1; shift
  if [ -f "runs/e2e/$name.safetensors" ]; then echo "runs/e2e/$name.safetensors: present"; return; fi
  out=runs/e2e/$name.run
  npx tsx src/cli/main.ts train "$@" --out "$out" --quiet
  cp "$out/model.safetensors" "runs/e2e/$name.safetensors"
  echo "runs/e2e/$name.safetensors: trained ($*)"
}
train mlp-srigl90        --method srigl --sparsity 0.9  --epochs 3 --delta-t 20
train mlp-srigl95-gsal0.9 --method srigl --sparsity 0.95 --gamma-sal 0.9 --epochs 3 --delta-t 20
train mlp-srigl99        --method srigl --sparsity 0.99 --epochs 3 --delta-t 20
train cnn-srigl90        --model cnn --method srigl --sparsity 0.9 --epochs 1 --delta-t 50
