"""The PyTorch baseline (shared/reference/bench.py) under CPU autocast to bfloat16, its own bf16 mode.

  python3 scripts/bench_autocast.py --method cvpt --size base --batch 32 --mode infer   # bench.py's flags

Every step (forward, loss and backward; or the no-grad forward) runs inside
torch.autocast('cpu', dtype=torch.bfloat16): linears and matmuls in bf16, the ops autocast keeps
in fp32 (softmax, layer_norm, cross-entropy) in fp32, parameters and optimizer in fp32. The JSON
line is bench.py's with "precision": "bf16-autocast".
"""
import os
import sys

import torch

ref = os.environ.get('CVPT_REFERENCE', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'reference', 'bench.py'))
sys.path.insert(0, os.path.dirname(os.path.abspath(ref)))
import bench  # noqa: E402

_run_one = bench.run_one


def run_one(a):
    with torch.autocast('cpu', dtype=torch.bfloat16):
        r = _run_one(a)
    r['precision'] = 'bf16-autocast'
    return r


bench.run_one = run_one
if __name__ == '__main__':
    bench.main()
