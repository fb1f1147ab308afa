#!/usr/bin/env python3
"""PyTorch baseline of `cvpt seg bench`: the segmentation oracle (shared/reference/seg/seg_ref.py) timed the
same way, one JSON line with the same fields.

  train: model.train() (BN batch statistics), zero_grad, forward_train (decode + 3 aux losses), backward,
         torch SGD (momentum 0.9, head lr x10) with the poly lr; batch of random crops.
  slide: eval, slide_inference of one random image (crop, stride), decode head only.
The oracle does not model the backbone's dropouts (cvpt-java's train step runs them, as the official recipe).
Random weights (speed does not depend on them); out_indices and heads as SegSpec.official in cvpt-java.
"""
import argparse, json, math, os, sys, time
import torch

here = os.path.dirname(os.path.abspath(__file__))
ref = os.environ.get('CVPT_SEG_REFERENCE', os.path.join(here, '..', '..', 'shared', 'reference', 'seg'))
sys.path.insert(0, ref)
import seg_ref as S  # noqa: E402

SIZES = S.R.SIZES


def out_indices(depth):  # SegSpec.defaultOutIndices
    if depth >= 8:
        return tuple(math.ceil(depth * f / 24.0) - 1 for f in (10, 15, 20, 24))
    return tuple(range(max(0, depth - 4), depth))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', default='train', choices=['train', 'slide'])
    ap.add_argument('--size', default='base', choices=list(SIZES))
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--crop', type=int, default=512)
    ap.add_argument('--stride', type=int, default=341)
    ap.add_argument('--image', default='512x683')
    ap.add_argument('--num-classes', type=int, default=150)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d = dict(SIZES[a.size])
    patch, depth = d['patch'], d['depth']
    oi = out_indices(depth)
    n = len(oi)
    ups = int(math.log2(max(2, patch)))
    aux_up = max(2, int(round(math.sqrt(patch))))
    m = S.SegModel(d, (a.crop, a.crop), a.num_classes, channels=256, out_indices=oi, num_prompts=10,
                   decode=dict(num_convs=ups, up_scale=2, kernel_size=3), aux=tuple(range(n - 1)),
                   aux_cfg=dict(num_convs=2, up_scale=aux_up, kernel_size=3), aux_weight=0.4)
    m.freeze()
    opt = S.make_sgd(m, 1e-3, 10.0, 0.9)
    H, W = (int(v) for v in a.image.split('x'))
    train = a.mode == 'train'
    x = torch.randn(a.batch, 3, a.crop, a.crop) if train else torch.randn(1, 3, H, W)
    y = torch.randint(0, a.num_classes, (a.batch, a.crop, a.crop))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        if train:
            m.set_mode(True)
            opt.zero_grad()
            loss = m.forward_train(x, y)[3]
            loss.backward()
            S.set_poly(opt, i, 160000)
            opt.step()
        else:
            m.set_mode(False)
            with torch.no_grad():
                S.slide_inference(m, x, (a.crop, a.crop), (a.stride, a.stride), (H, W))
        times.append(time.perf_counter() - t0)
    t = sorted(times[a.warmup:])
    k = len(t)
    med = t[k // 2] if k % 2 else (t[k // 2 - 1] + t[k // 2]) / 2
    b = a.batch if train else 1
    r = dict(code='pytorch-oracle', task='segmentation', mode=a.mode, method='cvpt', size=a.size, dim=d['dim'], depth=depth,
             out_indices=list(oi), crop=a.crop, batch=b, num_classes=a.num_classes, threads=a.threads, warmup=a.warmup,
             steps=a.steps, step_s_median=round(med, 4), images_per_s=round(b / med, 4),
             step_s_all=[round(v, 4) for v in times], torch=torch.__version__)
    if not train:
        r.update(image_hw=[H, W], stride=a.stride, windows=len(S.slide_windows(H, W, (a.crop, a.crop), (a.stride, a.stride))))
    print(json.dumps(r))


if __name__ == '__main__':
    main()
