/**
 * The native kernels (src/engine/kernels/native.ts) against the WebAssembly module on the real-size
 * models, alternated call by call in one process (the host drifts): forward and input gradient,
 * median ms per call of each, and how many output values differ (0 expected: same bits).
 *
 *   npx tsx bench/native-ab.ts [resnet20|darknet] [reps]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { setWinogradNative, winogradNative } from '../src/engine/kernels/winograd.ts';
import { nativeStatus } from '../src/engine/kernels/native.ts';
import { resnet20Classifier, darknetClassifier, modelInputs } from './suite/models.ts';
import { lossGradient } from '../src/attacks/loss.ts';
await initNodeBackend('wasm');
const which = process.argv[2] ?? 'resnet20';
const reps = Number(process.argv[3] ?? 4);
const c =
  which === 'darknet' ? await darknetClassifier('../shared/models/darknet-tiny') : resnet20Classifier(1);
const shape = c.inputShape as [number, number, number];
const B = which === 'darknet' ? 8 : 128;
const inp = modelInputs(shape, B, c.labels.length, 1);
const x = tf.tensor4d(inp.x, [B, ...shape]);
const y = tf.tensor1d(inp.y, 'int32');
const work: Record<string, () => Float32Array> = {
  forward: () => tf.tidy(() => c.logits(x).dataSync() as Float32Array),
  input_grad: () => {
    const g = lossGradient(c, x, y, false, 'ce');
    const d = g.dataSync() as Float32Array;
    g.dispose();
    return d;
  },
};
console.log(JSON.stringify(nativeStatus()));
for (const [name, f] of Object.entries(work)) {
  const t: Record<string, number[]> = { wasm: [], native: [] };
  const out: Record<string, Float32Array> = {};
  for (let r = 0; r < reps; r++)
    for (const mode of ['wasm', 'native']) {
      setWinogradNative(mode === 'native');
      if ((mode === 'native') !== winogradNative()) throw new Error('switch failed');
      const t0 = performance.now();
      out[mode] = f();
      t[mode].push(performance.now() - t0);
    }
  const a = new Uint32Array(out.wasm.buffer, out.wasm.byteOffset, out.wasm.length),
    b = new Uint32Array(out.native.buffer, out.native.byteOffset, out.native.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
  const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)].toFixed(1);
  console.log(
    `${which} ${name}: wasm ${med(t.wasm)} ms, native ${med(t.native)} ms (${t.wasm.map((v) => v.toFixed(0))} | ${t.native.map((v) => v.toFixed(0))}); ${diff} of ${a.length} values differ`,
  );
}
