import * as tf from '@tensorflow/tfjs-core';
import { f32, input, leadingReduction, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { meanMiddleModule, sumRowsModule, winogradReady } from './winograd.ts';

/**
 * `Mean` for wasm over a leading run of axes (0..r-1, r < rank) of a float32 tensor: batch norm's
 * moments in training mode (x [N, H, W, C] averaged over N, H, W). The stock kernel transposes the
 * reduced axes to the end first (a full copy); here the rows are added in float64 in one pass (the
 * module's `sum_rows`, as the `Sum` kernel), each sum rounded to float32 and divided by the count.
 * Over every axis but the first and last (global average pooling): see middleMean. Every other case
 * (other axes, int32, empty) goes to the stock kernel.
 */
export function mean({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const stock = () => runStock(backend, 'Mean', mean as tf.KernelFunc, inputs, attrs ?? {});
  if (!winogradReady() || x.dtype !== 'float32') return stock();
  const plan = leadingReduction(x, attrs);
  if (!plan) return middleMean(backend, x, attrs) ?? stock();
  const { inner, outer, outShape } = plan;
  const out = backend.makeOutput(outShape, 'float32');
  const sums = new Float32Array(inner);
  sumRowsModule(f32(backend, x), inner, sums);
  f32(backend, out).set(sums.map((v) => v / outer));
  return out;
}

/**
 * The mean over every axis but the first and the last (a global average pooling, x [N, H, W, C] over
 * H and W: darknet's and ResNet's heads) in the module, where the stock kernel transposes first (3.3
 * ms a darknet pass of [8, 14, 14, 1000]): the stock's float32 sums in pixel order and float32
 * division, so its bits. Null where the axes are others.
 */
function middleMean(backend: BackendWasm, x: tf.TensorInfo, attrs: unknown): tf.TensorInfo | null {
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  // The axes as given: the stock kernel sums in the order they are listed ([2, 1] sums column by
  // column), so only the ascending list has the pixel order summed here.
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const middle = rank >= 3 && axes.length === rank - 2 && axes.every((a, i) => a === i + 1);
  const size = tf.util.sizeFromShape(x.shape);
  if (!middle || size === 0) return null;
  const [n, c] = [x.shape[0], x.shape[rank - 1]];
  const p = size / (n * c);
  const outShape = keepDims ? x.shape.map((d, i) => (i === 0 || i === rank - 1 ? d : 1)) : [n, c];
  const out = backend.makeOutput(outShape, 'float32');
  meanMiddleModule(f32(backend, x), n, p, c, f32(backend, out));
  return out;
}
