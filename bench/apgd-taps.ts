/**
 * The convolutions' outputs (after ReLU) at one iterate of a bench/apgd-trace.ts trace, for
 * bench/apgd-divergence.py's `ties` (which max-pool windows float32 routes differently from float64).
 *
 *   node --import tsx bench/apgd-taps.ts TRACE.json ROW ITERATE OUT.json [--backend wasm|cpu]
 *        [--model models/mnist-small-cnn]
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { loadClassifier } from '../src/node/models.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args.splice(at, 2)[1] : def;
};
const backend = opt('backend', 'wasm');
const modelDir = opt('model', 'models/mnist-small-cnn');
const [traceFile, rowS, itS, out] = args;
if (!out) throw new Error('usage: apgd-taps.ts TRACE.json ROW ITERATE OUT.json [--backend wasm|cpu]');
await initNodeBackend(backend as 'wasm');
const model = await loadClassifier(modelDir);
const tr = JSON.parse(fs.readFileSync(traceFile, 'utf8'));
const [h, w, c] = model.inputShape;
const per = h * w * c;
const row = Number(rowS);
const x = tf.tensor4d(tr.iters[Number(itS)].x.slice(row * per, (row + 1) * per), [1, h, w, c]);
const convs = model.layerNames().filter((s) => s.startsWith('conv'));
const r = model.taps(x, convs);
fs.writeFileSync(
  out,
  JSON.stringify({
    backend,
    acts: Object.fromEntries(convs.map((k) => [k, Array.from(r.activations[k].dataSync())])),
    shapes: Object.fromEntries(convs.map((k) => [k, r.activations[k].shape])),
  }),
);
tf.dispose([x, r.logits, ...Object.values(r.activations)]);
