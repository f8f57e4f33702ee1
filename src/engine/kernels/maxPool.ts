import * as tf from '@tensorflow/tfjs-core';
import {
  assertNHWC,
  f32,
  input,
  runStock,
  type BackendWasm,
  type KernelArgs,
  type Pad,
} from './wasmCalls.ts';
import { maxPoolModule, windowGeometry, winogradReady, type PoolGeometry } from './winograd.ts';

/** MaxPool's and MaxPoolGrad's attributes. */
export interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: 'NHWC' | 'NCHW';
}

/**
 * `MaxPool` for wasm: float32 NHWC max pooling in the project's module (simd.c: four channels at a
 * time; a 2x2 window in four loads), about twice as fast as the stock XNNPACK kernel on the MNIST
 * models' pools, which are memory-bound. Each window's maximum skips NaN, as on the cpu backend and in
 * `MaxPoolGrad` (XNNPACK's result with NaN depends on the order of the elements). Other dtypes, and
 * everything before the module has loaded, go to the stock kernel.
 */
export function maxPool(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = input(args.inputs, 'x');
  const a = args.attrs as unknown as PoolAttrs;
  if (!winogradReady() || x.dtype !== 'float32' || x.shape.length !== 4) {
    return runStock(backend, 'MaxPool', maxPool, args.inputs, args.attrs);
  }
  assertNHWC('MaxPool', a.dataFormat);
  const g = poolGeometry(x.shape, a);
  const out = backend.makeOutput([g.n, g.oh, g.ow, g.c], 'float32');
  if (g.n * g.oh * g.ow * g.c === 0) return out;
  maxPoolModule(f32(backend, x), g, f32(backend, out));
  return out;
}

/** The geometry of a pool of `attrs` over x of `shape` [n, h, w, c] (tfjs' rounding and padding). */
export function poolGeometry(shape: number[], attrs: PoolAttrs): PoolGeometry {
  const info = tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return windowGeometry(info);
}
