/**
 * Batch norm in training mode as one operation on wasm. tfjs-layers normalises a batch with
 * `moments` (Mean, Sub, Square, Mean) and then `batchNorm`, and the tape differentiates all five:
 * the moments' part of the gradient alone (Tile from Mean's gradient, Square's and Sub's products,
 * the Adds that gather the three paths to x) was about a tenth of a cifar-cnn training step.
 * {@link ensureFastBatchNormTraining} patches tfjs-layers' `BatchNormalization.call` so that, in
 * training mode on a backend with the project's kernels (wasm), a layer runs one kernel,
 * `AdvlensBatchNormTrain`:
 *
 *   mean = Mean(x), variance = Mean(Square(x - mean)), y = batchNorm(x, mean, variance, offset, scale)
 *
 * (the same float32 roundings and float64 sums as the project's Mean, Sub, Square and FusedBatchNorm
 * kernels, so mean, variance, y and the moving averages are the same bits as the unpatched layer's),
 * whose gradient is one kernel, `AdvlensBatchNormTrainGrad` (two passes: float64 sums, then dx):
 *
 *   r = 1 / sqrt(variance + epsilon), S1 = sum dy, S2 = sum dy (x - mean), S0 = sum (x - mean),
 *   dvar = -0.5 r^3 scale S2 + gVar,  dmean = -r scale S1 + gMean   (gMean, gVar: the gradients
 *                                                                   reaching the mean and variance)
 *   dx = dy (r scale) + (x - mean) (2 dvar / M) + (dmean - (2 dvar / M) S0) / M
 *   dscale = r S2, doffset = S1                                      (M: values per channel)
 *
 * which is what the tape's chain through moments adds up to; the results differ from it by float
 * rounding only. The moving mean and variance are updated as tfjs-layers does. Elsewhere (other
 * backends, inference, an axis other than the last, channels not a multiple of 4, a layer without
 * scale or offset, and under two gradient tapes: a second-order objective) the layer is
 * tfjs-layers' own; should the gradient itself run under an outer tape, it is written with
 * differentiable tfjs operations. It reads tfjs' internal `engine.state.gradientDepth` and patches
 * tfjs-layers' `BatchNormalization.prototype.call`: re-check both on a tfjs upgrade. On by default;
 * `ADVLENS_FAST_BN=0` in the environment gives training tfjs-layers' own path.
 *
 * Data-parallel training (train/shards.ts) synchronises both kernels between the workers through
 * the all-reduce of train/collective.ts while a sharded step runs: the forward kernel's per-channel
 * sums (then the squared deviations from the whole batch's mean) and row count, and the gradient
 * kernel's S1, S2, S0, gMean, gVariance and count, are summed over the workers, so every worker
 * normalises with the whole batch's moments and differentiates through them; dscale and doffset stay
 * each worker's share. A layer that would leave the fast path during such a step throws instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { f32, input, type BackendWasm, type KernelArgs } from './kernels/wasmCalls.ts';
import { activeCollective } from '../train/collective.ts';
import { reciprocalStd } from './batchNormGrad.ts';
import { batchNormDivisor } from './kernels/batchNorm.ts';
import {
  batchNormModule,
  bnSumsModule,
  bnTrainDxModule,
  sqDevSumRowsModule,
  sumRowsModule,
  winogradReady,
} from './kernels/winograd.ts';
import { gradientDepth, outerTapeOn, patchLayerCall } from './layerPatch.ts';

/** The kernel of training-mode batch norm (outputs y, mean, variance). */
export const BATCH_NORM_TRAIN = 'AdvlensBatchNormTrain';
/** The kernel of its gradient (outputs dx, dscale, doffset). */
export const BATCH_NORM_TRAIN_GRAD = 'AdvlensBatchNormTrainGrad';

/** The forward kernel: inputs x [..., k], scale, offset [k]; attr varianceEpsilon. */
export function batchNormTrainKernel({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo[] {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const scale = input(inputs, 'scale');
  const offset = input(inputs, 'offset');
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const k = x.shape[x.shape.length - 1];
  if (!trainFits(x) || !winogradReady() || ![scale, offset].every((t) => vec(t, k)))
    throw new Error(`${BATCH_NORM_TRAIN}: inputs outside the kernel's layout (see batchNormTrainFits)`);
  const rows = tf.util.sizeFromShape(x.shape) / k;
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([k], 'float32');
  const variance = backend.makeOutput([k], 'float32');
  // Mean (the project's kernel): float64 row sums rounded to float32 once, divided by the count.
  const sums = new Float32Array(k);
  // In a sharded step (train/collective.ts) the moments are the whole batch's: each worker's float64
  // sums (before rounding), and its number of rows, summed over the workers, then rounded to float32
  // once and divided, as in one process. So the moments are one process's bit for bit (but for a sum
  // within ~1e-16 of a float32 rounding boundary), and so is each image's forward pass: an input
  // off by a rounding would flip the ReLUs that sit within a rounding of zero, and each flip moves
  // the gradient by far more than rounding does (one flip moved a ResNet-8 step's batch-norm offsets
  // by 1-2%, see test/node/parallelTrain.test.ts).
  const c = activeCollective();
  const sums64 = c ? new Float64Array(k + 1) : undefined;
  sumRowsModule(f32(backend, x), k, sums, sums64?.subarray(0, k));
  let count = rows;
  let m: Float32Array;
  if (c && sums64) {
    sums64[k] = rows;
    c.allReduce(sums64);
    count = sums64[k];
    m = Float32Array.from(sums64.subarray(0, k), (t) => Math.fround(t) / count);
  } else m = sums.map((t) => t / rows);
  const dev64 = c ? new Float64Array(k) : undefined;
  sqDevSumRowsModule(f32(backend, x), m, sums, dev64);
  let v: Float32Array;
  if (c && dev64) {
    c.allReduce(dev64);
    v = Float32Array.from(dev64, (t) => Math.fround(t) / count);
  } else v = sums.map((t) => t / rows);
  // FusedBatchNorm (the project's kernel): sqrt(variance + epsilon) rounded once per channel.
  const r = batchNormDivisor(v, varianceEpsilon);
  const s = Float32Array.from(f32(backend, scale));
  const o = Float32Array.from(f32(backend, offset));
  batchNormModule(f32(backend, x), m, s, r, o, f32(backend, y));
  f32(backend, mean).set(m);
  f32(backend, variance).set(v);
  return [y, mean, variance];
}

/**
 * The gradient kernel: inputs x, dy [..., k], mean, variance, scale, gMean, gVariance [k] (the last
 * two: the gradients reaching the forward's mean and variance outputs); outputs dx, dscale, doffset.
 */
export function batchNormTrainGradKernel({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo[] {
  const backend = b as BackendWasm;
  const [x, dy, mean, variance, scale, gMean, gVar] = [
    'x',
    'dy',
    'mean',
    'variance',
    'scale',
    'gMean',
    'gVariance',
  ].map((n) => input(inputs, n));
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const k = x.shape[x.shape.length - 1];
  if (
    !trainFits(x) ||
    !winogradReady() ||
    dy.dtype !== 'float32' ||
    dy.shape.join() !== x.shape.join() ||
    ![mean, variance, scale, gMean, gVar].every((t) => vec(t, k))
  )
    throw new Error(`${BATCH_NORM_TRAIN_GRAD}: inputs outside the kernel's layout`);
  const M = tf.util.sizeFromShape(x.shape) / k;
  // The per-channel inputs as copies: a view of the heap is detached when an allocation (the outputs
  // below, the module's scratch) grows it, and reads as empty (every dx NaN: a training run's NaN).
  const m = Float32Array.from(f32(backend, mean));
  const r = reciprocalStd(f32(backend, variance), varianceEpsilon);
  const s = Float32Array.from(f32(backend, scale));
  const gm = Float32Array.from(f32(backend, gMean));
  const gv = Float32Array.from(f32(backend, gVar));
  const dx = backend.makeOutput(x.shape, 'float32');
  const dScale = backend.makeOutput([k], 'float32');
  const dOffset = backend.makeOutput([k], 'float32');
  const sums = new Float64Array(3 * k);
  bnSumsModule(f32(backend, x), f32(backend, dy), m, sums);
  // In a sharded step the sums, the gradients reaching the moments and the count are the whole
  // batch's (each worker's dy is its share of the batch loss's); dscale and doffset stay this
  // worker's share (the step adds the workers' parameter gradients).
  let total = sums;
  let gmAll: ArrayLike<number> = gm;
  let gvAll: ArrayLike<number> = gv;
  let count = M;
  const coll = activeCollective();
  if (coll) {
    const g = new Float64Array(5 * k + 1);
    g.set(sums);
    g.set(gm, 3 * k);
    g.set(gv, 4 * k);
    g[5 * k] = M;
    coll.allReduce(g);
    total = g.subarray(0, 3 * k);
    gmAll = g.subarray(3 * k, 4 * k);
    gvAll = g.subarray(4 * k, 5 * k);
    count = g[5 * k];
  }
  const a = new Float32Array(k);
  const bb = new Float32Array(k);
  const c = new Float32Array(k);
  // Views after the last allocation (bnSumsModule's scratch).
  const ds = f32(backend, dScale);
  const dof = f32(backend, dOffset);
  for (let i = 0; i < k; i++) {
    const [s1, s2, s0] = [total[i], total[k + i], total[2 * k + i]];
    const dVar = -0.5 * r[i] * r[i] * r[i] * s[i] * s2 + gvAll[i];
    const dMean = -r[i] * s[i] * s1 + gmAll[i];
    const twoOverM = (2 * dVar) / count;
    a[i] = r[i] * s[i];
    bb[i] = twoOverM;
    c[i] = (dMean - twoOverM * s0) / count;
    ds[i] = r[i] * sums[k + i];
    dof[i] = sums[i];
  }
  bnTrainDxModule(f32(backend, x), f32(backend, dy), m, a, bb, c, f32(backend, dx));
  return [dx, dScale, dOffset];
}

type Info = Pick<tf.TensorInfo, 'shape' | 'dtype'>;

const vec = (t: Info, k: number) => t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === k;

/** Whether x fits the kernels: float32, rank >= 2, channels (last axis) a multiple of 4, not empty. */
function trainFits(x: Info): boolean {
  const k = x.shape[x.shape.length - 1];
  return (
    x.dtype === 'float32' && x.shape.length >= 2 && k > 0 && k % 4 === 0 && tf.util.sizeFromShape(x.shape) > 0
  );
}

/** The gradient as differentiable tfjs operations (for second-order tapes), same formula. */
function gradientByOps(
  x: tf.Tensor,
  dy: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  scale: tf.Tensor,
  gMean: tf.Tensor,
  gVar: tf.Tensor,
  epsilon: number,
): { dx: tf.Tensor; dScale: tf.Tensor; dOffset: tf.Tensor } {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const M = tf.util.sizeFromShape(x.shape) / x.shape[x.shape.length - 1];
  const xm = tf.sub(x, mean);
  const r = tf.rsqrt(tf.add(variance, epsilon));
  const s1 = tf.sum(dy, axes);
  const s2 = tf.sum(tf.mul(dy, xm), axes);
  const dVar = tf.add(tf.mul(tf.mul(tf.pow(r, 3), scale), tf.mul(s2, -0.5)), gVar);
  const dMean = tf.add(tf.neg(tf.mul(tf.mul(r, scale), s1)), gMean);
  const dx = tf.add(
    tf.add(tf.mul(dy, tf.mul(r, scale)), tf.mul(xm, tf.mul(dVar, 2 / M))),
    tf.div(tf.sub(dMean, tf.mul(tf.mul(dVar, 2 / M), tf.sum(xm, axes))), M),
  );
  return { dx, dScale: tf.mul(r, s2), dOffset: s1 };
}

/** A sharded step reached batch norm on a path that cannot synchronise its statistics. */
const UNSYNCED =
  'batch normalisation in a sharded training step took a path that does not synchronise the workers (fast batch norm off, a layout the kernels do not take, or a second-order gradient); train with 1 worker';

let gradientDone = false;

/** Registers the gradient of {@link BATCH_NORM_TRAIN} (once). */
function registerTrainGradient(): void {
  if (gradientDone) return;
  gradientDone = true;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [x, scale, mean, variance] = saved;
      const [dy, gMean, gVar] = dys as tf.Tensor[];
      const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
      if (outerTapeOn() || !tf.getKernel(BATCH_NORM_TRAIN_GRAD, tf.getBackend()) || !winogradReady()) {
        if (activeCollective()) throw new Error(UNSYNCED);
        const g = gradientByOps(x, dy, mean, variance, scale, gMean, gVar, varianceEpsilon);
        return { x: () => g.dx, scale: () => g.dScale, offset: () => g.dOffset };
      }
      const [dx, dScale, dOffset] = tf
        .engine()
        .runKernel(
          BATCH_NORM_TRAIN_GRAD,
          { x, dy, mean, variance, scale, gMean, gVariance: gVar },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
      return { x: () => dx, scale: () => dScale, offset: () => dOffset };
    },
  });
}

/** The parts of tfjs-layers' BatchNormalization (4.22) the patch reads. */
interface BatchNormLayer {
  axis: number;
  epsilon: number;
  momentum: number;
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}

/**
 * On unless `ADVLENS_FAST_BN=0` (or {@link setFastBatchNormTraining}(false)), which gives training
 * tfjs-layers' own path. (It was off for a while after a ResNet-20 run went NaN with it: the gradient
 * kernel read heap views that an allocation had detached; fixed, see the gradient kernel.)
 */
let enabled = !(typeof process !== 'undefined' && process.env?.ADVLENS_FAST_BN === '0');
let patched = false;

/** Switches the patched layers to the fast training path or back to tfjs-layers' own (tests, benchmarks). */
export function setFastBatchNormTraining(on: boolean): void {
  enabled = on;
}

/**
 * Patches tfjs-layers' `BatchNormalization.call` (once) as the header says, and registers the
 * gradient. The kernels themselves are registered with the project's other wasm kernels.
 */
export function ensureFastBatchNormTraining(): void {
  registerTrainGradient();
  if (patched) return;
  patched = patchLayerCall<BatchNormLayer>(
    'BatchNormalization',
    (stock) =>
      function (inputs, kwargs) {
        const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
        const rank = x?.shape.length ?? 0;
        const fits =
          enabled &&
          x !== undefined &&
          kwargs?.training === true &&
          this.gamma != null &&
          this.beta != null &&
          (this.axis === -1 || this.axis === rank - 1) &&
          trainFits(x) &&
          // Under two tapes (a gradient of a gradient will pass here) the layer stays tfjs-layers' own:
          // tfjs 4.22 records the copies of a kernel's saved outputs before the kernel itself, so a
          // second-order gradient reaching the mean and variance through them would be lost.
          gradientDepth() <= 1 &&
          winogradReady() &&
          tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined;
        if (!fits) {
          if (kwargs?.training === true && activeCollective()) throw new Error(UNSYNCED);
          return stock.call(this, inputs, kwargs);
        }
        return tf.tidy(() => {
          const [y, mean, variance] = tf
            .engine()
            .runKernel(
              BATCH_NORM_TRAIN,
              { x: x!, scale: this.gamma!.read(), offset: this.beta!.read() },
              { varianceEpsilon: this.epsilon },
            ) as tf.Tensor[];
          // tfjs-layers' moving averages, orig - (orig - value) * (1 - momentum), operation for operation
          // in float32 (each Math.fround is one float32 kernel's rounding, so the bits are tfjs'), but in
          // JavaScript on the few values per channel: as tfjs operations under the training step's tape
          // they were 3 kernels and 5 saved copies per average, about a third of a ResNet-20 step's calls.
          const movingAverage = (v: BatchNormLayer['movingMean'], value: tf.Tensor) => {
            const orig = v.read().dataSync();
            const now = value.dataSync();
            const rate = Math.fround(1 - this.momentum);
            const next = new Float32Array(orig.length);
            for (let i = 0; i < next.length; i++)
              next[i] = Math.fround(orig[i] - Math.fround(Math.fround(orig[i] - now[i]) * rate));
            v.write(tf.tensor(next, v.read().shape));
          };
          movingAverage(this.movingMean, mean);
          movingAverage(this.movingVariance, variance);
          return y;
        });
      },
  );
}

/**
 * Why the batch-norm layers of `model` could not train with statistics synchronised between
 * workers (they must all take the fast training path: see the header), or null when they can.
 */
export function batchNormUnsyncable(model: unknown): string | null {
  if (!enabled)
    return 'fast batch norm is off (ADVLENS_FAST_BN=0), and only its kernels synchronise the workers';
  if (!tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) || !winogradReady())
    return `batch norm synchronises the workers only on the wasm backend with the project's kernels (this is ${tf.getBackend()})`;
  const layers = (model as { layers?: unknown[] }).layers ?? [];
  for (const l of layers as (BatchNormLayer & {
    name: string;
    getClassName(): string;
    outputShape: unknown;
  })[]) {
    if (l.getClassName() !== 'BatchNormalization') continue;
    const shape = l.outputShape as (number | null)[];
    const k = shape[shape.length - 1] ?? 0;
    if (!(l.axis === -1 || l.axis === shape.length - 1) || l.gamma == null || l.beta == null || k % 4 !== 0)
      return `its batch-norm layer ${l.name} is outside the synchronising kernels' layout (last axis, scale and offset, channels a multiple of 4)`;
  }
  return null;
}
