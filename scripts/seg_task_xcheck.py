#!/usr/bin/env python3
# Loads a cvpt-java segmentation task file into the PyTorch oracle (seg_ref.SegModel, official mmseg names) with
# strict=False, then runs the oracle's test path (cv2 resize, Normalize, slide inference) on N validation images and
# compares its predictions with the masks of `cvpt seg predict` (palette PNGs: indices = classes).
# usage: seg_task_xcheck.py TASK.safetensors BACKBONE.safetensors VAL_IMAGE_DIR CVPT_MASK_DIR N
import json, struct, sys, os, numpy as np, torch
sys.path.insert(0, os.environ.get('CVPT_SEG_REFERENCE', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'reference', 'seg'))); import seg_ref as S
def st_read(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); base = 8 + n
    out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        dt = {'F32': np.float32, 'I64': np.int64}[v['dtype']]; s, e = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(b[base + s:base + e], dtype=dt).reshape(v['shape']).copy())
    return out, json.loads(h.get('__metadata__', {}).get('cvpt', '{}'))
task, ckpt = sys.argv[1], sys.argv[2]
t, info = st_read(task)
sp = info['spec']; bb, _ = st_read(ckpt)
dims = dict(dim=bb['patch_embed.proj.weight'].shape[0], depth=sum(1 for k in bb if k.endswith('.norm1.weight')), heads=int(info['backbone']['dims']['heads']),
            patch=bb['patch_embed.proj.weight'].shape[2], img=info['backbone']['dims']['img'])
d, a = sp['decode_head'], sp['auxiliary_heads']
m = S.SegModel(dims, tuple(sp['img_size']), sp['num_classes'], channels=d['channels'], out_indices=tuple(sp['out_indices']),
               num_prompts=sp['prompts'], decode=dict(num_convs=d['num_convs'], up_scale=d['up_scale'], kernel_size=d['kernel_size']),
               aux=tuple(h['in_index'] for h in a), aux_cfg=dict(num_convs=a[0]['num_convs'], up_scale=a[0]['up_scale'], kernel_size=a[0]['kernel_size']))
m.load_backbone({k: v for k, v in bb.items()}, 'shared')
r = m.load_state_dict(t, strict=False)
print('unexpected', r.unexpected_keys); print('missing (not backbone)', [k for k in r.missing_keys if not k.startswith('backbone.')])
print(json.dumps(dict(loaded=len(t))))
import cv2, glob
from PIL import Image
imgs = sorted(glob.glob(sys.argv[3] + '/*.png'))[:int(sys.argv[5])]
m.set_mode(False)
rec = info['recipe']; sc = (rec['scaleLong'], rec['scaleShort'])
same = tot = 0
for p in imgs:
    bgr = cv2.imread(p, cv2.IMREAD_COLOR); h, w = bgr.shape[:2]
    nw, nh, _ = S.rescale_size(w, h, sc)
    x = torch.from_numpy(S.imnormalize(cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR))).permute(2, 0, 1)[None].contiguous()
    with torch.no_grad():
        pred = S.slide_inference(m, x, (rec['crop'], rec['crop']), (rec['stride'], rec['stride']), (h, w))[3][0].numpy()
    ours = np.array(Image.open(os.path.join(sys.argv[4], os.path.basename(p))))
    same += (ours == pred).sum(); tot += pred.size
print(json.dumps(dict(images=len(imgs), pixels=int(tot), equal=int(same), fraction=same / tot)))
