#!/usr/bin/python3
"""PyTorch reference of the CIFAR-10 zoo's `--arch cifar-cnn` (src/models/architectures/cifarCnn.ts),
in the format of ../shared/bench/torch_ref_models.py (same flags, same JSON), for `npm run bench --
--models cifar-cnn --compare-torch`.

Run:  python3 bench/torch_ref_cifar_cnn.py [--threads N] [--seconds S] [--json]

Model (random weights: only the speed matters): six 3x3 'same' convolutions without bias (32, 32, 64,
64, 128, 128 channels), each followed by batch norm and ReLU, 2x2 max pooling after the 2nd and 4th,
global average pooling, dense 10. Input 32x32x3 in [0, 1]. Batch 64.
Workloads, in images per second (as torch_ref_models.py's resnet20):
  forward       logits only, no gradient, eval mode
  input_grad    d sum CE / d input, eval mode
  train_step    forward + backward to all weights + SGD (lr 0.05, momentum 0.9, weight decay 5e-4 on
                the conv and dense kernels only, as advlens' --weight-decay), train mode
  pgd7_train    7 L-inf PGD steps (eps 8/255, step 2/255, random start, eval mode), then a train step
"""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--model', default='cifar-cnn', choices=['cifar-cnn', 'all'])
p.add_argument('--threads', type=int, default=1)
p.add_argument('--seconds', type=float, default=3.0, help='time budget per workload')
p.add_argument('--json', action='store_true')
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


def cifar_cnn():
    layers, cin = [], 3
    for i, cout in enumerate([32, 32, 64, 64, 128, 128]):
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        if i in (1, 3):
            layers.append(nn.MaxPool2d(2))
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def rate(fn, per_call_images):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while True:
        fn(); n += 1
        dt = time.perf_counter() - t0
        if dt >= a.seconds and n >= 2:
            return per_call_images * n / dt


def input_grad(m, x, y):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(m(x), y, reduction='sum'), x)[0]


def bench():
    B = 64
    m = cifar_cnn()
    kernels = [q for n, q in m.named_parameters() if q.dim() > 1]
    others = [q for n, q in m.named_parameters() if q.dim() <= 1]
    opt = torch.optim.SGD([{'params': kernels, 'weight_decay': 5e-4}, {'params': others, 'weight_decay': 0}],
                          0.05, momentum=0.9)
    x, y = torch.rand(B, 3, 32, 32), torch.randint(0, 10, (B,))

    def forward():
        m.eval()
        with torch.no_grad():
            m(x)

    def grad():
        m.eval()
        return input_grad(m, x, y)

    def train_on(xb):
        m.train()
        opt.zero_grad(); F.cross_entropy(m(xb), y).backward(); opt.step()

    def pgd7_train(eps=8 / 255, alpha=2 / 255):
        m.eval()
        xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
        for _ in range(7):
            xa = torch.min(torch.max(xa + alpha * input_grad(m, xa, y).sign(), x - eps), x + eps).clamp(0, 1)
        train_on(xa)

    return B, {
        'forward': rate(forward, B),
        'input_grad': rate(grad, B),
        'train_step': rate(lambda: train_on(x), B),
        'pgd7_train': rate(pgd7_train, B),
    }


out = {'engine': f'pytorch {torch.__version__} cpu', 'threads': a.threads, 'models': {}}
batch, res = bench()
out['models']['cifar-cnn'] = {'batch': batch, 'images_per_s': res}
if a.json:
    print(json.dumps(out))
else:
    for name, r in out['models'].items():
        print(f"{name} (batch {r['batch']}, {a.threads} thread(s))")
        for k, v in r['images_per_s'].items():
            print(f'  {k:14s} {v:10.2f} img/s')
