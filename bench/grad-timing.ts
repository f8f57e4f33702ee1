/**
 * Rough timing of the gradient passes of the small CNN (batch 64, 28x28x1, 10 classes) on wasm (with
 * the project's kernels) and on cpu: the weight gradients of the mean cross-entropy (a training
 * step without the optimizer update) and the input gradient (an attack step). Also prints, for wasm,
 * the time per kernel of one training gradient pass (tf.profile).
 *
 *   npx tsx bench/grad-timing.ts [--arch small-cnn] [--batch 64] [--reps 10] [--backends wasm,cpu] [--stock]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { buildArchitecture, architecture } from '../src/models/architectures/index.ts';
import { restoreStockWasmKernels } from '../src/engine/kernels/index.ts';

const { values: opt } = parseArgs({
  options: {
    arch: { type: 'string', default: 'small-cnn' },
    batch: { type: 'string', default: '64' },
    reps: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'wasm,cpu' },
    stock: { type: 'boolean', default: false },
  },
});
const arch = architecture(opt.arch);
const shape = arch.defaultInput;
const n = Number(opt.batch);
const reps = Number(opt.reps);

await initNodeBackend('wasm');
// --stock: the stock wasm kernels only (no weight gradients there: Conv2DBackpropFilter is missing).
if (opt.stock) restoreStockWasmKernels();

function setup() {
  const m: tfl.LayersModel = buildArchitecture(arch.name, shape, 10, 1);
  const x = tf.randomUniform([n, ...shape], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  const vars = m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const loss = (v: tf.Tensor4D, training: boolean) =>
    tf.losses.softmaxCrossEntropy(y, m.apply(v, { training }) as tf.Tensor) as tf.Scalar;
  const weightGrads = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(x, true), vars);
      return [value, ...Object.values(grads)];
    });
  const inputGrad = () => tf.tidy(() => [tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D, false))(x)]);
  return { m, x, y, weightGrads, inputGrad };
}

/** Median and minimum of `reps` timed runs, after one warm-up run. */
function time(f: () => tf.Tensor[]): { median: number; min: number } {
  tf.dispose(f()); // warm-up (operator creation, weight packing)
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = f();
    for (const o of out) o.dataSync();
    t.push(performance.now() - t0);
    tf.dispose(out);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0] };
}

for (const backend of opt.backends.split(',')) {
  await tf.setBackend(backend);
  const s = setup();
  const canTrain = backend !== 'wasm' || tf.getKernel('Conv2DBackpropFilter', 'wasm') != null;
  const wg = canTrain ? time(s.weightGrads) : null;
  let ig: { median: number; min: number } | string;
  try {
    ig = time(s.inputGrad);
  } catch (e) {
    ig = `fails: ${(e as Error).message.split('\n')[0]}`; // stock wasm, models with fused convs
  }
  const label = backend === 'wasm' && opt.stock ? 'wasm (stock kernels)' : backend;
  const ms = (t: { median: number; min: number }) => `${t.median.toFixed(0)} ms (min ${t.min.toFixed(0)})`;
  console.log(
    `${label} ${arch.name} batch ${n} ${shape.join('x')}: weight grads ${wg ? ms(wg) : 'n/a (Conv2DBackpropFilter missing)'}, input grad ${typeof ig === 'string' ? ig : ms(ig)}; median of ${reps}`,
  );
  if (backend === 'wasm' && canTrain) {
    const prof = await tf.profile(() => tf.dispose(s.weightGrads()));
    const per = new Map<string, number>();
    for (const k of prof.kernels) per.set(k.name, (per.get(k.name) ?? 0) + (k.kernelTimeMs as number));
    const rows = [...per].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(
      '   per kernel (one weight-grad pass, profiled): ' +
        rows.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '),
    );
  }
  tf.dispose([s.x, s.y]);
  s.m.dispose();
}
