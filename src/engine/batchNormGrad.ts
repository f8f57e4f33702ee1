/**
 * Batch norm's gradient in one pass on wasm. tfjs writes the gradient of `FusedBatchNorm` as about
 * fourteen kernels over the whole activation (x - mean and dy * scale up front, a `Tile` of
 * 1 / sqrt(variance + epsilon) and two products for dx, two products and a sum for each of the mean's,
 * the variance's and the scale's derivatives, a sum for the offset's): a sixth of a cifar-cnn training
 * step. {@link ensureFastBatchNormGrad} re-registers it so that, on a backend with the project's
 * `AdvlensBatchNormGrad` kernel (wasm), one pass of the module reads x and dy once and writes
 *
 *   dx = (dy * r) * scale                      (r = 1 / sqrt(variance + epsilon), rounded as tfjs' Rsqrt)
 *   dmean = -r * scale * sum(dy),  dvariance = -0.5 r^3 * scale * sum(dy (x - mean)),
 *   dscale = r * sum(dy (x - mean)),  doffset = sum(dy)
 *
 * (sums over every axis but the last, in float64; dx bit for bit tfjs' own, the others its values to
 * float32 rounding). It applies to the layout every batch-norm layer of a channels-last model uses:
 * float32 x and dy of one shape, mean and variance (and scale, when present) one value per channel of
 * the last axis, channels a multiple of 4. Elsewhere, on other backends, and whenever an outer
 * gradient is being recorded (the kernel has no gradient of its own: a second-order objective
 * differentiates tfjs' formula), the gradient is tfjs' own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { outerTapeOn } from './layerPatch.ts';
// tfjs' gradients first (importing tfjs-layers registers them), so that the one here replaces FusedBatchNorm's.
import '@tensorflow/tfjs-layers';
import { f32, input, type BackendWasm, type KernelArgs } from './kernels/wasmCalls.ts';
import { batchNormGradDxModule, batchNormGradModule, winogradReady } from './kernels/winograd.ts';
import { inputsOnPath } from './unneededGrads.ts';

/** The kernel name of batch norm's one-pass gradient. */
export const BATCH_NORM_GRAD = 'AdvlensBatchNormGrad';

/** 1 / sqrt(variance + epsilon) per channel, rounded as tfjs' Add then Rsqrt (float32 each). */
export function reciprocalStd(variance: Float32Array, epsilon: number): Float32Array {
  const eps = Math.fround(epsilon);
  return variance.map((v) => Math.fround(1 / Math.fround(Math.sqrt(Math.fround(v + eps)))));
}

/**
 * The wasm kernel: inputs x, dy [..., k], mean, variance [k], scale [k] (optional); attrs
 * varianceEpsilon and dxOnly; outputs dx (x's shape), dmean, dvariance, dscale, doffset [k], or with
 * dxOnly dx alone (x and the mean unread: an input gradient's).
 */
export function batchNormGradKernel({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo[] {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const dy = input(inputs, 'dy');
  const mean = input(inputs, 'mean');
  const variance = input(inputs, 'variance');
  const scale = inputs['scale'];
  const { varianceEpsilon, dxOnly } = attrs as unknown as { varianceEpsilon: number; dxOnly?: boolean };
  if (!batchNormGradFits(x, dy, mean, variance, scale) || !winogradReady())
    throw new Error(`${BATCH_NORM_GRAD}: inputs outside the kernel's layout (see batchNormGradFits)`);
  const k = mean.shape[0];
  const r = reciprocalStd(f32(backend, variance), varianceEpsilon);
  const s = scale ? Float32Array.from(f32(backend, scale)) : new Float32Array(k).fill(1);
  if (dxOnly) {
    const dx = backend.makeOutput(x.shape, 'float32');
    batchNormGradDxModule(f32(backend, dy), r, s, f32(backend, dx));
    dxOnlyCalls++;
    return [dx];
  }
  const m = Float32Array.from(f32(backend, mean));
  const dx = backend.makeOutput(x.shape, 'float32');
  const small = [0, 1, 2, 3].map(() => backend.makeOutput([k], 'float32'));
  const sums = new Float64Array(2 * k);
  batchNormGradModule(f32(backend, x), f32(backend, dy), m, r, s, f32(backend, dx), sums);
  const [dMean, dVar, dScale, dOffset] = small.map((t) => f32(backend, t));
  for (let c = 0; c < k; c++) {
    const s1 = sums[c];
    const s2 = sums[k + c];
    const minusHalfRCube = Math.fround(Math.fround(Math.fround(r[c] * r[c]) * r[c]) * -0.5);
    dMean[c] = -r[c] * s[c] * s1;
    dVar[c] = minusHalfRCube * s[c] * s2;
    dScale[c] = r[c] * s2;
    dOffset[c] = s1;
  }
  return [dx, ...small];
}

let dxOnlyCalls = 0;

/** How many batch-norm gradients computed dx alone so far (input gradients; for tests). */
export function batchNormGradDxOnlyCalls(): number {
  return dxOnlyCalls;
}

type Info = Pick<tf.TensorInfo, 'shape' | 'dtype'>;

/** Whether {@link batchNormGradKernel} takes these inputs (else tfjs' gradient runs). */
export function batchNormGradFits(
  x: Info,
  dy: Info,
  mean: Info,
  variance: Info,
  scale?: Info | null,
): boolean {
  const k = x.shape[x.shape.length - 1];
  const vec = (t: Info) => t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === k;
  return (
    x.dtype === 'float32' &&
    dy.dtype === 'float32' &&
    x.shape.length >= 2 &&
    k > 0 &&
    k % 4 === 0 &&
    dy.shape.join() === x.shape.join() &&
    tf.util.sizeFromShape(x.shape) > 0 &&
    vec(mean) &&
    vec(variance) &&
    (scale == null || vec(scale))
  );
}

/** FusedBatchNorm's inputs besides x. */
const PARAMETERS = ['mean', 'variance', 'scale', 'offset'];

let done = false;

/** Registers the gradient of `FusedBatchNorm` (once; after tfjs' own, which it falls back to). */
export function ensureFastBatchNormGrad(): void {
  if (done) return;
  done = true;
  const stock = tf.getGradient('FusedBatchNorm');
  if (!stock) return;
  tf.registerGradient({
    kernelName: 'FusedBatchNorm',
    inputsToSave: stock.inputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved;
      const g = dy as tf.Tensor;
      if (
        !tf.getKernel(BATCH_NORM_GRAD, tf.getBackend()) ||
        !winogradReady() ||
        outerTapeOn() ||
        !batchNormGradFits(x, g, mean, variance, scale)
      )
        return stock.gradFunc(dy, saved, attrs);
      const ins: tf.NamedTensorMap = { x, dy: g, mean, variance };
      if (scale) ins['scale'] = scale;
      // An input gradient (an attack step, a saliency map) wants x's derivative alone: then one pass
      // over dy, without reading x or summing for the parameters (darknet tiny's input gradient: its
      // 15 batch norms' gradients 40 -> 8-10 ms of ~350, tf.profile).
      const onPath = inputsOnPath();
      if (onPath && onPath.has('x') && !PARAMETERS.some((p) => onPath.has(p))) {
        const [dx] = tf.engine().runKernel(BATCH_NORM_GRAD, ins, { ...attrs, dxOnly: true }) as tf.Tensor[];
        return { x: () => dx };
      }
      const [dx, dMean, dVar, dScale, dOffset] = tf
        .engine()
        .runKernel(BATCH_NORM_GRAD, ins, attrs) as tf.Tensor[];
      // The derivatives the engine does not ask for are disposed with the gradient's scope.
      return {
        x: () => dx,
        mean: () => dMean,
        variance: () => dVar,
        scale: () => dScale,
        offset: () => dOffset,
      };
    },
  });
}
