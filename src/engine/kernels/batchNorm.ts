import * as tf from '@tensorflow/tfjs-core';
import { f32, input, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { batchNormModule, winogradReady } from './winograd.ts';

/** sqrt(variance + epsilon) per channel, rounded to float32 once, as {@link fusedBatchNorm} divides by it. */
export function batchNormDivisor(variance: Float32Array, epsilon: number): Float32Array {
  return variance.map((v) => Math.fround(Math.sqrt(Math.fround(v + epsilon))));
}

/**
 * `FusedBatchNorm` for wasm (batch normalisation with given statistics: every batch-norm layer at
 * inference, and in training mode with the batch's moments), channels last:
 *
 *   out = offset[c] + ((x - mean[c]) * scale[c]) / sqrt(variance[c] + epsilon)
 *
 * with sqrt(variance + epsilon) rounded to float32 once per channel and the rest in float32 per
 * element, one SIMD pass of the project's module. The stock kernel evaluates the same expression
 * element by element with the square root each time, about 20x slower on ResNet-20's feature maps
 * (as slow as the convolutions around it). The statistics must each hold one value per channel of
 * x's last axis, or one value (offset and scale may be absent: 0 and 1); every other case goes to
 * the stock kernel.
 */
export function fusedBatchNorm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = input(args.inputs, 'x');
  const { mean, variance, offset, scale } = args.inputs;
  const { varianceEpsilon } = args.attrs as unknown as { varianceEpsilon: number };
  const k = x.shape[x.shape.length - 1];
  const stats = [mean, variance, offset, scale];
  const fits =
    winogradReady() &&
    x.dtype === 'float32' &&
    x.shape.length >= 1 &&
    k > 0 &&
    mean !== undefined &&
    variance !== undefined &&
    stats.every(
      (t) => t == null || (t.dtype === 'float32' && [1, k].includes(tf.util.sizeFromShape(t.shape))),
    );
  if (!fits) return runStock(backend, 'FusedBatchNorm', fusedBatchNorm, args.inputs, args.attrs);
  const out = backend.makeOutput(x.shape, 'float32');
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  /** One float32 value per channel: the tensor's, repeated when it holds one, or `fill`. */
  const perChannel = (t: tf.TensorInfo | undefined, fill: number) => {
    if (t == null) return new Float32Array(k).fill(fill);
    const v = f32(backend, t);
    return v.length === k ? Float32Array.from(v) : new Float32Array(k).fill(v[0]);
  };
  const m = perChannel(mean, 0);
  const s = perChannel(scale, 1);
  const o = perChannel(offset, 0);
  const r = batchNormDivisor(perChannel(variance, 0), varianceEpsilon);
  batchNormModule(f32(backend, x), m, s, r, o, f32(backend, out));
  return out;
}
