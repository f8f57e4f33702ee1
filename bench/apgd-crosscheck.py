#!/usr/bin/python3
"""Independent PyTorch reference for APGD (CE, DLR, targeted DLR; L-inf and L2), the DLR losses and
the Square Attack's schedule: writes test/fixtures/torch-apgd.json, which
test/attacks/apgd-crosscheck.test.ts compares with src/attacks/apgd.ts, loss.ts and square.ts.

Regenerate (Debian's /usr/bin/python3 has python3-torch, see bench/README.md):

  node --import tsx bench/torch-crosscheck-inputs.ts /tmp/apgd-inputs.json --count 12
  /usr/bin/python3 bench/apgd-crosscheck.py --inputs /tmp/apgd-inputs.json   # about 15 CPU minutes

or in parallel, one process per part (`--parts trace0`, `trace1`, `attack0`, `attack1`, `attack2`, each
with `--out /tmp/fx-PART.json`), then `--merge /tmp/fx-*.json` (trace parts first). `--reuse FIXTURE`
takes an attack's float64 result and float32 shadows from an earlier fixture and runs only the near-tie
shadows (deterministic runs: the same fixture, in 2 runs instead of 5).

Written from the APGD paper (Croce and Hein, ICML 2020, algorithm 1 and section 3) with the settings
of AutoAttack's reference code, not from either implementation's code:

* the model: the tfjs-layers model rebuilt in PyTorch by bench/torch-crosscheck.py's `Net` (its
  piecewise-linear record/apply, so max-pool routing and ReLU masks follow TensorFlow's rules);
* the random start: the project's seeded generator (src/engine/rng.ts: splitmix32 seeding
  xoshiro128**, Box-Muller normals) reimplemented here bit for bit, so both sides start at the same
  point: x + eps t / ||t|| with t ~ U(-1, 1)^d (L-inf) or N(0, 1)^d (L2), clipped to [0, 1];
* the checkpoints from the paper's recursion p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1}
  - 0.03, 0.06), w_j = floor(p_j N) (not from the reference's integer intervals, which the project uses);
* step eta = 2 eps; x_1 = P(x_0 + eta s(g_0)); then z = P(x_k + eta s(g_k)),
  x_{k+1} = P(x_k + 0.75 (z - x_k) + 0.25 (x_k - x_{k-1})); at w_j halve eta and go back to the best
  point (and its gradient) where at most 0.75 (w_j - w_{j-1}) of the steps since w_{j-1} raised the
  loss, or (from the second checkpoint) eta was not halved at w_{j-1} and the best loss did not grow;
* the attacks as runs on the points still robust: apgd-ce / apgd-dlr one run, apgd-t one run per
  target class (the 2nd .. 10th highest clean logits); per image the adversarial iterate found (its
  latest), else the highest-loss point.

float64 vs float32. The project computes in float32. Sign steps (L-inf) depend on sign(g_i), which
float32 cannot settle for components near 0, the step-size rule on comparisons of losses, and the
max-pool gradient on which window element is the largest: on an L-inf iterate most background pixels
sit on the same bound (x + eps), so the first convolution's outputs over that plateau differ by less
than a float32 ulp, float32 rounds them to a tie (tfjs then routes the gradient to the window's first
element) where float64 sees a definite maximum, and the routed gradient differs at whole pixels, by
|g| ~ 1e-3, not 1e-9 (bench/apgd-trace.ts traces every iterate: on this model every first divergence
from float64 of the L-inf runs is such a pool1 near-tie). One flipped decision moves the rest of a
trajectory. So every run is repeated by four shadows: float32 torch (direct and im2col convolutions,
with float64's exact pool ties) and float64 with pool elements within NEAR_TIE (1e-6) of the maximum
(of its sum of |terms|) counted as tied, the gradient going to the first, or to the last, of them
(exact ties, equal in any precision, go to the first, as in tfjs). An
image is *stable* when every shadow ends within 1e-5 of float64 (perturbation, and the same outcome);
for the single-run traces `stableUntil` is, per image, the last iterate up to which every shadow's
iterates (1e-5), losses (1e-5 relative) and step sizes agree with float64. The test holds advlens to
float64 within 1e-4 on the stable images (perturbations) and along each trace's stable prefix (losses,
every step size), and to the same outcome on every image whose shadows had the same outcome as
float64; the counts of unstable images are in the fixture. L2 steps (g / ||g||) are continuous in g,
but the pool routing is not, so L2 images can be unstable too.
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('torch_crosscheck', os.path.join(HERE, 'torch-crosscheck.py'))
tc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tc)

STABLE_TOL = 1e-5
NEAR_TIE = 1e-6  # float32 rounds conv1's outputs (10 terms) to within ~6e-7 of their sum of |terms|; the ties seen flip at ~1e-8
tc.KINK = 0.0  # no float32 kink search (the float32 shadow run is the stability test here): much faster
M32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# The project's generator (src/engine/rng.ts), in Python.


class Rng:
    def __init__(self, seed):
        a = int(math.floor(seed)) & M32

        def sm():
            nonlocal a
            a = (a + 0x9E3779B9) & M32
            t = a ^ (a >> 16)
            t = (t * 0x21F0AAAD) & M32
            t ^= t >> 15
            t = (t * 0x735A2D97) & M32
            t ^= t >> 15
            return t

        self.s = [sm(), sm(), sm(), sm()]
        self.spare = None

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (32 - k))) & M32

    def u32(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 11)
        return result

    def next(self):
        return self.u32() / 4294967296.0

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u = 0.0
        while u == 0.0:
            u = self.next()
        v = self.next()
        r = math.sqrt(-2 * math.log(u))
        self.spare = r * math.sin(2 * math.pi * v)
        return r * math.cos(2 * math.pi * v)


# ---------------------------------------------------------------------------------------------
# Losses, schedules


def dlr(z, y):
    """-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)."""
    srt = z.sort(1, descending=True).values
    zy = z.gather(1, y[:, None])[:, 0]
    others = z.scatter(1, y[:, None], -float('inf')).max(1).values
    return -(zy - others) / (srt[:, 0] - srt[:, 2] + 1e-12)


def dlr_targeted(z, y, t):
    """-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)."""
    srt = z.sort(1, descending=True).values
    zy = z.gather(1, y[:, None])[:, 0]
    zt = z.gather(1, t[:, None])[:, 0]
    return -(zy - zt) / (srt[:, 0] - 0.5 * (srt[:, 2] + srt[:, 3]) + 1e-12)


def ce(z, y):
    return -F.log_softmax(z, 1).gather(1, y[:, None])[:, 0]


def checkpoints(n):
    """w_j = floor(p_j N) from the paper's recursion, while w_j <= N (p_0 = 0 excluded)."""
    p = [0.0, 0.22]
    while True:
        q = p[-1] + max(p[-1] - p[-2] - 0.03, 0.06)
        if math.floor(q * n + 1e-9) > n:
            break
        p.append(q)
    return [math.floor(v * n + 1e-9) for v in p[1:]]


def square_p(i, queries, p_init, rescale):
    """Square Attack's p at iteration i: p_init halved after 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000
    iterations (of 10,000 when rescaled)."""
    it = int(i / queries * 10000) if rescale else i
    for k, bound in enumerate([10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000]):
        if it <= bound:
            return p_init / 2**k
    return p_init / 2**9


# ---------------------------------------------------------------------------------------------
# APGD


def norm_of(t, norm):
    f = t.flatten(1)
    return (f.abs().max(1).values if norm == 'linf' else f.norm(dim=1)).view(-1, 1, 1, 1)


def start_point(x, eps, norm, rng):
    n = x.shape[0]
    per = x[0].numel()
    t = torch.tensor([[2 * rng.next() - 1 if norm == 'linf' else rng.normal() for _ in range(per)] for _ in range(n)],
                     dtype=torch.float32).to(torch.float64).view(x.shape)  # advlens stores t in float32
    return (x + eps * t / (norm_of(t, norm) + 1e-12)).clamp(0, 1).to(x.dtype)


class Model:
    def __init__(self, net):
        self.net = net

    def logits(self, x):
        with torch.no_grad():
            return self.net.apply(x, self.net.record(x))

    def loss_grad(self, x, loss):
        rec = self.net.record(x.detach())
        v = x.detach().clone().requires_grad_(True)
        z = self.net.apply(v, rec)
        l = loss(z)
        (g,) = torch.autograd.grad(l.sum(), v)
        return z.detach(), l.detach(), g


def apgd_run(model, x, y, loss, start, eps, norm, n_iter, rho=0.75, reach=None):
    """One APGD run; `reach`: targets to reach (success = predicted target), else misclassification."""

    def proj(v):
        if norm == 'linf':
            return torch.minimum(torch.maximum(v, x - eps), x + eps).clamp(0, 1)
        d = v - x
        nd = norm_of(d, 'l2')
        return (x + d / (nd + 1e-12) * torch.clamp(nd, max=eps)).clamp(0, 1)

    def s(g):
        return torch.sign(g) if norm == 'linf' else g / (norm_of(g, 'l2') + 1e-12)

    def adversarial(z):
        p = z.argmax(1)
        return p == reach if reach is not None else p != y

    n = x.shape[0]
    rows = lambda m: m.view(-1, 1, 1, 1)
    xk = start.clone()
    z, l, g = model.loss_grad(xk, loss)
    zero_grad = g.flatten(1).abs().sum(1) == 0
    fooled = adversarial(z)
    x_adv, x_best, g_best, best = xk.clone(), xk.clone(), g.clone(), l.clone()
    eta = torch.full((n,), 2.0 * eps, dtype=x.dtype)
    x_prev = xk.clone()
    losses, etas, iterates = [l.clone()], [], [xk.clone()]
    marks = checkpoints(n_iter)
    last_mark, best_at_mark = 0, best.clone()
    halved_at_mark = torch.ones(n, dtype=torch.bool)
    for k in range(n_iter):
        etas.append(eta.clone())
        zk = proj(xk + rows(eta) * s(g))
        nxt = proj(zk) if k == 0 else proj(xk + 0.75 * (zk - xk) + 0.25 * (xk - x_prev))
        x_prev, xk = xk, nxt
        z, l, g = model.loss_grad(xk, loss)
        losses.append(l.clone())
        iterates.append(xk.clone())
        adv = adversarial(z)
        fooled |= adv
        x_adv[adv] = xk[adv]
        up = l > best
        x_best[up], g_best[up], best[up] = xk[up], g[up], l[up]
        if k + 1 in marks:
            span = k + 1 - last_mark
            rises = sum((losses[m + 1] > losses[m]).to(torch.int64) for m in range(last_mark, k + 1))
            h = (rises <= rho * span) | (~halved_at_mark & (best <= best_at_mark))
            eta[h] /= 2
            xk[h], g[h] = x_best[h], g_best[h]
            halved_at_mark, best_at_mark, last_mark = h, best.clone(), k + 1
    return {'x_adv': x_adv, 'x_best': x_best, 'fooled': fooled, 'best': best, 'losses': losses, 'etas': etas,
            'zero_grad': zero_grad, 'iterates': iterates}


def apgd_attack(model, x, y, eps, norm, kind, seed=0, n_iter=100, n_targets=9):
    rng = Rng(seed)
    clean = model.logits(x)
    robust = clean.argmax(1) == y
    out = x.clone()
    best_loss = torch.full((x.shape[0],), -float('inf'), dtype=x.dtype)
    rounds = n_targets if kind == 'dlr-targeted' else 1
    for r in range(rounds):
        idx = robust.nonzero()[:, 0]
        if len(idx) == 0:
            break
        xs, ys = x[idx], y[idx]
        ts = clean[idx].argsort(1, descending=True)[:, r + 1]
        loss = {'ce': lambda z: ce(z, ys), 'dlr': lambda z: dlr(z, ys),
                'dlr-targeted': lambda z: dlr_targeted(z, ys, ts)}[kind]
        res = apgd_run(model, xs, ys, loss, start_point(xs, eps, norm, rng), eps, norm, n_iter)
        for j, i in enumerate(idx.tolist()):
            if res['fooled'][j]:
                robust[i] = False
                out[i] = res['x_adv'][j]
            elif res['best'][j] > best_loss[i]:
                best_loss[i] = res['best'][j]
                out[i] = res['x_best'][j]
    return out, model.logits(out).argmax(1) != y


# ---------------------------------------------------------------------------------------------

ATTACKS = [
    {'name': 'apgd-ce linf eps 0.1', 'attack': 'apgd-ce', 'loss': 'ce', 'options': {'eps': 0.1, 'norm': 'linf'}},
    {'name': 'apgd-ce l2 eps 1.5', 'attack': 'apgd-ce', 'loss': 'ce', 'options': {'eps': 1.5, 'norm': 'l2'}},
    {'name': 'apgd-t linf eps 0.1', 'attack': 'apgd-t', 'loss': 'dlr-targeted', 'images': 8,
     'options': {'eps': 0.1, 'norm': 'linf', 'nTargetClasses': 3}},
    # 100-iteration runs meet near-ties that float32 may take either way on nearly every image; 10
    # iterations (checkpoints 2, 3, ..., 10: a halving decision at each) are mostly stable, so their
    # final perturbations can be compared.
    {'name': 'apgd-ce linf eps 0.1, 10 steps', 'attack': 'apgd-ce', 'loss': 'ce',
     'options': {'eps': 0.1, 'norm': 'linf', 'steps': 10}},
    {'name': 'apgd-ce l2 eps 1.5, 10 steps', 'attack': 'apgd-ce', 'loss': 'ce',
     'options': {'eps': 1.5, 'norm': 'l2', 'steps': 10}},
]
# Single runs from one start on every image (the loss and step-size trajectories are compared).
TRACES = [
    {'name': 'run ce linf eps 0.1', 'loss': 'ce', 'eps': 0.1, 'norm': 'linf', 'seed': 7},
    {'name': 'run dlr l2 eps 1.5', 'loss': 'dlr', 'eps': 1.5, 'norm': 'l2', 'seed': 7},
]


def r7(t):
    return [float(f'{v:.9g}') for v in t.flatten().tolist()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--inputs', default='/tmp/apgd-inputs.json')
    ap.add_argument('--model', default='models/mnist-small-cnn')
    ap.add_argument('--out', default='test/fixtures/torch-apgd.json')
    ap.add_argument('--iters', type=int, default=100)
    ap.add_argument('--count', type=int, default=12, help='images (the first of --inputs)')
    ap.add_argument('--parts', default='traces,attacks',
                    help='which runs to make: traces, attacks, traceN or attackN (the N-th of TRACES or ATTACKS); parts in '
                         'separate processes, merged with --merge, cut the wall time')
    ap.add_argument('--reuse', help='attacks: take float64 and the float32 shadows from this fixture and run '
                    'only the float64 near-tie shadows (the runs are deterministic: a shortcut, same result)')
    ap.add_argument('--merge', nargs='+', help='fixtures made with --parts to merge into --out (nothing is run)')
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    log = lambda msg: print(f'[{time.time() - t0:4.0f} s] {msg}', file=sys.stderr)

    if a.merge:
        fx = [json.load(open(f)) for f in a.merge]
        out = fx[0]
        out['traces'] = [t for f in fx for t in f['traces']]
        out['attacks'] = sorted((x for f in fx for x in f['attacks']), key=lambda x: [s['name'] for s in ATTACKS].index(x['name']))
        with open(a.out, 'w') as f:
            json.dump(out, f, separators=(',', ':'))
        log(f'merged {len(a.merge)} fixtures into {a.out}')
        return
    inp = json.load(open(a.inputs))
    h, w, c = inp['shape']
    px = np.array([im['pixels'] for im in inp['images']], dtype=np.uint8).reshape(-1, h, w, c)
    x = torch.tensor((px.astype(np.float64) / 255).astype(np.float32).astype(np.float64))
    y = torch.tensor([im['label'] for im in inp['images']], dtype=torch.int64)
    x, y = x[:a.count], y[:a.count]
    inp['images'] = inp['images'][:a.count]
    net = tc.Net(a.model)
    m64 = Model(net)
    shadows = [Model(tc.Net(a.model, torch.float32, ties_from=net)),
               Model(tc.Net(a.model, torch.float32, im2col=True, ties_from=net)),
               Model(tc.Net(a.model, pool_tie=NEAR_TIE)),
               Model(tc.Net(a.model, pool_tie=NEAR_TIE, tie_last=True))]
    clean = m64.logits(x)

    fixture = {
        'torch': torch.__version__,
        'model': a.model,
        'data': inp['data'],
        'tolerance': 1e-4,
        'stableTolerance': STABLE_TOL,
        'iterations': a.iters,
        'images': {'indices': [im['index'] for im in inp['images']], 'labels': y.tolist()},
        'checkpoints': checkpoints(a.iters),
        'dlr': {'logits': r7(clean[:10]), 'labels': y[:10].tolist(), 'targets': clean[:10].argsort(1, descending=True)[:, 1].tolist(),
                'dlr': r7(dlr(clean[:10], y[:10])),
                'dlrTargeted': r7(dlr_targeted(clean[:10], y[:10], clean[:10].argsort(1, descending=True)[:, 1]))},
        'square': {'p5000': [square_p(i, 5000, 0.8, False) for i in range(5000)],
                   'p5000Rescaled': [square_p(i, 5000, 0.8, True) for i in range(5000)]},
        'traces': [],
        'attacks': [],
    }
    for tr in [t for i, t in enumerate(TRACES) if 'traces' in a.parts.split(',') or f'trace{i}' in a.parts.split(',')]:
        runs = []
        for m in [m64] + shadows:
            xx, yy = x.to(m.net.dtype), y
            loss = (lambda z: ce(z, yy)) if tr['loss'] == 'ce' else (lambda z: dlr(z, yy))
            st = start_point(xx, tr['eps'], tr['norm'], Rng(tr['seed']))
            runs.append(apgd_run(m, xx, yy, loss, st, tr['eps'], tr['norm'], a.iters))
        r64 = runs[0]
        stable = torch.ones(len(y), dtype=torch.bool)
        # per image and iterate k: every shadow's iterate, loss and the step size leading to it agree
        agree = torch.ones(a.iters + 1, len(y), dtype=torch.bool)
        for r32 in runs[1:]:
            for k in range(a.iters + 1):
                ok = (r32['iterates'][k].to(torch.float64) - r64['iterates'][k]).flatten(1).abs().max(1).values <= STABLE_TOL
                ok &= (r32['losses'][k].to(torch.float64) - r64['losses'][k]).abs() <= 1e-5 * r64['losses'][k].abs().clamp(min=1)
                if k > 0:
                    ok &= (r32['etas'][k - 1].to(torch.float64) - r64['etas'][k - 1]).abs() <= 1e-6 * r64['etas'][k - 1]
                agree[k] &= ok
            # float32 holds 2 eps / 2^k to 6e-8 relative; losses compared relative to max(1, |loss|), as the test does.
            trace_off = torch.stack([(l32.to(torch.float64) - l64).abs() / l64.abs().clamp(min=1)
                                     for l32, l64 in zip(r32['losses'], r64['losses'])]).max(0).values
            eta_same = torch.stack([(e32.to(torch.float64) - e64).abs() <= 1e-6 * e64
                                    for e32, e64 in zip(r32['etas'], r64['etas'])]).all(0)
            stable &= ((r32['x_best'].to(torch.float64) - r64['x_best']).flatten(1).abs().max(1).values <= STABLE_TOL) & eta_same & (trace_off <= 1e-5)
        fixture['traces'].append({
            'name': tr['name'], 'loss': tr['loss'], 'eps': tr['eps'], 'norm': tr['norm'], 'seed': tr['seed'],
            'steps': a.iters, 'stable': stable.tolist(),
            'stableUntil': [int(agree[:, i].to(torch.int64).cumprod(0).sum()) - 1 for i in range(len(y))],
            'losses': [r7(l) for l in r64['losses']], 'etas': [r7(e) for e in r64['etas']],
            'fooled': r64['fooled'].tolist(), 'bestLoss': r7(r64['best']),
        })
        log(f"trace {tr['name']}: {int(stable.sum())}/{len(y)} stable; stable prefixes {fixture['traces'][-1]['stableUntil']}")
    parts = a.parts.split(',')
    for spec in [sp for i, sp in enumerate(ATTACKS) if 'attacks' in parts or f'attack{i}' in parts]:
        k = spec.get('images', len(y))
        o = spec['options']
        if a.reuse:
            old = next(e for e in json.load(open(a.reuse))['attacks'] if e['name'] == spec['name'])
            res = [apgd_attack(m, x[:k], y[:k], o['eps'], o['norm'], spec['loss'], 0, a.iters,
                               o.get('nTargetClasses', 9)) for m in shadows[2:]]
            succ64 = torch.tensor(old['success'])
            succ32 = torch.tensor(old['success32'])
            stable = torch.zeros(k, dtype=torch.bool)
            d64 = torch.zeros_like(x[:k])
            for i, dl in zip(old['deltaImages'], old['delta']):
                stable[i] = True
                d64[i] = torch.tensor(dl, dtype=torch.float64).view(x.shape[1:])
            for out, s in res:
                off = ((out - x[:k]) - d64).flatten(1).abs().max(1).values
                stable &= (off <= STABLE_TOL) & (s == succ64)
                succ32 = torch.where(s == succ64, succ32, s)
            if len(old['deltaImages']) < sum(old['stable']):
                log(f"{spec['name']}: {sum(old['stable']) - len(old['deltaImages'])} stable images without a stored delta counted unstable")
        else:
            res = [apgd_attack(m, x[:k].to(m.net.dtype), y[:k], o['eps'], o['norm'], spec['loss'], 0,
                               o.get('steps', a.iters), o.get('nTargetClasses', 9)) for m in [m64] + shadows]
            out64, succ64 = res[0]
            d64 = out64 - x[:k]
            stable = torch.ones(k, dtype=torch.bool)
            succ32 = succ64.clone()
            for out32, s32 in res[1:]:
                off = (out32.to(torch.float64) - out64).flatten(1).abs().max(1).values
                stable &= (off <= STABLE_TOL) & (s32 == succ64)
                succ32 = torch.where(s32 == succ64, succ32, s32)  # an outcome either shadow took the other way
        sel = stable.nonzero()[:, 0][:8].tolist()
        fixture['attacks'].append({
            'name': spec['name'], 'attack': spec['attack'], 'options': o, 'images': k,
            'success': succ64.tolist(), 'success32': succ32.tolist(), 'stable': stable.tolist(),
            'robustAccuracy': float((~succ64).double().mean()),
            'deltaImages': sel, 'delta': [r7(d64[i]) for i in sel],
        })
        log(f"{spec['name']}: robust {float((~succ64).double().mean()):.2f} (float32 {float((~succ32).double().mean()):.2f}), "
            f"{int(stable.sum())}/{k} stable")
    with open(a.out, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    log(f'wrote {a.out} ({os.path.getsize(a.out)} bytes)')


if __name__ == '__main__':
    main()
