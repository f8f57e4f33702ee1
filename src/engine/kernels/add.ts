import * as tf from '@tensorflow/tfjs-core';
import { f32, input, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { addBiasModule, winogradReady } from './winograd.ts';

/**
 * `Add` for wasm: a float32 vector added along the last axis of a float32 tensor (a layer's bias:
 * in gradient mode tfjs does not fuse it into the convolution) in the project's module, about twice
 * as fast as the stock kernel's broadcast on the MNIST models' feature maps. Every other case
 * (equal shapes, other broadcasts, int32) goes to the stock kernel.
 */
export function add(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const a = input(args.inputs, 'a');
  const b = input(args.inputs, 'b');
  const bias = (t: tf.TensorInfo, v: tf.TensorInfo) =>
    t.shape.length >= 2 &&
    v.shape.length === 1 &&
    v.shape[0] === t.shape[t.shape.length - 1] &&
    v.shape[0] > 0;
  const fits = winogradReady() && a.dtype === 'float32' && b.dtype === 'float32';
  // Float addition is commutative, so b + a is a + b bit for bit.
  const [x, v] = fits && bias(a, b) ? [a, b] : fits && bias(b, a) ? [b, a] : [null, null];
  if (!x || !v) return runStock(backend, 'Add', add, args.inputs, args.attrs);
  const out = backend.makeOutput(x.shape, 'float32');
  if (x.shape.some((d) => d === 0)) return out;
  addBiasModule(f32(backend, x), f32(backend, v), f32(backend, out));
  return out;
}
