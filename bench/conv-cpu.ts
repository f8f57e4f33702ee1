/**
 * CPU time (process.cpuUsage, user + sys) of the wasm convolution kernels on the shapes of the
 * CIFAR-10 zoo's cifar-cnn (batch 64) and ResNet-20 (batch 128), or with `--set darknet` of darknet
 * tiny's 3x3 layers (batch 8, 224x224 input): Conv2D (forward), Conv2DBackpropInput and
 * Conv2DBackpropFilter of each 3x3 'same' layer, median of `--reps` calls after a warm-up, with the
 * rate in direct-convolution GMAC/s (n*s*s*c*k*9 multiply-adds per call, whatever the algorithm).
 *
 *   node --import tsx bench/conv-cpu.ts [--reps 7] [--only 8x8x128] [--set cifar|darknet] [--passes fwd,dx]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';

const { values: opt } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    only: { type: 'string' },
    set: { type: 'string', default: 'cifar' },
    passes: { type: 'string', default: 'fwd,dx,dw' },
  },
});
await initNodeBackend('wasm');
// [batch, size, c, k]
const CIFAR: [number, number, number, number][] = [
  [64, 32, 3, 32],
  [64, 32, 32, 32],
  [64, 16, 32, 64],
  [64, 16, 64, 64],
  [64, 8, 64, 128],
  [64, 8, 128, 128],
  [128, 32, 3, 16],
  [128, 32, 16, 16],
  [128, 16, 32, 32],
  [128, 8, 64, 64],
];
// darknet tiny's 3x3 convolutions at batch 8 (224x224 input; max pooling between them)
const DARKNET: [number, number, number, number][] = [
  [8, 224, 3, 16],
  [8, 112, 16, 32],
  [8, 56, 32, 16],
  [8, 56, 16, 128],
  [8, 28, 32, 256],
  [8, 14, 64, 512],
];
if (opt.set !== 'cifar' && opt.set !== 'darknet') throw new Error(`--set: cifar or darknet, not ${opt.set}`);
const LAYERS = opt.set === 'darknet' ? DARKNET : CIFAR;
const wanted = new Set(opt.passes.split(','));
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
    if (!wanted.has(p)) continue;
    run().dispose();
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = cpu();
      run().dispose();
      t.push(cpu() - t0);
    }
    total += median(t);
    const gmacs = (n * s * s * c * k * 9) / 1e6 / median(t);
    row.push(`${p} ${median(t).toFixed(1).padStart(6)} ms ${gmacs.toFixed(1).padStart(5)} GMAC/s`);
  }
  console.log(`${name.padEnd(22)} ${row.join('  ')}`);
  tf.dispose([x, f, dy]);
}
console.log(`total ${total.toFixed(1)} ms`);
