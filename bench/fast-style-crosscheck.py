#!/usr/bin/python3
"""Independent PyTorch reference for the fast style network (src/data/transforms/fastStyle.ts): writes
test/fixtures/torch-fast-style.json, which test/data/transforms/fastStyle.test.ts compares with the
network built in tfjs ops from the same raw variables.

Regenerate (Debian's /usr/bin/python3 has python3-torch):

  /usr/bin/python3 bench/fast-style-crosscheck.py   # -> test/fixtures/torch-fast-style.json (seconds)

The network of Johnson et al. / Engstrom's fast-style-transfer, in float64 with torch.nn.functional and
no TensorFlow: the variables read with numpy from ../shared/models/style-transfer/la_muse (manifest.json:
name -> file, shape; little-endian float32), TensorFlow's 'SAME' padding written out (pad before =
total // 2), transposed convolutions as the full conv_transpose2d cropped to 2x the input from
`total // 2`, instance norm with the biased variance and epsilon 1e-3, then 150 tanh + 127.5 clipped
to 0-255 and scaled to [0, 1]. The input is 1x8x12x3 (non-square, so the padding is asymmetric) with
x[i] = ((i * 7919) % 1000) / 1000 in NHWC order, which the test rebuilds.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE = 'la_muse'
MODEL = os.path.join(ROOT, '..', 'shared', 'models', 'style-transfer', STYLE)
SHAPE = (1, 8, 12, 3)

manifest = json.load(open(os.path.join(MODEL, 'manifest.json')))


def var(i):
    e = manifest['Variable' if i == 0 else f'Variable_{i}']
    a = np.fromfile(os.path.join(MODEL, e['filename']), '<f4').reshape(e['shape'])
    return torch.from_numpy(a.astype(np.float64))


def instance_norm(y, i):
    mu = y.mean((2, 3), keepdim=True)
    variance = ((y - mu) ** 2).mean((2, 3), keepdim=True)
    return var(i + 2).view(1, -1, 1, 1) * (y - mu) / torch.sqrt(variance + 1e-3) + var(i + 1).view(1, -1, 1, 1)


def same_pad(x, k, s):
    h, w = x.shape[2:]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def conv(x, i, s, relu=True):
    w = var(i).permute(3, 2, 0, 1)  # [k, k, in, out] -> [out, in, k, k]
    y = instance_norm(F.conv2d(same_pad(x, w.shape[2], s), w, stride=s), i)
    return F.relu(y) if relu else y


def conv_transpose(x, i):
    w = var(i).permute(3, 2, 0, 1)  # [k, k, out, in] -> [in, out, k, k]
    y = F.conv_transpose2d(x, w, stride=2)
    h, wd = x.shape[2] * 2, x.shape[3] * 2
    top = ((x.shape[2] - 1) * 2 + 3 - h) // 2
    left = ((x.shape[3] - 1) * 2 + 3 - wd) // 2
    return F.relu(instance_norm(y[:, :, top:top + h, left:left + wd], i))


n = int(np.prod(SHAPE))
x = np.array([((i * 7919) % 1000) / 1000 for i in range(n)], dtype=np.float32).reshape(SHAPE)
y = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2) * 255
y = conv(y, 0, 1)
y = conv(y, 3, 2)
y = conv(y, 6, 2)
for b in range(5):
    at = 9 + b * 6
    y = y + conv(conv(y, at, 1), at + 3, 1, relu=False)
y = conv_transpose(y, 39)
y = conv_transpose(y, 42)
y = conv(y, 45, 1, relu=False)
out = (torch.clamp(torch.tanh(y) * 150 + 127.5, 0, 255) / 255).permute(0, 2, 3, 1).reshape(-1).numpy()

path = os.path.join(ROOT, 'test', 'fixtures', 'torch-fast-style.json')
with open(path, 'w') as f:
    json.dump({
        'style': STYLE,
        'shape': list(SHAPE),
        'input': 'x[i] = ((i * 7919) % 1000) / 1000, NHWC',
        'torch': torch.__version__,
        'output': [round(float(v), 7) for v in out],
    }, f)
    f.write('\n')
print(f'wrote {path}: {len(out)} values, mean {out.mean():.4f}')
