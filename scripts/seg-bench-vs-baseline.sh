#!/usr/bin/env bash
# `cvpt seg bench` vs the PyTorch oracle (scripts/seg_bench_baseline.py → shared/reference/seg/seg_ref.py),
# interleaved in one run on one machine, one process per measurement. JSON lines (also appended to $OUT).
#   scripts/seg-bench-vs-baseline.sh [quick]     # quick: micro size, 64-px crops (seconds)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-/usr/bin/python3}"
out="${OUT:-seg-bench-results.jsonl}"
threads="${THREADS:-2}"
steps="${STEPS:-2}"
batch="${BATCH:-2}"
run() { echo "# $*" >&2; "$@" 2>/dev/null | tail -n 1 | tee -a "$out"; }
if [[ "${1:-}" == quick ]]; then
  args=(--size micro --crop 64 --stride 43 --image 64x85 --batch "$batch")
else
  args=(--size base --crop 512 --stride 341 --image 512x683 --batch "$batch")
fi
for mode in train slide; do
  run env OPENBLAS_NUM_THREADS="$threads" "$py" "$here/scripts/seg_bench_baseline.py" --mode $mode --threads "$threads" --steps "$steps" --warmup 1 "${args[@]}"
  run "$here/cvpt" seg bench --mode $mode --threads "$threads" --steps "$steps" --warmup 1 "${args[@]}"
done
