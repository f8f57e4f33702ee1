/**
 * CPU time (process.cpuUsage, user + sys) of the wasm 3x3 'same' convolution by Winograd F(2x2, 3x3)
 * against F(4x4, 3x3) (src/engine/kernels/winograd.c), per layer shape of darknet tiny (batch 8),
 * ResNet-20 (batch 128), cifar-cnn (batch 64) and the MNIST small CNN (batch 64): the forward
 * [n, s, s, c] x [3, 3, c, k], the input gradient's convolution [n, s, s, k] x [3, 3, k, c]
 * (Conv2DBackpropInput runs it) and the filter gradient (`dw`: Conv2DBackpropFilter of x [n, s, s, c]
 * and dy [n, s, s, k]). The two variants alternate call by call (a loaded machine drifts);
 * the median of `--reps` pairs after a warm-up (each the mean of enough calls for about 30 ms), and the ratio F(2) / F(4) (above 1: F(4) faster).
 * The filter-transform cache is off (every call transforms its filter, as in training) unless
 * `--cache`.
 *
 *   node --import tsx bench/wino-tile-cpu.ts [--reps 7] [--only REGEXP] [--cache] [--json]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { forceWinogradTile, setWinogradTransformCache } from '../src/engine/kernels/winograd.ts';

const { values: opt } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    only: { type: 'string' },
    cache: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
await initNodeBackend('wasm');
setWinogradTransformCache(opt.cache);
// [model, batch, size, c, k]
const LAYERS: [string, number, number, number, number][] = [
  ['darknet', 8, 112, 16, 32],
  ['darknet', 8, 56, 16, 128],
  ['darknet', 8, 28, 32, 256],
  ['darknet', 8, 14, 64, 512],
  ['resnet20', 128, 32, 16, 16],
  ['resnet20', 128, 16, 32, 32],
  ['resnet20', 128, 8, 64, 64],
  ['cifar-cnn', 64, 32, 32, 32],
  ['cifar-cnn', 64, 16, 32, 64],
  ['cifar-cnn', 64, 16, 64, 64],
  ['cifar-cnn', 64, 8, 64, 128],
  ['cifar-cnn', 64, 8, 128, 128],
  ['cifar-cnn', 64, 32, 32, 8], // conv1's input gradient (3 channels padded to 8)
  ['mnist', 64, 14, 32, 64],
  ['mnist', 64, 14, 8, 16],
  ['odd', 128, 14, 16, 32],
  ['odd', 64, 10, 32, 64],
  ['odd', 64, 9, 32, 64],
  ['odd', 32, 18, 32, 64],
  ['gap-cnn', 64, 7, 64, 128],
  ['gap-cnn', 64, 7, 128, 128],
  ['small', 8, 7, 64, 64],
  ['small', 8, 4, 64, 64],
  ['small', 8, 5, 32, 32],
];
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const reps = Number(opt.reps);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rows: object[] = [];
for (const [model, n, s, c0, k0] of LAYERS) {
  for (const [c, k, pass] of [
    [c0, k0, 'fwd'],
    [k0, c0, 'dx'],
    [c0, k0, 'dw'],
  ] as const) {
    if (c % 4 !== 0 || k % 8 !== 0) continue;
    const name = `${model} ${n}x${s}x${s}x${c}->${k} ${pass}`;
    if (opt.only && !new RegExp(opt.only).test(name)) continue;
    const x = tf.randomUniform([n, s, s, c], -1, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomUniform([3, 3, c, k], -1, 1, 'float32', 2) as tf.Tensor4D;
    const dy = pass === 'dw' ? (tf.randomUniform([n, s, s, k], -1, 1, 'float32', 3) as tf.Tensor4D) : null;
    // The filter gradient of a training step (Conv2DBackpropFilter), or the convolution.
    const call = () =>
      dy
        ? (tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy },
              { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, c, k] },
            ) as tf.Tensor)
        : tf.conv2d(x, f, 1, 'same');
    const t: Record<2 | 4, number[]> = { 2: [], 4: [] };
    // Calls per measurement: enough for about 30 ms (cpuUsage's clock is coarse for small maps).
    let calls = 1;
    for (let r = -1; r < reps; r++)
      for (const tile of r % 2 === 0 ? ([2, 4] as const) : ([4, 2] as const)) {
        forceWinogradTile(tile);
        const t0 = cpu();
        for (let i = 0; i < calls; i++) call().dispose();
        const dt = (cpu() - t0) / calls;
        if (r >= 0) t[tile].push(dt);
        else calls = Math.max(calls, Math.min(200, Math.ceil(30 / Math.max(dt, 0.05))));
      }
    forceWinogradTile(null);
    tf.dispose([x, f, ...(dy ? [dy] : [])]);
    const [m2, m4] = [median(t[2]), median(t[4])];
    rows.push({ model, n, s, c, k, pass, f2: m2, f4: m4, ratio: m2 / m4 });
    if (!opt.json)
      console.log(
        `${name.padEnd(36)} F2 ${m2.toFixed(1).padStart(7)}  F4 ${m4.toFixed(1).padStart(7)} ms  F2/F4 ${(m2 / m4).toFixed(2)}`,
      );
  }
}
if (opt.json) console.log(JSON.stringify(rows));
