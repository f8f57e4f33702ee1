/**
 * Per 3x3 'same' layer of ResNet-20 (batch 128) and darknet tiny (batch 8): forward (`tf.conv2d`) and
 * input gradient (`conv2dTranspose`, the project's `Conv2DBackpropInput`), median ms of `reps` calls,
 * with the WebAssembly module and / or the native kernels, alternated call by call (the host drifts).
 * The layers of bench/torch-conv-layers.py, whose PyTorch figures they compare with.
 *
 *   npx tsx bench/native-layers.ts [reps] [wasm,native]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { setWinogradNative } from '../src/engine/kernels/winograd.ts';
await initNodeBackend('wasm');
const reps = Number(process.argv[2] ?? 9);
const modes = (process.argv[3] ?? 'wasm,native').split(',');
for (const [n, h, c, k] of [
  [128, 32, 16, 16],
  [128, 16, 32, 32],
  [128, 8, 64, 64],
  [8, 56, 16, 128],
  [8, 14, 64, 512],
]) {
  const x = tf.randomNormal([n, h, h, c]) as tf.Tensor4D,
    w = tf.randomNormal([3, 3, c, k]) as tf.Tensor4D;
  const dy = tf.randomNormal([n, h, h, k]) as tf.Tensor4D;
  // No read-back: the wasm backend runs each op at once, and a fresh output array (8 MB) would time page faults.
  const t: Record<string, number[]> = {};
  for (let r = 0; r < reps; r++)
    for (const m of modes) {
      setWinogradNative(m === 'native');
      for (const [name, f] of [
        ['fwd', () => tf.conv2d(x, w, 1, 'same')],
        ['dx', () => tf.conv2dTranspose(dy, w, [n, h, h, c], 1, 'same')],
      ] as const) {
        const t0 = performance.now();
        const y = (f as any)();
        if (y) {
          y.dispose();
        }
        (t[`${m} ${name}`] ??= []).push(performance.now() - t0);
      }
    }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)].toFixed(2);
  console.log(
    `[${n},${h},${h},${c}]->${k}: ` +
      Object.entries(t)
        .map(([k2, v]) => `${k2} ${med(v)}`)
        .join(', '),
  );
  tf.dispose([x, w, dy]);
}
