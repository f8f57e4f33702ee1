/**
 * Time per kernel of the real-size workloads (bench/suite/models.ts), one call each after a warm-up,
 * through tf.profile: the kernels by total time with their number of calls, and with `--shapes` the
 * top (kernel, input shapes) pairs. Kernels run inside other kernels count in both.
 *
 *   npx tsx bench/profile-models.ts [--model darknet|resnet20|cifar-cnn] [--workloads input_grad,train_step]
 *                                   [--top 12] [--shapes 8] [--quick]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { MODELS_FULL, MODELS_QUICK, modelWorkloads, type ModelName } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    workloads: { type: 'string' },
    top: { type: 'string', default: '12' },
    shapes: { type: 'string', default: '8' },
    quick: { type: 'boolean', default: false },
  },
});
const DARKNET = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'shared',
  'models',
  'darknet-tiny',
);
await initNodeBackend('wasm');
const set = await modelWorkloads(
  opt.model as ModelName,
  opt.quick ? MODELS_QUICK : MODELS_FULL,
  1,
  DARKNET,
  !opt.quick,
);
if ('skipped' in set) throw new Error(set.skipped);
const only = opt.workloads?.split(',');
try {
  for (const w of set.workloads) {
    if (only && !only.includes(w.name)) continue;
    await w.run(); // warm-up
    const t0 = performance.now();
    const prof = await tf.profile(async () => void (await w.run()));
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
    const rows = [...byName].sort((p, q) => q[1][0] - p[1][0]).slice(0, Number(opt.top));
    console.log(
      `${opt.model} ${w.name} (batch ${w.batch}): wall ${wall.toFixed(0)} ms, kernels ${total.toFixed(0)} ms`,
    );
    for (const [k, [ms, n]] of rows)
      console.log(
        `  ${k.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  (${n} calls)`,
      );
    console.log('  top (kernel, input shapes):');
    for (const [k, [ms, n]] of [...byShape].sort((p, q) => q[1][0] - p[1][0]).slice(0, Number(opt.shapes)))
      console.log(`    ${ms.toFixed(0).padStart(7)} ms  ${k}  (${n} calls)`);
  }
} finally {
  set.dispose();
}
