"""PyTorch baseline of `cvpt bench --method vfpt|e2vpt|spt`: the oracles of shared/reference/methods
(vfpt_ref.VFPT, e2vpt_ref.E2VPT, spt_ref.SPT) on random weights, timed as shared/reference/bench.py:
one step = zero_grad + forward (train mode; E2VPT: prompt dropout 0.1) + cross-entropy + backward +
the method's official optimizer (VFPT/E2VPT: SGD momentum 0.9, wd 1e-3 except head.bias; SPT: AdamW
groups, wd 0.01 / head 0.01 / bias 0). Same defaults as our bench: 10 prompts, VFPT α 0.5, E2VPT
5 KV prompts, no masks, 100 classes. Prints one JSON line per run (median step, images/s, CPU seconds
per step (the comparable figure on a shared machine), peak RSS).

  /usr/bin/python3 scripts/bench-prompt-methods.py --method vfpt --size tiny --batch 8 --steps 3 --threads 1
"""
import argparse, json, os, resource, sys, time

SHARED = os.environ.get('CVPT_SHARED', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--method', required=True, choices=['vfpt', 'e2vpt', 'spt'])
    ap.add_argument('--size', default='tiny', choices=['micro', 'tiny', 'small', 'base'])
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--prompts', type=int, default=10)
    ap.add_argument('--num-classes', type=int, default=100)
    a = ap.parse_args()
    import torch, torch.nn.functional as F
    sys.path[:0] = [os.path.join(SHARED, 'reference'), os.path.join(SHARED, 'reference', 'methods')]
    import cvpt_ref as R
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dims = R.SIZES[a.size]
    if a.method == 'vfpt':
        import vfpt_ref as M
        model = M.VFPT(**dims, num_classes=a.num_classes, num_tokens=a.prompts, fourier_percentage=0.5)
        params = model.freeze()
        opt = model.sgd(0.1, 1e-3)
    elif a.method == 'e2vpt':
        import e2vpt_ref as M
        model = M.E2VPT(**dims, num_classes=a.num_classes, vis_prompts=a.prompts, kv_prompts=5)
        params = model.freeze()
        opt = model.sgd(0.1, 1e-3)
    else:
        import spt_ref as M
        model = M.SPT(**dims, num_classes=a.num_classes, num_prompts=a.prompts)
        params = model.freeze()
        opt = model.adamw(1e-3, 0.01, 0.01)
    x = torch.randn(a.batch, 3, dims['img'], dims['img'])
    y = torch.randint(0, a.num_classes, (a.batch,))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.
    model.train()
    times, cpu = [], []
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    st = sorted(times[a.warmup:])
    med = st[len(st) // 2] if len(st) % 2 else (st[len(st) // 2 - 1] + st[len(st) // 2]) / 2
    print(json.dumps(dict(code=f'{a.method}_ref.py', mode='train', method=a.method, size=a.size, batch=a.batch, prompts=a.prompts,
                          threads=torch.get_num_threads(), step_s_median=round(med, 4), images_per_s=round(a.batch / med, 2),
                          step_s_all=[round(t, 4) for t in times], cpu_s_all=[round(t, 2) for t in cpu], trainable_params=sum(p.numel() for p in params),
                          rss_model_mib=round(rss_before, 1),
                          peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024., 1), torch=torch.__version__)),
          flush=True)


if __name__ == '__main__':
    main()
