/**
 * Time per kernel of one training objective's loss and weight gradients on cifar-cnn (the CIFAR-10
 * zoo's architecture, seeded, batch 64, x uniform in [0, 1]), past any eps ramp, through tf.profile:
 * where a method's step goes (IG-Norm's second-order passes, TRADES' KL, ...). One warm-up step.
 *
 *   npx tsx bench/profile-objective.ts [--method ig-norm] [--eps 8/255] [--batch 64] [--top 15] [--shapes 10]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
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
const byName = new Map<string, [number, number]>();
const byShape = new Map<string, [number, number]>();
for (const k of prof.kernels) {
  const ms = k.kernelTimeMs as number;
  const a = byName.get(k.name) ?? [0, 0];
  byName.set(k.name, [a[0] + ms, a[1] + 1]);
  const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}`;
  const b = byShape.get(key) ?? [0, 0];
  byShape.set(key, [b[0] + ms, b[1] + 1]);
}
const total = [...byName.values()].reduce((t, [ms]) => t + ms, 0);
console.log(
  `${opt.method} step on cifar-cnn (batch ${n}): wall ${wall.toFixed(0)} ms, kernels ${total.toFixed(0)} ms`,
);
for (const [k, [ms, cnt]] of [...byName].sort((p, q) => q[1][0] - p[1][0]).slice(0, Number(opt.top)))
  console.log(
    `  ${k.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  (${cnt} calls)`,
  );
console.log('  top (kernel, input shapes):');
for (const [k, [ms, cnt]] of [...byShape].sort((p, q) => q[1][0] - p[1][0]).slice(0, Number(opt.shapes)))
  console.log(`    ${ms.toFixed(0).padStart(7)} ms  ${k}  (${cnt} calls)`);
tf.dispose([x, y]);
c.model.dispose();
