#!/usr/bin/python3
"""Where does an advlens APGD L-inf run leave the float64 reference, and why? (The evidence for the
cross-check's stability rule in bench/apgd-crosscheck.py.)

  node --import tsx bench/apgd-trace.ts /tmp/ts.json                      # advlens, every iterate
  /usr/bin/python3 bench/apgd-divergence.py reference /tmp/ts.json /tmp/ref.json --inputs /tmp/apgd-inputs.json
  /usr/bin/python3 bench/apgd-divergence.py compare /tmp/ts.json /tmp/ref.json
  node --import tsx bench/apgd-taps.ts /tmp/ts.json ROW ITERATE /tmp/taps.json
  /usr/bin/python3 bench/apgd-divergence.py ties /tmp/ts.json ROW ITERATE /tmp/taps.json

`reference` runs bench/apgd-crosscheck.py's apgd_run in float64 on the same images, start and loss,
recording every iterate and gradient; `compare` prints, per image, the first iterate more than 1e-5
away, the gradient components whose sign differs just before it and the final distance; `ties` takes
advlens's iterate ITERATE of trace row ROW, rebuilds the float64 activations at that point, and lists
the max-pool windows whose largest element (where the gradient goes) float32 tfjs and float64 disagree
on, with both sets of values.
"""
import argparse
import importlib.util
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('apgd_crosscheck', os.path.join(HERE, 'apgd-crosscheck.py'))
ac = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ac)


def reference(a):
    ts = json.load(open(a.trace))
    inp = json.load(open(a.inputs))
    h, w, c = inp['shape']
    px = np.array([im['pixels'] for im in inp['images']], dtype=np.uint8).reshape(-1, h, w, c)
    x = torch.tensor((px.astype(np.float64) / 255).astype(np.float32).astype(np.float64))
    y = torch.tensor([im['label'] for im in inp['images']], dtype=torch.int64)
    idx = torch.tensor(ts['idx'])
    xs, ys = x[idx], y[idx]
    m = ac.Model(ac.tc.Net(a.model))
    rec = []
    inner = m.loss_grad

    def loss_grad(v, loss):
        z, l, g = inner(v, loss)
        rec.append({'x': v.detach().flatten().tolist(), 'g': g.flatten().tolist(), 'l': l.tolist()})
        return z, l, g

    m.loss_grad = loss_grad
    loss = (lambda z: ac.ce(z, ys)) if ts['loss'] == 'ce' else (lambda z: ac.dlr(z, ys))
    st = ac.start_point(xs, ts['eps'], 'linf', ac.Rng(ts['seed']))
    r = ac.apgd_run(m, xs, ys, loss, st, ts['eps'], 'linf', len(ts['iters']) - 1)
    json.dump({'idx': ts['idx'], 'iters': rec, 'etas': [e.tolist() for e in r['etas']], 'fooled': r['fooled'].tolist(),
               'xBestAdv': r['x_adv'].flatten().tolist(), 'xBest': r['x_best'].flatten().tolist()}, open(a.out, 'w'))


def compare(a):
    ts, ref = json.load(open(a.trace)), json.load(open(a.ref))
    n = len(ts['idx'])
    arr = lambda src, it, key: np.array(src['iters'][it][key]).reshape(n, -1)
    for i in range(n):
        first = next((it for it in range(len(ts['iters']))
                      if np.abs(arr(ts, it, 'x')[i] - arr(ref, it, 'x')[i]).max() > 1e-5), None)
        end = max(np.abs(np.array(ts[k]).reshape(n, -1)[i] - np.array(ref[k]).reshape(n, -1)[i]).max()
                  for k in ('xBestAdv', 'xBest'))
        msg = f"image {ts['idx'][i]}: fooled {ts['fooled'][i]} / {ref['fooled'][i]}, final points up to {end:.3g} apart; "
        if first is None:
            print(msg + 'every iterate within 1e-5')
            continue
        gt, gr = arr(ts, first - 1, 'g')[i], arr(ref, first - 1, 'g')[i]
        flips = np.nonzero(np.sign(gt) != np.sign(gr))[0]
        print(msg + f'first iterate apart: {first} (by {np.abs(arr(ts, first, "x")[i] - arr(ref, first, "x")[i]).max():.3g}); '
              f'gradient signs differing at iterate {first - 1}: ' +
              ', '.join(f'pixel {j} (advlens {gt[j]:.3g}, float64 {gr[j]:.3g})' for j in flips[:4]) +
              f"; losses there {ts['losses'][first - 1][i]:.9g} / {ref['iters'][first - 1]['l'][i]:.9g}")


def ties(a):
    ts, taps = json.load(open(a.trace)), json.load(open(a.taps))
    net = ac.tc.Net(a.model)
    x = torch.tensor(np.array(ts['iters'][a.iterate]['x']).reshape(len(ts['idx']), *ts['shape'])[a.row:a.row + 1])
    rec = net.record(x)
    v = (x * net.pre_mul + net.pre_add).permute(0, 3, 1, 2)
    for li, L in enumerate(net.layers):
        if L['kind'] == 'conv':
            v = net._conv(L, v, False)
            v = v * (v > 0) if L['relu'] else v
        elif L['kind'] == 'pool':
            name = net.layers[li - 1]['name']
            hh, ww, cc = taps['shapes'][name][1:]
            a32 = np.array(taps['acts'][name], dtype=np.float32).reshape(hh, ww, cc)
            a64 = v[0].permute(1, 2, 0).numpy()
            choice = rec['choice'][li][0].squeeze(-1).numpy()
            kh, kw = L['k']
            differ = []
            for r in range(hh // kh):
                for c in range(ww // kw):
                    w32 = a32[kh * r:kh * r + kh, kw * c:kw * c + kw].reshape(kh * kw, cc)
                    for ch in range(cc):
                        if w32[:, ch].max() > 0 and int(w32[:, ch].argmax()) != int(choice[ch, r, c]):
                            differ.append((r, c, ch, w32[:, ch].tolist(),
                                           a64[kh * r:kh * r + kh, kw * c:kw * c + kw, ch].reshape(-1).tolist(),
                                           int(choice[ch, r, c])))
            print(f'{L["name"]} (after {name}): {len(differ)} windows whose gradient float32 sends elsewhere')
            for d in differ[:a.show]:
                print(f'  window ({d[0]}, {d[1]}) channel {d[2]}: float32 {d[3]} (first max {int(np.argmax(d[3]))}), '
                      f'float64 {d[4]} (max {d[5]})')
            v = torch.gather(net._pool_windows(L, v), -1, rec['choice'][li]).squeeze(-1)
        elif L['kind'] == 'flatten':
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('reference')
    p.add_argument('trace')
    p.add_argument('out')
    p.add_argument('--inputs', default='/tmp/apgd-inputs.json')
    p.add_argument('--model', default='models/mnist-small-cnn')
    p = sub.add_parser('compare')
    p.add_argument('trace')
    p.add_argument('ref')
    p = sub.add_parser('ties')
    p.add_argument('trace')
    p.add_argument('row', type=int)
    p.add_argument('iterate', type=int)
    p.add_argument('taps')
    p.add_argument('--model', default='models/mnist-small-cnn')
    p.add_argument('--show', type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    {'reference': reference, 'compare': compare, 'ties': ties}[a.cmd](a)


if __name__ == '__main__':
    main()
