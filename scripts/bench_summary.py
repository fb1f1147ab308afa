"""The ratios of a scripts/bench-vs-baseline.sh run: reads its JSON lines, prints one line per row.

  python3 scripts/bench_summary.py bench-results.jsonl [FIRST_LINE]   # lines from FIRST_LINE (1-based) on

A row is (mode, method, size, batch, prompts, timed steps). For each: our fp32 s/step (median), the baseline's in
each OpenBLAS/malloc setting it ran in ("pin", "nopin", "nopin-malloc") with our speed-up against it
(baseline s/step / ours), and for training the peak-RSS ratio (ours / baseline). Where present: our
bf16 against our fp32 and against the oracle under autocast. GEMM: ours against numpy, per thread
count and precision. A row measured twice uses the later line; our ablation lines (huge pages off,
glibc's default malloc thresholds) and rows with nothing to compare are left out.
"""
import json
import sys


def key(r):
    return r['mode'], r['method'], r['size'], r['batch'], r.get('prompts', 0), r['steps']


def ablation(r):
    return r.get('thp_alloc') == '0' or 'mmap_threshold' not in (r.get('glibc_tunables') or 'mmap_threshold')


def main(path, first=1):
    ours, ours16, base, auto, gemm, numpy = {}, {}, {}, {}, {}, {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if n < first or not line.strip().startswith('{'):
                continue
            r = json.loads(line)
            code, mode = r.get('code'), r.get('mode')
            if mode == 'gemm':
                if code == 'numpy':
                    numpy[(r['threads'], r['blas_setting'])] = r['gflop_per_s_median']
                else:
                    gemm[(r['threads'], r.get('precision', 'fp32'))] = r['gflop_per_s_median']
            elif mode in ('train', 'infer') and code == 'cvpt-java' and not ablation(r):
                (ours16 if r.get('precision') == 'bf16' else ours)[key(r)] = r
            elif mode in ('train', 'infer') and r.get('precision') == 'bf16-autocast':
                auto[key(r)] = r
            elif mode in ('train', 'infer') and 'blas_setting' in r:
                base.setdefault(key(r), {})[r['blas_setting']] = r
    for (t, prec), g in sorted(gemm.items()):
        roof = numpy.get((t, 'nopin'))
        vs = f'  vs numpy nopin {roof:.1f}: {g / roof:.2f}' if roof else ''
        print(f'gemm {prec} {t} thread(s): {g:.1f} GFLOP/s{vs}')
    for k, o in ours.items():
        if k not in base and k not in ours16:
            continue
        mode, method, size, batch, prompts, steps = k
        s = o['step_s_median']
        parts = [f'{mode} {method} {size} batch {batch} prompts {prompts} ({steps} steps): ours {s:.3f} s']
        for setting, b in sorted(base.get(k, {}).items()):
            bs = b['step_s_median']
            rss = f', RSS {o["peak_rss_mib"] / b["peak_rss_mib"]:.2f}' if mode == 'train' else ''
            parts.append(f'{setting} {bs:.3f} s ({bs / s:.2f}x{rss})')
        if k in ours16:
            s16 = ours16[k]['step_s_median']
            parts.append(f'bf16 {s16:.3f} s ({s / s16:.2f}x our fp32)')
            if k in auto:
                a = auto[k]['step_s_median']
                parts.append(f'autocast {a:.3f} s (our bf16 {a / s16:.2f}x)')
        print('; '.join(parts))


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
