/**
 * CPU time per training step through the real training loop (`train()`), for comparing kernel work
 * on a loaded machine: process.cpuUsage (user + sys) is read at every step's progress callback, the
 * first `--warm` steps are dropped, and the median and mean of the rest are printed (ms per step).
 * Workloads: the CIFAR-10 zoo's cifar-cnn recipe at batch 64 (SGD lr 0.05, momentum 0.9, weight
 * decay 5e-4) with objective `normal` or `fgsm-rs` (the zoo's pgd-linf inner attack: one FGSM step of
 * 1.25 eps from a random start, eps 8/255, no ramp), and ResNet-20 at batch 128 (SGD lr 0.1, momentum
 * 0.9) with `normal`. Inputs: x uniform in [0, 1] (seeded), labels (i * 7919) mod 10, no augmentation.
 *
 *   node --import tsx bench/step-cpu.ts [--arch cifar-cnn|resnet20] [--method normal|fgsm-rs]
 *                                       [--batch 64] [--steps 12] [--warm 2] [--json]
 *                                       [--cpuprof out.cpuprofile] [--losses]
 *
 * --losses: also print the running loss after every step (to compare two kernel paths).
 * --cpuprof: a V8 CPU profile of the steps after the warm-up (node:inspector), for chrome://inspect.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { train } from '../src/train/loop.ts';
import { crossEntropyObjective } from '../src/train/objectives/crossEntropy.ts';
import { makeObjective } from '../src/train/objectives/index.ts';
import { makeDataset } from '../src/data/dataset.ts';
import { cifarClassifier, modelInputs } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    arch: { type: 'string', default: 'cifar-cnn' },
    method: { type: 'string', default: 'normal' },
    batch: { type: 'string' },
    steps: { type: 'string', default: '12' },
    warm: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    losses: { type: 'boolean', default: false },
    cpuprof: { type: 'string' },
  },
});
const arch = opt.arch as 'cifar-cnn' | 'resnet20';
const B = Number(opt.batch ?? (arch === 'resnet20' ? 128 : 64));
const steps = Number(opt.steps);
const warm = Number(opt.warm);

await initNodeBackend('wasm');
const c = cifarClassifier(arch, 1);
const inp = modelInputs([32, 32, 3], B * steps, 10, 1);
const data = makeDataset({
  name: 'bench-random',
  source: 'tf.randomUniform',
  classNames: c.labels,
  shape: [32, 32, 3],
  pixels: inp.x,
  labels: inp.y,
});
const objective =
  opt.method === 'fgsm-rs'
    ? makeObjective('pgd', {
        norm: 'linf',
        eps: 8 / 255,
        attackSteps: 1,
        attackStepSize: 10 / 255,
        epsRamp: [0, 0],
      })
    : crossEntropyObjective();
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const session = opt.cpuprof ? new Session() : null;
session?.connect();
await session?.post('Profiler.enable');
const marks: number[] = [];
const losses: number[] = [];
let t0 = cpu();
await train(c, data, {
  epochs: 1,
  seed: 1,
  optimizer: 'sgd',
  lr: arch === 'cifar-cnn' ? 0.05 : 0.1,
  momentum: 0.9,
  ...(arch === 'cifar-cnn' ? { weightDecay: 5e-4 } : {}),
  schedule: { kind: 'constant' },
  augment: [],
  objective,
  batchSize: B,
  onProgress: (p) => {
    const t = cpu();
    marks.push(t - t0);
    losses.push(p.loss);
    if (opt.losses) console.log(`step ${marks.length}: running loss ${p.loss}`);
    if (session && marks.length === warm) void session.post('Profiler.start');
    t0 = cpu();
  },
});
if (session && opt.cpuprof) {
  const { profile } = await session.post('Profiler.stop');
  fs.writeFileSync(opt.cpuprof, JSON.stringify(profile));
}
c.model.dispose();
const kept = marks.slice(warm).sort((a, b) => a - b);
const median = kept[Math.floor(kept.length / 2)];
const mean = kept.reduce((s, v) => s + v, 0) / kept.length;
const out = {
  arch,
  method: opt.method,
  batch: B,
  steps: kept.length,
  medianMs: median,
  meanMs: mean,
  loss: losses.at(-1),
};
if (opt.json) console.log(JSON.stringify(out));
else
  console.log(
    `${arch} ${opt.method} batch ${B}: CPU ms/step median ${median.toFixed(1)}, mean ${mean.toFixed(1)} (${kept.length} steps; last running loss ${losses.at(-1)})`,
  );
