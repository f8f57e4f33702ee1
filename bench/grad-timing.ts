/**
 * Rough timing of the gradient passes of a model (default the small CNN, batch 64, 28x28x1, 10
 * classes) on wasm (with the project's kernels) and on cpu: the weight gradients of the mean
 * cross-entropy (a training step without the optimizer update), a full Adam training step, and the
 * input gradient (an attack step). For wasm it also prints the time per kernel of each pass
 * (tf.profile; `--top N` kernels with their number of calls, medians of `--profiles P` runs).
 *
 *   npx tsx bench/grad-timing.ts [--arch small-cnn] [--batch 64] [--reps 10] [--backends wasm,cpu]
 *                                [--stock] [--top 10] [--profiles 5] [--compare Sum,Identity]
 *
 * --stock: the stock wasm kernels only. --compare K1,K2: wasm only; alternates, rep by rep, between
 * the project's kernels and the stock versions of K1, K2 (restored by `restoreStockWasmKernels`), so
 * that both are timed under the same machine load, and prints the medians of each.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { buildArchitecture, architecture } from '../src/models/architectures/index.ts';
import { registerWasmKernels, restoreStockWasmKernels } from '../src/engine/kernels/index.ts';

const { values: opt } = parseArgs({
  options: {
    arch: { type: 'string', default: 'small-cnn' },
    batch: { type: 'string', default: '64' },
    reps: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'wasm,cpu' },
    stock: { type: 'boolean', default: false },
    top: { type: 'string', default: '10' },
    profiles: { type: 'string', default: '5' },
    compare: { type: 'string' },
  },
});
const arch = architecture(opt.arch);
const shape = arch.defaultInput;
const n = Number(opt.batch);
const reps = Number(opt.reps);

await initNodeBackend('wasm');
// --stock: the stock wasm kernels only (no weight gradients there: Conv2DBackpropFilter is missing).
if (opt.stock) restoreStockWasmKernels();

type Pass = () => tf.Tensor[];

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
  const weightGrads: Pass = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(x, true), vars);
      return [value, ...Object.values(grads)];
    });
  // A tiny learning rate: the weights stay (almost) where they are, so every step costs the same.
  const adam = tf.train.adam(1e-9);
  const trainStep: Pass = () => [adam.minimize(() => loss(x, true), true, vars) as tf.Scalar];
  const inputGrad: Pass = () => tf.tidy(() => [tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D, false))(x)]);
  const dispose = () => {
    tf.dispose([x, y]);
    adam.dispose();
    m.dispose();
  };
  return { weightGrads, trainStep, inputGrad, dispose };
}

/** One timed run of `f` (ms), outputs read back and disposed. */
function once(f: Pass): number {
  const t0 = performance.now();
  const out = f();
  for (const o of out) o.dataSync();
  const t = performance.now() - t0;
  tf.dispose(out);
  return t;
}

const median = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];

/** Median and minimum of `reps` timed runs, after one warm-up run. */
function time(f: Pass): { median: number; min: number } {
  once(f); // warm-up (operator creation, weight packing)
  const t = Array.from({ length: reps }, () => once(f));
  return { median: median(t), min: Math.min(...t) };
}

/**
 * Time per kernel (ms) and number of calls in a profiled run of `f`: per kernel, the median over
 * `--profiles` runs (one run is at the mercy of the machine's load).
 */
async function profile(f: Pass): Promise<string> {
  const runs: Map<string, [number, number]>[] = [];
  for (let i = 0; i < Number(opt.profiles); i++) {
    const prof = await tf.profile(() => tf.dispose(f()));
    const per = new Map<string, [number, number]>();
    for (const k of prof.kernels) {
      const [ms, calls] = per.get(k.name) ?? [0, 0];
      per.set(k.name, [ms + (k.kernelTimeMs as number), calls + 1]);
    }
    runs.push(per);
  }
  const names = new Set(runs.flatMap((r) => [...r.keys()]));
  const rows = [...names].map((k) => {
    const ms = median(runs.map((r) => r.get(k)?.[0] ?? 0));
    return [k, ms, runs[0].get(k)?.[1] ?? 0] as const;
  });
  rows.sort((a, b) => b[1] - a[1]);
  // Kernels run inside kernels (the engine's clones of saved tensors) count twice in the total.
  const total = rows.reduce((a, [, ms]) => a + ms, 0);
  const top = rows.slice(0, Number(opt.top));
  return `total ${total.toFixed(1)}: ` + top.map(([k, ms, c]) => `${k} ${ms.toFixed(1)} (${c})`).join(', ');
}

const ms = (t: { median: number; min: number }) => `${t.median.toFixed(0)} ms (min ${t.min.toFixed(0)})`;

if (opt.compare) {
  // Interleaved: ours, stock, ours, stock, ... for each pass; medians of each.
  const names = opt.compare.split(',');
  await tf.setBackend('wasm');
  const s = setup();
  const passes: [string, Pass][] = [
    ['weight grads', s.weightGrads],
    ['train step', s.trainStep],
    ['input grad', s.inputGrad],
  ];
  for (const [label, f] of passes) {
    const t: Record<'ours' | 'stock', number[]> = { ours: [], stock: [] };
    for (let i = -1; i < reps; i++) {
      for (const which of ['ours', 'stock'] as const) {
        if (which === 'stock') restoreStockWasmKernels(names);
        else registerWasmKernels();
        const dt = once(f);
        if (i >= 0) t[which].push(dt); // i = -1: warm-up of both
      }
    }
    registerWasmKernels();
    console.log(
      `${arch.name} batch ${n} ${label}: ours ${median(t.ours).toFixed(1)} ms, stock ${names.join('+')} ${median(t.stock).toFixed(1)} ms; medians of ${reps}, interleaved`,
    );
  }
  s.dispose();
} else {
  for (const backend of opt.backends.split(',')) {
    await tf.setBackend(backend);
    const s = setup();
    const canTrain = backend !== 'wasm' || tf.getKernel('Conv2DBackpropFilter', 'wasm') != null;
    const wg = canTrain ? time(s.weightGrads) : null;
    const ts = canTrain ? time(s.trainStep) : null;
    let ig: { median: number; min: number } | string;
    try {
      ig = time(s.inputGrad);
    } catch (e) {
      ig = `fails: ${(e as Error).message.split('\n')[0]}`; // stock wasm, models with fused convs
    }
    const label = backend === 'wasm' && opt.stock ? 'wasm (stock kernels)' : backend;
    const na = 'n/a (Conv2DBackpropFilter missing)';
    console.log(
      `${label} ${arch.name} batch ${n} ${shape.join('x')}: weight grads ${wg ? ms(wg) : na}, train step ${ts ? ms(ts) : na}, input grad ${typeof ig === 'string' ? ig : ms(ig)}; median of ${reps}`,
    );
    if (backend === 'wasm') {
      if (canTrain) {
        console.log(`   per kernel, weight grads (ms, calls): ${await profile(s.weightGrads)}`);
        console.log(`   per kernel, train step: ${await profile(s.trainStep)}`);
      }
      if (typeof ig !== 'string') console.log(`   per kernel, input grad: ${await profile(s.inputGrad)}`);
    }
    s.dispose();
  }
}
