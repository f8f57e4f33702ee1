/**
 * CPU time (process.cpuUsage: every thread, the garbage collector's helpers included) of an input
 * gradient (lossGradient) and, for ResNet-20 with `--train`, of a training step (`train()`, SGD
 * momentum, batch 128), under three settings of the Winograd transform cache, alternated call by
 * call in one process (a loaded machine drifts; two timed calls after one untimed): as before 2026-12-06 (16 entries, a new copy per
 * entry), 16 entries reusing dropped entries' arrays, and the default (64 entries, reusing). Prints
 * the medians of `--reps`, the cache hits of one input gradient, and whether the gradients are bit
 * for bit equal across the settings.
 *
 * With `--pgd` the training step is PGD-7 adversarial training instead (L-inf 8/255, 7 steps of 2/255,
 * random start, the attack in inference mode: the bench's pgd7_train).
 *
 *   node --import tsx bench/transform-cache-cpu.ts [--model resnet20|darknet] [--batch 128] [--reps 9] [--train] [--pgd]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { lossGradient } from '../src/attacks/loss.ts';
import {
  setWinogradTransformReuse,
  setWinogradTransformsKept,
  winogradTransformHits,
} from '../src/engine/kernels/winograd.ts';
import { train } from '../src/train/loop.ts';
import { crossEntropyObjective } from '../src/train/objectives/crossEntropy.ts';
import { makeDataset } from '../src/data/dataset.ts';
import { makeObjective } from '../src/train/objectives/index.ts';
import { cifarClassifier, darknetClassifier, modelInputs } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    batch: { type: 'string' },
    reps: { type: 'string', default: '9' },
    train: { type: 'boolean', default: false },
    pgd: { type: 'boolean', default: false },
  },
});
if (opt.model !== 'resnet20' && opt.model !== 'darknet')
  throw new Error(`--model: resnet20 or darknet, not ${opt.model}`);
await initNodeBackend('wasm');
const darknet = opt.model === 'darknet';
const B = Number(opt.batch ?? (darknet ? 8 : 128));
const shape: [number, number, number] = darknet ? [224, 224, 3] : [32, 32, 3];
const here = path.dirname(fileURLToPath(import.meta.url));
const c = darknet
  ? await darknetClassifier(path.join(here, '..', '..', 'shared', 'models', 'darknet-tiny'))
  : cifarClassifier('resnet20', 1);
const inp = modelInputs(shape, B, darknet ? 1000 : 10, 1);
const x = tf.tensor4d(inp.x, [B, ...shape]);
const y = tf.tensor1d(inp.y, 'int32');
const SETTINGS: [string, number, boolean][] = [
  ['16 entries, new copies', 16, false],
  ['16 entries, reused arrays', 16, true],
  ['64 entries, reused arrays', 64, true],
];
const set = ([, kept, reuse]: [string, number, boolean]) => {
  setWinogradTransformsKept(kept);
  setWinogradTransformReuse(reuse);
};
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const grad = () => tf.tidy(() => Float32Array.from(lossGradient(c, x, y, false, 'ce').dataSync()));

// Garbage collections (any kind) seen by the main thread, counted per setting.
let gcs = 0;
new PerformanceObserver((list) => void (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const tick = () => new Promise((r) => setImmediate(r)); // lets the observer's callback run
const times = SETTINGS.map((): number[] => []);
const collections = SETTINGS.map(() => 0);
const grads: Float32Array[] = [];
for (let r = 0; r <= Number(opt.reps); r++) {
  for (const [i, s] of SETTINGS.entries()) {
    set(s);
    grad(); // fills the cache under this setting
    // Two timed calls: the collections that copies set off fall on some calls only.
    await tick();
    const h = winogradTransformHits();
    const g0 = gcs;
    const t0 = cpu();
    const g = grad();
    grad();
    const t = (cpu() - t0) / 2;
    await tick();
    if (r > 0) {
      times[i].push(t);
      collections[i] += gcs - g0;
    } else {
      grads.push(g);
      console.log(`${s[0]}: ${(winogradTransformHits() - h) / 2} transform-cache hits in one input gradient`);
    }
  }
}
const same = grads.every((g) => g.every((v, i) => Object.is(v, grads[0][i])));
console.log(
  `${opt.model} input gradient, batch ${B}, CPU ms per call (garbage collections per call): ${SETTINGS.map((s, i) => `${s[0]} ${median(times[i]).toFixed(0)} (${(collections[i] / times[i].length / 2).toFixed(1)})`).join(', ')}; gradients bit for bit equal: ${same}`,
);

if ((opt.train || opt.pgd) && !darknet) {
  const TB = 128;
  const steps = 3;
  const ti = modelInputs(shape, TB, 10, 2);
  const data = makeDataset({
    name: 'probe',
    source: 'random',
    classNames: c.labels,
    shape,
    pixels: Float32Array.from({ length: ti.x.length * steps }, (_, i) => ti.x[i % ti.x.length]),
    labels: Int32Array.from({ length: TB * steps }, (_, i) => ti.y[i % TB]),
  });
  const options = {
    epochs: 1,
    seed: 1,
    optimizer: 'sgd',
    lr: 0.01,
    momentum: 0.9,
    schedule: { kind: 'constant' },
    augment: [],
    objective: opt.pgd
      ? makeObjective('pgd', { eps: 8 / 255, attackSteps: 7, attackStepSize: 2 / 255, epsRamp: [0, 0] })
      : crossEntropyObjective(),
    batchSize: TB,
  } as unknown as Parameters<typeof train>[2];
  const steptimes = SETTINGS.map((): number[] => []);
  for (let r = 0; r <= Number(opt.reps); r++) {
    for (const [i, s] of SETTINGS.entries()) {
      set(s);
      const t0 = cpu();
      await train(c, data, options);
      if (r > 0) steptimes[i].push((cpu() - t0) / steps);
    }
  }
  console.log(
    `resnet20 ${opt.pgd ? 'PGD-7 ' : ''}train step, batch ${TB}, CPU ms per step: ${SETTINGS.map((s, i) => `${s[0]} ${median(steptimes[i]).toFixed(0)}`).join(', ')}`,
  );
}
set(SETTINGS[2]);
tf.dispose([x, y]);
