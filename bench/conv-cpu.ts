/**
 * CPU time (process.cpuUsage, user + sys) of the wasm convolution kernels on the shapes of the
 * CIFAR-10 zoo's cifar-cnn (batch 64) and ResNet-20 (batch 128): Conv2D (forward), Conv2DBackpropInput
 * and Conv2DBackpropFilter of each 3x3 'same' layer, median of `--reps` calls after a warm-up.
 *
 *   node --import tsx bench/conv-cpu.ts [--reps 7] [--only 8x8x128]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';

const { values: opt } = parseArgs({
  options: { reps: { type: 'string', default: '7' }, only: { type: 'string' } },
});
await initNodeBackend('wasm');
// [batch, size, c, k]
const LAYERS: [number, number, number, number][] = [
  [64, 32, 3, 32],
  [64, 32, 32, 32],
  [64, 16, 32, 64],
  [64, 16, 64, 64],
  [64, 8, 64, 128],
  [64, 8, 128, 128],
  [128, 32, 16, 16],
  [128, 16, 32, 32],
  [128, 8, 64, 64],
];
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const reps = Number(opt.reps);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
let total = 0;
for (const [n, s, c, k] of LAYERS) {
  const name = `${n}x${s}x${s}x${c}->${k}`;
  if (opt.only && !name.includes(opt.only)) continue;
  const x = tf.randomUniform([n, s, s, c], -1, 1, 'float32', 1) as tf.Tensor4D;
  const f = tf.randomUniform([3, 3, c, k], -1, 1, 'float32', 2) as tf.Tensor4D;
  const dy = tf.randomUniform([n, s, s, k], -1, 1, 'float32', 3) as tf.Tensor4D;
  const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  const passes: [string, () => tf.Tensor][] = [
    ['fwd', () => tf.conv2d(x, f, 1, 'same')],
    [
      'dx',
      () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, {
          ...conv,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
    ],
    [
      'dw',
      () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
          ...conv,
          filterShape: f.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
    ],
  ];
  const row: string[] = [];
  for (const [p, run] of passes) {
    run().dispose();
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = cpu();
      run().dispose();
      t.push(cpu() - t0);
    }
    total += median(t);
    row.push(`${p} ${median(t).toFixed(1).padStart(6)}`);
  }
  console.log(`${name.padEnd(22)} ${row.join('  ')}`);
  tf.dispose([x, f, dy]);
}
console.log(`total ${total.toFixed(1)} ms`);
