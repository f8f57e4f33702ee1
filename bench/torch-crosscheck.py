#!/usr/bin/python3
"""Independent PyTorch reference for the project's FGSM and PGD: writes test/fixtures/torch-attacks.json,
which test/attacks/torch-crosscheck.test.ts compares with the project's attacks on the wasm backend.

Regenerate (two steps; Debian's /usr/bin/python3 has python3-torch, see bench/README.md):

  node --import tsx bench/torch-crosscheck-inputs.ts    # candidates -> $TMPDIR/advlens-torch-crosscheck-inputs.json
  /usr/bin/python3 bench/torch-crosscheck.py            # -> test/fixtures/torch-attacks.json (about 2 minutes)

Options: --inputs PATH, --model DIR (default models/mnist-small-cnn), --out PATH, --count N (images, 8).

What it does, with no TensorFlow in Python:

* Parses the tfjs-layers model (model.json topology and weight manifest, weights.bin) with json and
  numpy and rebuilds it in PyTorch: conv kernels [kh,kw,in,out] -> [out,in,kh,kw], TensorFlow's
  'same'/'valid' padding, NCHW inside and NHWC again before Flatten (tfjs flattens NHWC), and the card's
  `preprocess` (scale, then mean/std) in front, as the project's model wrapper applies it.
* Computes the attacks in float64 (the weights and the pixels float32(p/255) are float32 values, lifted
  exactly), with the definitions of ../shared/docs/ALGORITHMS.md section 1 and src/attacks: FGSM
  clip(x + eps sign g, 0, 1); PGD from x (no random start): step, project onto the eps-ball, clip to
  [0, 1]; L-inf steps along sign(g), L2 steps along g / (||g||_2 + 1e-12) and projects with
  delta *= min(1, eps / (||delta||_2 + 1e-12)). Losses: CE of the label (untargeted), minus the CE of
  the target (targeted), CW margin max_{j!=y} z_j - z_y.
* Max pooling sends the gradient to the first maximum of its window in row-major order, as TensorFlow,
  the tfjs cpu backend and the project's wasm MaxPoolGrad do; values within 1e-12 of the maximum
  (relative to its sum of |terms|) count as ties. MNIST's flat background makes many windows hold
  exactly equal values, and with plain max_pool2d 1-ulp rounding differences would pick the element
  (measured: median relative gradient error against tfjs 2e-2 without the rule, 5e-5 with it).
* Conditioning. The project computes in float32, where sign(g_i) is not settled for components within
  float32 error of 0, and a sign flipped at one PGD step moves all later steps. At every gradient
  evaluation of the reference the script bounds the float32 error of each input-gradient component by
    2 u s_i + sum over kinks |g_flip - g|_i,   u = 2^-24,
  - s_i = sum_k (a_k + 64 |c_k|) |dz_k/dx_i|, with c = dLoss/dz and a_k = p_k (1 + |log p_k|) (+1 for
    the largest p_k; CE only) for the rounding of the float32 softmax coefficients. Calibrated on 40
    images against the tfjs wasm and cpu gradients: their real error stayed below 1.5 u s_i;
  - kinks: ReLU inputs, pool-window runner-ups (exact ties aside) and, for CW, runner-up logits closer
    than 64 u (their sum of |terms|) to the decision (the tfjs wasm pre-activations were off by at most
    14 u |terms| on 40 images), so float32 might take them the other way; g_flip is the gradient with
    one of them flipped.
  A component under its bound is *ambiguous*. The bound never missed a sign that tfjs got wrong, but it
  is pessimistic: along 10 PGD steps it flags nearly every image, mostly through kinks that float32
  resolves the same way after all.
  The main source of float32 error is saturation: the float32 softmax rounds p_y, so the CE gradient
  loses digits as 1 - p_y shrinks (relative error about 1e-7 / (1 - p_y)), and where 1 - p_y < 6e-8
  float32 has p_y = 1 exactly and the CE gradient is sum_{j!=y} p_j grad z_j (the true-class term is
  gone).
* Float32 shadows: every attack is rerun in float32 torch, twice (direct and im2col convolutions,
  exact pool ties as float64 sees them), and compared with the float64 run.
* Picks the test images among the candidates: in index order, the first image of each digit not yet
  taken whose first gradient has no ambiguous component (signMargin >= 1: FGSM and the first PGD step
  are settled) and whose float32 shadows end within 1e-5 of float64 in every attack, until --count
  images. So the later PGD steps are checked empirically (by the shadows), not proven. The counts over
  all the candidates are written to the fixture (`candidates`), and per attack and image the bound's
  margin, the number of evaluations with ambiguous components, the kinks and the shadows' distance
  (`conditioning`). FGSM components that are ambiguous would be listed (`excluded`) and left out of
  the comparison; with this selection there are none.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

U = 2.0**-24  # float32 unit roundoff
K_SIGN = 2.0  # margin on the rounding bound
BACKPROP_TERMS = 64.0  # weight of |c| in the rounding bound (covers back-propagation rounding)
KINK = 64 * U  # decisions closer than this (relative to their sum of |terms|) may flip in float32
POOL_TIE = {torch.float64: 1e-12, torch.float32: 0.0}
SHADOW_TOL = 1e-5

# The attacks as the test calls them: ATTACKS[attack](model, batch, options).
# `target: 'next'` becomes (label + 1) % 10 per image.
ATTACK_SPECS = [
    {'name': 'fgsm eps 0.1', 'attack': 'fgsm', 'options': {'eps': 0.1}},
    {'name': 'fgsm eps 0.3', 'attack': 'fgsm', 'options': {'eps': 0.3}},
    {'name': 'pgd-linf eps 0.1, 10 x 0.01', 'attack': 'pgd-linf',
     'options': {'eps': 0.1, 'steps': 10, 'stepSize': 0.01}},
    {'name': 'pgd-l2 eps 1.5, 10 x eps/5 (default step)', 'attack': 'pgd-l2', 'options': {'eps': 1.5, 'steps': 10}},
    {'name': 'pgd-linf targeted (label+1) eps 0.2, 10 x 0.02', 'attack': 'pgd-linf',
     'options': {'eps': 0.2, 'steps': 10, 'stepSize': 0.02, 'target': 'next'}},
    {'name': 'pgd-linf cw loss eps 0.1, 10 x 0.01', 'attack': 'pgd-linf',
     'options': {'eps': 0.1, 'steps': 10, 'stepSize': 0.01, 'loss': 'cw'}},
]

# ---------------------------------------------------------------------------------------------
# The model


def read_weights(model_dir, manifest):
    weights = {}
    for group in manifest:
        buf = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            if w.get('dtype', 'float32') != 'float32' or 'quantization' in w:
                raise SystemExit(f"weight {w['name']}: only plain float32 weights are supported")
            n = int(np.prod(w['shape'], dtype=np.int64))
            weights[w['name']] = np.frombuffer(buf, '<f4', n, off).reshape(w['shape'])
            off += 4 * n
    return weights


def tf_same_pad(size, k, s):
    """TensorFlow's 'same' padding (before, after) along one axis."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def windows(v, k, s):
    """[N,C,H,W] -> [N,C,OH,OW,kh*kw], each window in row-major order."""
    w = v.unfold(2, k[0], s[0]).unfold(3, k[1], s[1])
    return w.reshape(*w.shape[:4], k[0] * k[1])


class Net:
    """The tfjs-layers Sequential model as a piecewise-linear function of the input (NHWC, [0, 1]),
    preprocessing included. `record` fixes the ReLU masks and pool routing at a point (and finds the
    decisions float32 could take the other way); `apply` evaluates with them fixed, differentiably."""

    def __init__(self, model_dir, dtype=torch.float64, im2col=False, ties_from=None, pool_tie=None, tie_last=False):
        mj = json.load(open(os.path.join(model_dir, 'model.json')))
        card = json.load(open(os.path.join(model_dir, 'advlens.json')))
        topo = mj['modelTopology']
        topo = topo.get('model_config', topo)
        if topo['class_name'] != 'Sequential':
            raise SystemExit(f"only Sequential models are supported (got {topo['class_name']})")
        if card.get('output', 'logits') != 'logits':
            raise SystemExit('only models whose outputs are logits are supported')
        w = read_weights(model_dir, mj['weightsManifest'])
        self.dtype, self.im2col, self.ties_from = dtype, im2col, ties_from
        # pool_tie: treat window elements within this fraction of the maximum's sum of |terms| as tied
        # (default POOL_TIE[dtype]); tie_last: route a tie's gradient to its last element, not its first
        self.pool_tie = POOL_TIE[dtype] if pool_tie is None else pool_tie
        self.tie_last = tie_last
        t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=dtype)
        pre = card['preprocess']
        c = pre['channels']
        lo, hi = pre['scale']
        mean = torch.tensor(pre.get('mean') or [0.0] * c, dtype=torch.float64)
        std = torch.tensor(pre.get('std') or [1.0] * c, dtype=torch.float64)
        self.pre_mul = ((hi - lo) / std).to(dtype)  # v = x * mul + add, per channel
        self.pre_add = ((lo - mean) / std).to(dtype)
        self.layers = []
        for layer in topo['config']['layers']:
            cls, c = layer['class_name'], layer['config']
            name = c['name']
            act = c.get('activation', 'linear')
            if act not in ('linear', 'relu'):
                raise SystemExit(f'{name}: activation {act} is not supported')
            if cls == 'Conv2D':
                if c.get('data_format', 'channels_last') != 'channels_last' or list(c['dilation_rate']) != [1, 1]:
                    raise SystemExit(f'{name}: unsupported conv options')
                kern = t(w[f'{name}/kernel'].transpose(3, 2, 0, 1))  # [kh,kw,in,out] -> [out,in,kh,kw]
                bias = t(w[f'{name}/bias']) if c['use_bias'] else torch.zeros(kern.shape[0], dtype=dtype)
                self.layers.append({'kind': 'conv', 'name': name, 'w': kern, 'b': bias, 'strides': c['strides'],
                                    'padding': c['padding'], 'relu': act == 'relu'})
            elif cls == 'MaxPooling2D':
                self.layers.append({'kind': 'pool', 'name': name, 'k': c['pool_size'],
                                    's': c['strides'] or c['pool_size'], 'padding': c['padding']})
            elif cls == 'Flatten':
                self.layers.append({'kind': 'flatten', 'name': name})
            elif cls == 'Dense':
                kern = t(w[f'{name}/kernel'])
                bias = t(w[f'{name}/bias']) if c['use_bias'] else torch.zeros(kern.shape[1], dtype=dtype)
                self.layers.append({'kind': 'dense', 'name': name, 'w': kern, 'b': bias, 'relu': act == 'relu'})
            else:
                raise SystemExit(f'layer {name}: {cls} is not supported by this reference')

    def _conv(self, L, v, absolute):
        if L['padding'] == 'same':
            ph = tf_same_pad(v.shape[2], L['w'].shape[2], L['strides'][0])
            pw = tf_same_pad(v.shape[3], L['w'].shape[3], L['strides'][1])
            v = F.pad(v, (pw[0], pw[1], ph[0], ph[1]))
        if absolute:
            return F.conv2d(v, L['w'].abs(), L['b'].abs(), stride=L['strides'])
        if self.im2col:  # the same convolution summed in another order (a second float32 rounding)
            o, _, kh, kw = L['w'].shape
            cols = F.unfold(v, (kh, kw), stride=L['strides'])  # [N, C*kh*kw, OH*OW]
            oh = (v.shape[2] - kh) // L['strides'][0] + 1
            out = L['w'].reshape(o, -1) @ cols + L['b'][:, None]
            return out.reshape(v.shape[0], o, oh, -1)
        return F.conv2d(v, L['w'], L['b'], stride=L['strides'])

    def _pool_windows(self, L, v):
        if L['padding'] == 'same':
            ph = tf_same_pad(v.shape[2], L['k'][0], L['s'][0])
            pw = tf_same_pad(v.shape[3], L['k'][1], L['s'][1])
            v = F.pad(v, (pw[0], pw[1], ph[0], ph[1]), value=-float('inf'))
        return windows(v, L['k'], L['s'])

    def record(self, x):
        """Masks, routing and logits at x [N,H,W,C]; per image, the decisions within float32 reach:
        (layer, flat index, alternative), the alternative being None for a ReLU (toggle) or the other
        window element for a pool."""
        n = x.shape[0]
        find_kinks = self.dtype == torch.float64
        rec = {'masks': {}, 'choice': {}, 'tied': {}, 'kinks': [[] for _ in range(n)]}
        ties = self.ties_from.record(x.to(torch.float64))['tied'] if self.ties_from is not None else None
        with torch.no_grad():
            v = (x * self.pre_mul + self.pre_add).permute(0, 3, 1, 2)
            s = (x.abs() * self.pre_mul.abs() + self.pre_add.abs()).permute(0, 3, 1, 2) + 1e-7  # sum of |terms|
            for li, L in enumerate(self.layers):
                if L['kind'] in ('conv', 'dense'):
                    if L['kind'] == 'conv':
                        v, s = self._conv(L, v, False), self._conv(L, s, True)
                    else:
                        v, s = v @ L['w'] + L['b'], s @ L['w'].abs() + L['b'].abs()
                    if L['relu']:
                        mask = (v > 0).to(v.dtype)
                        rec['masks'][li] = mask
                        if find_kinks:
                            near = (v.abs() < KINK * s).flatten(1)
                            for i, j in torch.nonzero(near).tolist():
                                rec['kinks'][i].append((li, j, None))
                        v = v * mask
                elif L['kind'] == 'pool':
                    wv, ws = self._pool_windows(L, v), self._pool_windows(L, s)
                    top, at = wv.max(-1, keepdim=True)
                    # exact ties up to rounding: within POOL_TIE of the maximum's sum of |terms|
                    tied = wv >= top - POOL_TIE[self.dtype] * torch.gather(ws, -1, at)
                    exact = tied.sum(-1, keepdim=True) > 1
                    if ties is not None:  # a float32 shadow: exact ties as float64 sees them, else its own max
                        ref = ties[li]
                        tied = torch.where((ref.sum(-1, keepdim=True) > 1), ref, wv == top)
                    near = exact
                    if self.pool_tie != POOL_TIE[self.dtype]:
                        # a near-tie shadow: exact ties (equal in any precision) stay; elsewhere the
                        # elements within pool_tie count as tied, the first (or the last) chosen
                        tied = torch.where(exact, tied, wv >= top - self.pool_tie * torch.gather(ws, -1, at))
                        near = ~exact
                    rec['tied'][li] = tied
                    first = torch.argmax(tied.to(torch.int64) * torch.arange(wv.shape[-1], 0, -1), -1, keepdim=True)
                    last = torch.argmax(tied.to(torch.int64) * torch.arange(1, wv.shape[-1] + 1), -1, keepdim=True)
                    choice = torch.where(near, last, first) if self.tie_last else first
                    rec['choice'][li] = choice
                    # the nearest element below the maximum (not tied), if float32 could see it above
                    below = torch.where(tied, torch.full_like(wv, -float('inf')), wv)
                    alt_v, alt = below.max(-1, keepdim=True)
                    s_top = torch.gather(ws, -1, choice)
                    s_alt = torch.gather(ws, -1, alt)
                    if find_kinks:
                        near = (top - alt_v < KINK * torch.maximum(s_top, s_alt)).squeeze(-1).flatten(1)
                        alt_flat = alt.squeeze(-1).flatten(1)
                        for i, j in torch.nonzero(near).tolist():
                            rec['kinks'][i].append((li, j, int(alt_flat[i, j])))
                    v = torch.gather(wv, -1, choice).squeeze(-1)
                    s = torch.gather(ws, -1, choice).squeeze(-1)
                elif L['kind'] == 'flatten':
                    v = v.permute(0, 2, 3, 1).reshape(n, -1)  # tfjs flattens NHWC
                    s = s.permute(0, 2, 3, 1).reshape(n, -1)
            rec['logits'], rec['logitTerms'] = v, s
        return rec

    def apply(self, x, rec, flips=None):
        """Logits with rec's masks and routing (flips: per image one kink to take the other way, or None)."""
        n = x.shape[0]
        v = (x * self.pre_mul + self.pre_add).permute(0, 3, 1, 2)
        for li, L in enumerate(self.layers):
            if L['kind'] in ('conv', 'dense'):
                v = self._conv(L, v, False) if L['kind'] == 'conv' else v @ L['w'] + L['b']
                if L['relu']:
                    mask = rec['masks'][li]
                    if flips is not None:
                        mask = mask.clone(memory_format=torch.contiguous_format)
                        flat = mask.view(n, -1)
                        for i, f in enumerate(flips):
                            if f is not None and f[0] == li:
                                flat[i, f[1]] = 1 - flat[i, f[1]]
                    v = v * mask
            elif L['kind'] == 'pool':
                wv = self._pool_windows(L, v)
                choice = rec['choice'][li]
                if flips is not None:
                    choice = choice.clone(memory_format=torch.contiguous_format)
                    flat = choice.view(n, -1)
                    for i, f in enumerate(flips):
                        if f is not None and f[0] == li:
                            flat[i, f[1]] = f[2]
                v = torch.gather(wv, -1, choice).squeeze(-1)
            elif L['kind'] == 'flatten':
                v = v.permute(0, 2, 3, 1).reshape(n, -1)
        return v


# ---------------------------------------------------------------------------------------------
# The attacks


def attack_loss(z, labels, targeted, kind, other=None):
    """Per-example loss to ascend, as src/attacks/loss.ts; `other`: the CW runner-up index [N]."""
    if kind == 'ce':
        ce = -F.log_softmax(z, 1).gather(1, labels[:, None])[:, 0]
        return -ce if targeted else ce
    own = z.gather(1, labels[:, None])[:, 0]
    oth = z.gather(1, other[:, None])[:, 0]
    return own - oth if targeted else oth - own


class Probe:
    """Float64 input gradients, each with a bound on its float32 error; per-image statistics."""

    def __init__(self, net, labels, targeted, kind, bounds=True):
        self.net, self.labels, self.targeted, self.kind, self.bounds = net, labels, targeted, kind, bounds
        n = len(labels)
        self.ambiguous = torch.zeros(n, dtype=torch.int64)  # over all evaluations
        self.sign_margin = torch.full((n,), float('inf'), dtype=torch.float64)  # min |g_i| / bound_i
        self.noise_rel = torch.zeros(n, dtype=torch.float64)  # max ||bound|| / ||g||
        self.kinks = torch.zeros(n, dtype=torch.int64)
        self.ambiguous_evaluations = torch.zeros(n, dtype=torch.int64)
        self.first_ambiguous = None

    def _grad(self, x, rec, flips=None, other=None):
        xg = x.detach().clone().requires_grad_(True)
        z = self.net.apply(xg, rec, flips=flips)
        g, c = torch.autograd.grad(attack_loss(z, self.labels, self.targeted, self.kind, other).sum(), (xg, z))
        return g.flatten(1), c, z.detach()

    def grad(self, x):
        rec = self.net.record(x)
        n = x.shape[0]
        if not self.bounds:  # the float32 shadow: just the gradient
            other = None
            if self.kind == 'cw':
                z = rec['logits'].clone()
                z[torch.arange(n), self.labels] = -float('inf')
                other = z.argmax(1)
            return self._grad(x, rec, other=other)[0].view_as(x)
        kinks = [list(k) for k in rec['kinks']]
        other = None
        if self.kind == 'cw':
            z = rec['logits'].clone()
            z[torch.arange(n), self.labels] = -float('inf')
            top2v, top2 = z.topk(2, 1)
            other = top2[:, 0]
            terms = rec['logitTerms'].gather(1, top2).max(1).values
            for i in torch.nonzero(top2v[:, 0] - top2v[:, 1] < KINK * terms).flatten().tolist():
                kinks[i].append(('cw', None, int(top2[i, 1])))
        g, c, z = self._grad(x, rec, other=other)
        # rounding bound: u * sum_k (a_k + 64 |c_k|) |dz_k/dx_i|
        if self.kind == 'ce':
            logp = F.log_softmax(z, 1)
            p = logp.exp()
            a = p * (1 + logp.abs())
            a[torch.arange(n), p.argmax(1)] += 1
        else:
            a = torch.zeros_like(z)
        weight = a + BACKPROP_TERMS * c.abs()
        xj = x.detach().clone().requires_grad_(True)
        zj = self.net.apply(xj, rec)
        s = torch.zeros_like(g)
        for k in range(zj.shape[1]):
            jk, = torch.autograd.grad(zj[:, k].sum(), xj, retain_graph=k + 1 < zj.shape[1])
            s += weight[:, k:k + 1] * jk.flatten(1).abs()
        rounding = K_SIGN * U * s
        bound = rounding.clone()
        # kinks: recompute with each decision taken the other way (the j-th kink of every image at once)
        for j in range(max((len(k) for k in kinks), default=0)):
            pick = [k[j] if j < len(k) else None for k in kinks]
            flips = [f if f is not None and f[0] != 'cw' else None for f in pick]
            oth = other
            if any(f is not None and f[0] == 'cw' for f in pick):
                oth = other.clone()
                for i, f in enumerate(pick):
                    if f is not None and f[0] == 'cw':
                        oth[i] = f[2]
            g_flip, _, _ = self._grad(x, rec, flips=flips, other=oth)
            bound = bound + (g_flip - g).abs()
        amb = g.abs() < bound
        self.ambiguous_evaluations += amb.any(1).to(torch.int64)
        if self.first_ambiguous is None:
            self.first_ambiguous = amb
        self.ambiguous += amb.sum(1)
        self.kinks += torch.tensor([len(k) for k in kinks])
        nz = bound > 0
        ratio = torch.where(nz, g.abs() / torch.where(nz, bound, torch.ones_like(bound)), torch.full_like(g, float('inf')))
        self.sign_margin = torch.minimum(self.sign_margin, ratio.min(1).values)
        self.noise_rel = torch.maximum(self.noise_rel, bound.norm(dim=1) / g.norm(dim=1).clamp_min(1e-300))
        return g.view_as(x)


def l2(t):
    return t.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


def fgsm(probe, x, eps):
    g = probe.grad(x)
    return (x + eps * torch.sign(g)).clamp(0, 1)


def pgd(probe, x, eps, norm, steps, step):
    xa = x.clone()
    for _ in range(steps):
        g = probe.grad(xa)
        d = torch.sign(g) if norm == 'linf' else g / (l2(g) + 1e-12)
        xn = xa + step * d
        if norm == 'linf':
            xa = torch.minimum(torch.maximum(xn, (x - eps).clamp_min(0)), (x + eps).clamp_max(1))
        else:
            delta = xn - x
            delta = delta * torch.clamp(eps / (l2(delta) + 1e-12), max=1)
            xa = (x + delta).clamp(0, 1)
    return xa


def run_attack(spec, net, x, y, bounds=True):
    o = spec['options']
    targeted = 'target' in o
    labels = (y + 1) % 10 if targeted else y
    kind = o.get('loss', 'ce')
    probe = Probe(net, labels, targeted, kind, bounds)
    if spec['attack'] == 'fgsm':
        xa = fgsm(probe, x, o['eps'])
        ref = {'eps': o['eps'], 'norm': 'linf', 'loss': kind, 'targeted': targeted}
    else:
        norm = 'l2' if spec['attack'] == 'pgd-l2' else 'linf'
        step = o.get('stepSize', 0.01 if norm == 'linf' else o['eps'] / 5)
        xa = pgd(probe, x, o['eps'], norm, o['steps'], step)
        ref = {'eps': o['eps'], 'norm': norm, 'steps': o['steps'], 'stepSize': step, 'loss': kind,
               'targeted': targeted, 'randomStart': False}
    with torch.no_grad():
        z = net.apply(xa, net.record(xa))
    return {'xAdv': xa, 'logits': z, 'probe': probe, 'reference': ref, 'labels': labels}


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--inputs', default=os.path.join(tempfile.gettempdir(), 'advlens-torch-crosscheck-inputs.json'))
    ap.add_argument('--model', default='models/mnist-small-cnn')
    ap.add_argument('--out', default='test/fixtures/torch-attacks.json')
    ap.add_argument('--count', type=int, default=8)
    ap.add_argument('--all', action='store_true', help='keep every candidate, usable or not (diagnosis; large file)')
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    log = lambda msg: print(f'[{time.time() - t0:4.0f} s] {msg}', file=sys.stderr)

    inp = json.load(open(a.inputs))
    imgs = inp['images']
    h, w, c = inp['shape']
    px = np.array([im['pixels'] for im in imgs], dtype=np.uint8).reshape(-1, h, w, c)
    # As the project: p / 255 in double, stored as float32; lifted exactly to float64.
    x = torch.tensor((px.astype(np.float64) / 255).astype(np.float32).astype(np.float64))
    y = torch.tensor([im['label'] for im in imgs], dtype=torch.int64)
    net = Net(a.model)
    shadows = [Net(a.model, torch.float32, ties_from=net), Net(a.model, torch.float32, im2col=True, ties_from=net)]

    z0 = net.record(x)['logits']
    logp = F.log_softmax(z0, 1)
    one_minus_py = -torch.expm1(logp[torch.arange(len(y)), y])
    p32 = F.softmax(z0.to(torch.float32), 1)
    saturated = p32[torch.arange(len(y)), y] == 1

    # 1. Screening, every candidate: the first gradient's signs, and the float32 shadows of every attack.
    first = run_attack(ATTACK_SPECS[0], net, x, y)['probe']
    ok = first.sign_margin >= 1
    stats = {'firstGradientAmbiguous': int((~ok).sum())}
    shadow_delta, shadow_logits = [], []
    for spec in ATTACK_SPECS:
        r = run_attack(spec, net, x, y, bounds=False)
        sd = torch.zeros(len(y), dtype=torch.float64)
        sz = torch.zeros(len(y), dtype=torch.float64)
        for sn in shadows:
            s32 = run_attack(spec, sn, x.to(torch.float32), y, bounds=False)
            sd = torch.maximum(sd, (s32['xAdv'].to(torch.float64) - r['xAdv']).abs().flatten(1).max(1).values)
            sz = torch.maximum(sz, (s32['logits'].to(torch.float64) - r['logits']).abs().max(1).values)
        shadow_delta.append(sd)
        shadow_logits.append(sz)
        stats[f"shadowOff: {spec['name']}"] = int((sd > SHADOW_TOL).sum())
        ok &= sd <= SHADOW_TOL
        log(f"screened {spec['name']}")
    stats['usable'] = int(ok.sum())
    print(f'{len(y)} candidates: {stats}')

    if a.all:
        chosen = list(range(len(y)))
    else:
        chosen, digits = [], set()
        for i in range(len(y)):
            if ok[i] and int(y[i]) not in digits and len(chosen) < a.count:
                chosen.append(i)
                digits.add(int(y[i]))
        if len(chosen) < a.count:
            raise SystemExit(f'only {len(chosen)} usable images of distinct digits among {len(y)} candidates; '
                             'write more candidates with the inputs script (--count)')
    sel = torch.tensor(chosen)

    # 2. The reference on the chosen images, with the float32 error bound at every gradient evaluation.
    r9 = lambda t: [round(float(v), 9) + 0.0 for v in t]  # + 0.0 turns -0.0 into 0.0
    sig = lambda v: float('%.3g' % float(v))
    xs, ys = x[sel], y[sel]
    attacks = []
    for k, spec in enumerate(ATTACK_SPECS):
        r = run_attack(spec, net, xs, ys)
        log(f"reference {spec['name']}")
        opts = dict(spec['options'])
        labels, probe, ref = r['labels'], r['probe'], r['reference']
        if opts.get('target') == 'next':
            opts['target'] = [int(v) for v in labels]
        delta = (r['xAdv'] - xs).flatten(1)
        pred = r['logits'].argmax(1)
        excl = probe.first_ambiguous if spec['attack'] == 'fgsm' else torch.zeros_like(delta, dtype=torch.bool)
        attacks.append({
            'name': spec['name'],
            'attack': spec['attack'],
            'options': opts,
            'reference': ref,
            'delta': [r9(d) for d in delta],
            'logits': [r9(v) for v in r['logits']],
            'success': [bool(v) for v in (pred == labels if ref['targeted'] else pred != labels)],
            'excluded': [[i, int(j)] for i in range(len(chosen)) for j in torch.nonzero(excl[i]).flatten()],
            'conditioning': {
                'signMargin': [sig(v) for v in probe.sign_margin] if ref['norm'] == 'linf' else None,
                'ambiguousEvaluations': [int(v) for v in probe.ambiguous_evaluations],
                'noiseRel': [sig(v) for v in probe.noise_rel],
                'kinks': [int(v) for v in probe.kinks],
                'shadowDelta': [sig(v) for v in shadow_delta[k][sel]],
                'shadowLogits': [sig(v) for v in shadow_logits[k][sel]],
            },
        })

    fixture = {
        'about': 'PyTorch float64 reference for FGSM and PGD on models/mnist-small-cnn, made by bench/torch-crosscheck.py '
                 'and checked by test/attacks/torch-crosscheck.test.ts. delta = xAdv - x per image, flattened HWC.',
        'torch': torch.__version__,
        'numpy': np.__version__,
        'python': sys.version.split()[0],
        'dtype': 'float64',
        'model': a.model,
        'data': inp['data'],
        'pixels': 'uint8 p; x = float32(p / 255)',
        'tolerance': 1e-4,
        'settings': {
            'poolTies': 'gradient to the first maximum in row-major order; values within 1e-12 of the maximum '
                        '(relative to its sum of |terms|) tie',
            'bound': f'float32 error bound per gradient component: {K_SIGN} u s_i + sum |g_flip - g|_i, u = 2^-24, '
                     f's_i = sum_k (a_k + {BACKPROP_TERMS:g} |dL/dz_k|) |dz_k/dx_i| (a: float32 softmax rounding), '
                     f'g_flip: the gradient with one decision (ReLU, pool or CW runner-up) closer than {KINK:.3g} '
                     'of its sum of |terms| taken the other way; a component below its bound is ambiguous',
            'signMargin': 'min over the evaluations and components of |g_i| / bound_i (>= 1: every sign settled)',
            'ambiguousEvaluations': 'gradient evaluations with at least one ambiguous component',
            'noiseRel': 'max over the evaluations of ||bound|| / ||g||',
            'shadow': 'the attack rerun in float32 torch twice (direct and im2col convolutions, exact ties as float64 '
                      'sees them); shadowDelta / shadowLogits: max |difference| from the float64 run',
            'shadowTolerance': SHADOW_TOL,
            'selection': 'in index order, the first candidate of each digit not yet taken whose first gradient has '
                         'signMargin >= 1 and whose float32 shadows stay within shadowTolerance in every attack',
        },
        'candidates': {
            'count': len(y),
            'float32Saturated': int(saturated.sum()),
            'oneMinusPyBelow1e-5': int((one_minus_py < 1e-5).sum()),
            **stats,
        },
        'images': {
            'indices': [imgs[i]['index'] for i in chosen],
            'labels': [int(y[i]) for i in chosen],
            'pixels': [imgs[i]['pixels'] for i in chosen],
            'oneMinusPy': [sig(one_minus_py[i]) for i in chosen],
        },
        'clean': {'logits': [r9(v) for v in z0[sel]]},
        'attacks': attacks,
    }
    os.makedirs(os.path.dirname(a.out) or '.', exist_ok=True)
    with open(a.out, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
        f.write('\n')
    print(f'chose {fixture["images"]["indices"]} (digits {fixture["images"]["labels"]}); '
          f'wrote {a.out} ({os.path.getsize(a.out)} bytes) in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
