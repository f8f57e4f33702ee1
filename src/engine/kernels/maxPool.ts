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
import { maxPoolModule, winogradReady } from './winograd.ts';

interface Attrs {
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
  const a = args.attrs as unknown as Attrs;
  if (!winogradReady() || x.dtype !== 'float32' || x.shape.length !== 4) {
    return runStock(backend, 'MaxPool', maxPool, args.inputs, args.attrs);
  }
  assertNHWC('MaxPool', a.dataFormat);
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const out = backend.makeOutput([n, oh, ow, c], 'float32');
  if (n * oh * ow * c === 0) return out;
  const g = {
    n,
    h,
    w,
    c,
    oh,
    ow,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
  maxPoolModule(f32(backend, x), g, f32(backend, out));
  return out;
}
