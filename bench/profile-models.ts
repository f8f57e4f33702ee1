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
import { printKernelProfile } from './suite/kernelProfile.ts';
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
    printKernelProfile(
      `${opt.model} ${w.name} (batch ${w.batch})`,
      prof,
      wall,
      Number(opt.top),
      Number(opt.shapes),
    );
  }
} finally {
  set.dispose();
}
