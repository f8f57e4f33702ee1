/**
 * Time per kernel of one training objective's loss and weight gradients on cifar-cnn (the CIFAR-10
 * zoo's architecture, seeded, batch 64, x uniform in [0, 1]), past any eps ramp, through tf.profile:
 * where a method's step goes (IG-Norm's second-order passes, TRADES' KL, ...). One warm-up step.
 *
 *   npx tsx bench/profile-objective.ts [--method ig-norm] [--eps 8/255] [--batch 64] [--top 15] [--shapes 10]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { printKernelProfile } from './suite/kernelProfile.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { makeObjective } from '../src/train/objectives/index.ts';
import { createRng } from '../src/engine/rng.ts';
import { cifarClassifier } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    method: { type: 'string', default: 'ig-norm' },
    eps: { type: 'string', default: '8/255' },
    batch: { type: 'string', default: '64' },
    top: { type: 'string', default: '15' },
    shapes: { type: 'string', default: '10' },
  },
});
const frac = (s: string) => (s.includes('/') ? Number(s.split('/')[0]) / Number(s.split('/')[1]) : Number(s));
await initNodeBackend('wasm');
const c = cifarClassifier('cifar-cnn', 1);
const n = Number(opt.batch);
const eps = frac(opt.eps);
const objective = makeObjective(opt.method, { eps, attackSteps: 1, attackStepSize: (eps * 10) / 8 });
const x = tf.randomUniform([n, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const y = tf.tensor1d(
  Array.from({ length: n }, (_, i) => (i * 7) % 10),
  'float32',
);
const rng = createRng(1);
const step = () =>
  tf.tidy(() => {
    const ctx = { classifier: c, x, y, step: 1000, totalSteps: 1000, epoch: 0, rng };
    const xAdv = objective.inner?.(ctx);
    const { grads } = tf.variableGrads(() => objective.loss({ ...ctx, xAdv: xAdv ?? undefined }).loss);
    return Object.values(grads).map((g) => tf.sum(g));
  });
tf.dispose(step());
const t0 = performance.now();
const prof = await tf.profile(() => tf.dispose(step()));
const wall = performance.now() - t0;
printKernelProfile(
  `${opt.method} step on cifar-cnn (batch ${n})`,
  prof,
  wall,
  Number(opt.top),
  Number(opt.shapes),
);
tf.dispose([x, y]);
c.model.dispose();
