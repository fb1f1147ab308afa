"""Regenerates the small fixtures next to this script (torch 1.13, numpy). Not needed to run tests.

    /usr/bin/python3 make_fixtures.py
"""
import collections, os
import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)

base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
shared = torch.arange(20, dtype=torch.float32) * 0.25
attr = torch.tensor([1.5, -2.5])
attr.note = 'has a __dict__, so torch pickles it with _rebuild_from_type_v2'
sd = collections.OrderedDict()
sd['module.w_t'] = base.t()                                 # non-contiguous: strides (1, 6)
sd['module.w_slice'] = shared[5:11].view(2, 3)              # storage offset 5, storage shared with the next
sd['module.w_step'] = shared[::4]                           # stride 4
sd['module.param'] = torch.nn.Parameter(torch.linspace(-1, 1, 6).reshape(2, 3))
sd['module.half'] = (torch.arange(5) / 3).half()
sd['module.bf16'] = (torch.arange(5) / 3).bfloat16()
sd['module.double'] = torch.arange(3, dtype=torch.float64) / 7
sd['module.long'] = torch.tensor([1, -2, 3_000_000_000])
sd['module.bool'] = torch.tensor([True, False, True])
sd['module.scalar'] = torch.tensor(3.25)
sd['module.empty'] = torch.zeros(0, 4)
sd['module.attr'] = attr
sd['module.u8'] = torch.tensor([0, 7, 255], dtype=torch.uint8)
sd['module.i8'] = torch.tensor([-128, 5], dtype=torch.int8)
sd['module.i16'] = torch.tensor([-300, 300], dtype=torch.int16)
sd['module.i32'] = torch.tensor([-70000, 70000], dtype=torch.int32)
sd['module.hw'] = torch.randn(2, 3, 4).permute(2, 0, 1)     # 3-d permutation
sd._metadata = collections.OrderedDict({'': {'version': 1}})
ckpt = {'epoch': 3, 'model': sd, 'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0, 1]}]},
        'meta': (None, True, 1.5, 'x', 2 ** 70, b'raw', [1, [2, [3]]])}

torch.save(ckpt, os.path.join(here, 'nested.pth'))
torch.save(ckpt, os.path.join(here, 'nested_p4.pth'), pickle_protocol=4)
torch.save({'w': base}, os.path.join(here, 'legacy.pth'), _use_new_zipfile_serialization=False)

exp = {k[7:]: (v.detach().float() if v.dtype == torch.bfloat16 else v.detach()).contiguous().numpy() for k, v in sd.items()}
np.savez(os.path.join(here, 'nested_expected.npz'), **exp)

a = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
np.savez_compressed(os.path.join(here, 'compressed.npz'), f64=a, fortran=np.asfortranarray(a.astype(np.float32)),
                    f16=np.arange(4, dtype=np.float16) / 2, i64=np.array([-1, 2**40], dtype=np.int64),
                    flags=np.array([True, False]), scalar=np.float32(2.5))
