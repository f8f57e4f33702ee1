import * as tf from '@tensorflow/tfjs-core';
import { f32, input, leadingReduction, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { sumRowsModule, winogradReady } from './winograd.ts';

/**
 * `Mean` for wasm over a leading run of axes (0..r-1, r < rank) of a float32 tensor: batch norm's
 * moments in training mode (x [N, H, W, C] averaged over N, H, W). The stock kernel transposes the
 * reduced axes to the end first (a full copy); here the rows are added in float64 in one pass (the
 * module's `sum_rows`, as the `Sum` kernel), each sum rounded to float32 and divided by the count. Every other case (other axes, int32, empty) goes to the stock kernel.
 */
export function mean({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const plan = leadingReduction(x, attrs);
  if (!winogradReady() || x.dtype !== 'float32' || !plan)
    return runStock(backend, 'Mean', mean as tf.KernelFunc, inputs, attrs ?? {});
  const { inner, outer, outShape } = plan;
  const out = backend.makeOutput(outShape, 'float32');
  const sums = new Float32Array(inner);
  sumRowsModule(f32(backend, x), inner, sums);
  f32(backend, out).set(sums.map((v) => v / outer));
  return out;
}
