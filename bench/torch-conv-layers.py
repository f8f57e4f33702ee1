#!/usr/bin/python3
"""PyTorch's 3x3 'same' convolutions on the layer shapes of ResNet-20 and darknet tiny, one thread:
ms per call and G multiply-adds a second, to set beside advlens's per-kernel profile
(`node --import tsx bench/profile-models.ts --model resnet20|darknet`). Run it as the bench runs
PyTorch (steady malloc), with and without oneDNN capped at AVX2:

  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 /usr/bin/python3 bench/torch-conv-layers.py
  DNNL_MAX_CPU_ISA=AVX2 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 /usr/bin/python3 bench/torch-conv-layers.py

`DNNL_VERBOSE=1` in front shows the implementation oneDNN picked (2026-12-07 on this host's AMD EPYC:
jit:avx512_core natively, jit:avx2 capped). Needs Debian's python3-torch.
"""
import time
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
# (input channels, output channels, map side, batch)
LAYERS = [(16, 16, 32, 128), (32, 32, 16, 128), (64, 64, 8, 128), (64, 512, 14, 8), (16, 128, 56, 8)]
for c, k, h, n in LAYERS:
    x = torch.rand(n, c, h, h)
    w = torch.rand(k, c, 3, 3)
    for _ in range(3):
        F.conv2d(x, w, padding=1)
    reps = 10
    t0 = time.perf_counter()
    for _ in range(reps):
        F.conv2d(x, w, padding=1)
    dt = (time.perf_counter() - t0) / reps
    macs = n * h * h * c * k * 9
    print(f'{c:3d} -> {k:3d} at {h}x{h}, batch {n:3d}: {dt * 1000:6.2f} ms  {macs / dt / 1e9:5.1f} GMAC/s')
