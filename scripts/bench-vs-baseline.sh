#!/usr/bin/env bash
# Ours vs the PyTorch baseline (../shared/reference/bench.py), interleaved in one run on one machine,
# one process per measurement, never two at once. Prints JSON lines (also appended to $OUT).
#   scripts/bench-vs-baseline.sh [quick]      # quick: tiny only
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="${CVPT_REFERENCE:-$here/../shared/reference/bench.py}"
py="${PYTHON:-/usr/bin/python3}"
out="${OUT:-bench-results.jsonl}"
threads="${THREADS:-2}"
run() { echo "# $*" >&2; "$@" 2>/dev/null | tail -n 1 | tee -a "$out"; }
ours() { run "$here/cvpt" bench --threads "$threads" "$@"; }
base() { run env OPENBLAS_NUM_THREADS="$threads" "$py" "$ref" --threads "$threads" "$@"; }
gemm() {
  run "$here/cvpt" bench --mode gemm --size base --threads 1 --steps 5
  run "$here/cvpt" bench --mode gemm --size base --threads "$threads" --steps 5
  for t in 1 "$threads"; do
    run env OPENBLAS_NUM_THREADS=$t "$py" -c '
import numpy as np, time, sys
m, k, n = 6304, 768, 3072
a = np.random.randn(m, k).astype(np.float32); w = np.random.randn(k, n).astype(np.float32)
ts = []
for i in range(6):
    t = time.perf_counter(); a @ w; ts.append(time.perf_counter() - t)
ts = sorted(ts[1:])
print("{\"code\": \"numpy\", \"mode\": \"gemm\", \"shape\": [%d, %d, %d], \"threads\": %s, \"gflop_per_s_median\": %.1f, \"gflop_per_s_best\": %.1f}" % (m, k, n, sys.argv[1], 2*m*k*n/ts[2]/1e9, 2*m*k*n/ts[0]/1e9))' $t
  done
}
gemm
for mode in train infer; do
  base --method cvpt --size tiny --batch 32 --steps 5 --warmup 1 --mode $mode
  ours --method cvpt --size tiny --batch 32 --steps 5 --warmup 1 --mode $mode
done
if [[ "${1:-}" != quick ]]; then
  base --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode infer
  ours --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode infer
  base --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode train
  ours --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode train
  # leak check: RSS after step 20 vs after step 200
  ours --method cvpt --size tiny --batch 32 --steps 199 --warmup 1 --mode train
fi
gemm
