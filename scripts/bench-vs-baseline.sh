#!/usr/bin/env bash
# Ours vs the PyTorch baseline (../shared/reference/bench.py), interleaved in one run on one machine,
# one process per measurement, never two at once. Prints JSON lines (also appended to $OUT), then the
# ratios of this run (scripts/bench_summary.py).
#   scripts/bench-vs-baseline.sh [quick|bf16] # quick: tiny only; bf16: the bf16 rows only (GEMM, ViT-B, oracle autocast, accuracy)
# The baseline runs in both OpenBLAS settings: the environment's (OPENBLAS_CORETYPE as set, "pin")
# and without the variable ("nopin": OpenBLAS picks its kernels for the CPU, the faster of the two
# here). Ours runs in the environment as it is (we honour the variable too; our GEMMs are oneDNN's
# where ATen has AVX-512). numpy's GEMM without the pin is the roofline line. Each JSON line of the
# baseline and numpy carries "blas_setting".
# The baseline's malloc: glibc's defaults in "pin" and "nopin" (GLIBC_TUNABLES removed, whatever the
# calling shell exported), and a third setting "nopin-malloc" with the thresholds ./cvpt sets for us
# ($tunables): without them the baseline faults its activations in afresh every step, which on these
# VMs costs it 2.6x in ViT-B inference (docs/PERFORMANCE.md, "Run of 2026-12-06, 19:59–20:27"). That third
# setting is the baseline at its best here; the ViT-B rows run it, the ViT-Ti rows keep two settings.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="${CVPT_REFERENCE:-$here/../shared/reference/bench.py}"
py="${PYTHON:-/usr/bin/python3}"
out="${OUT:-bench-results.jsonl}"
threads="${THREADS:-2}"
first=$(( $( [[ -f "$out" ]] && wc -l < "$out" || echo 0) + 1 ))   # this run's lines start here
# the ratios of this run's lines (scripts/bench_summary.py), printed at the end
summary() { echo "# ratios (baseline s/step / ours; RSS ours / baseline):" >&2; "$py" "$here/scripts/bench_summary.py" "$out" "$first"; }
run() { echo "# $*" >&2; "$@" 2>/dev/null | tail -n 1 | tee -a "$out"; }
ours() { run "$here/cvpt" bench --threads "$threads" "$@"; }
# tags a JSON line with a field (the line is printed and appended to $out)
tagged() { local tag="$1"; shift; echo "# $*" >&2; "$@" 2>/dev/null | tail -n 1 | sed "s/}\$/, $tag}/" | tee -a "$out"; }
# the malloc thresholds ./cvpt sets for us, read from the launcher so that the two cannot drift apart
tunables=$(sed -n 's/^export GLIBC_TUNABLES="\${GLIBC_TUNABLES:-\(.*\)}"$/\1/p' "$here/cvpt")
[[ -n "$tunables" ]] || { echo "bench-vs-baseline.sh: no GLIBC_TUNABLES default found in $here/cvpt" >&2; exit 2; }
# the baseline's (and the oracle's) best setting here: pin removed, glibc's malloc keeping its buffers as ours does
best_env=(env -u OPENBLAS_CORETYPE GLIBC_TUNABLES="$tunables" OPENBLAS_NUM_THREADS="$threads")
base() {
  tagged '"blas_setting": "pin"' env -u GLIBC_TUNABLES OPENBLAS_NUM_THREADS="$threads" "$py" "$ref" --threads "$threads" "$@"
  tagged '"blas_setting": "nopin"' env -u GLIBC_TUNABLES -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS="$threads" "$py" "$ref" --threads "$threads" "$@"
}
best() { tagged '"blas_setting": "nopin-malloc"' "${best_env[@]}" "$py" "$ref" --threads "$threads" "$@"; }
# the oracle under CPU autocast bf16 (its own bf16 mode), at its best setting
autocast() { tagged '"blas_setting": "nopin-malloc"' "${best_env[@]}" "$py" "$here/scripts/bench_autocast.py" --threads "$threads" "$@"; }
bf16() {
  for t in 1 "$threads"; do run env CVPT_PRECISION=bf16 "$here/cvpt" bench --mode gemm --size base --threads $t --steps 5; done
  run "$here/cvpt" bench --mode precision --size base --batch 32 --threads "$threads"
  for mode in infer train; do
    ours --method cvpt --size base --batch 32 --steps 5 --warmup 1 --mode $mode
    ours --method cvpt --size base --batch 32 --steps 5 --warmup 1 --mode $mode --precision bf16
    autocast --method cvpt --size base --batch 32 --steps 5 --warmup 1 --mode $mode
  done
}
if [[ "${1:-}" == bf16 ]]; then bf16; summary; exit 0; fi
gemm() {
  run "$here/cvpt" bench --mode gemm --size base --threads 1 --steps 5
  run "$here/cvpt" bench --mode gemm --size base --threads "$threads" --steps 5
  for t in 1 "$threads"; do for setting in pin nopin; do
    unpin=(); [[ $setting == nopin ]] && unpin=(-u OPENBLAS_CORETYPE)
    tagged "\"blas_setting\": \"$setting\"" env "${unpin[@]}" OPENBLAS_NUM_THREADS=$t "$py" -c '
import numpy as np, time, sys
m, k, n = 6304, 768, 3072
a = np.random.randn(m, k).astype(np.float32); w = np.random.randn(k, n).astype(np.float32)
ts = []
for i in range(6):
    t = time.perf_counter(); a @ w; ts.append(time.perf_counter() - t)
ts = sorted(ts[1:])
print("{\"code\": \"numpy\", \"mode\": \"gemm\", \"shape\": [%d, %d, %d], \"threads\": %s, \"gflop_per_s_median\": %.1f, \"gflop_per_s_best\": %.1f}" % (m, k, n, sys.argv[1], 2*m*k*n/ts[2]/1e9, 2*m*k*n/ts[0]/1e9))' $t
  done; done
}
gemm
for mode in train infer; do
  base --method cvpt --size tiny --batch 32 --steps 5 --warmup 1 --mode $mode
  ours --method cvpt --size tiny --batch 32 --steps 5 --warmup 1 --mode $mode
done
# the paper's efficiency claim: CVPT vs deep VPT at 200 prompts (ViT-Ti training)
for method in cvpt vpt-deep; do
  base --method $method --size tiny --batch 32 --prompts 200 --steps 3 --warmup 1 --mode train
  ours --method $method --size tiny --batch 32 --prompts 200 --steps 3 --warmup 1 --mode train
done
if [[ "${1:-}" != quick ]]; then
  # ViT-B: 5 timed steps for training (the baseline's first steps are its slowest)
  base --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode infer
  best --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode infer
  ours --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode infer
  base --method cvpt --size base --batch 32 --steps 5 --warmup 1 --mode train
  best --method cvpt --size base --batch 32 --steps 5 --warmup 1 --mode train
  ours --method cvpt --size base --batch 32 --steps 5 --warmup 1 --mode train
  # ablation: libtorch's allocator without transparent huge pages (the default before 2026-12-05)
  run env THP_MEM_ALLOC_ENABLE=0 "$here/cvpt" bench --threads "$threads" --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode infer
  run env THP_MEM_ALLOC_ENABLE=0 "$here/cvpt" bench --threads "$threads" --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode train
  # ablation: glibc's default malloc thresholds (the launcher's GLIBC_TUNABLES replaced by a neutral one)
  run env GLIBC_TUNABLES=glibc.malloc.check=0 "$here/cvpt" bench --threads "$threads" --method cvpt --size base --batch 32 --steps 3 --warmup 1 --mode train
  bf16
  # leak check: RSS after step 20 vs after step 200 (LEAK=0 skips it: ~6 min)
  [[ "${LEAK:-1}" == 1 ]] && ours --method cvpt --size tiny --batch 32 --steps 199 --warmup 1 --mode train
fi
gemm
summary
