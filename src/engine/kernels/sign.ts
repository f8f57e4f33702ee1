import * as tf from '@tensorflow/tfjs-core';
import { input, type BackendWasm, type KernelArgs } from './wasmCalls.ts';

/**
 * `Sign` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22, which returns 0 for every
 * |x| below about 1e-6 (measured: sign(1e-7) = 0, sign(1e-6) = 1; the cpu backend gives 1). Input
 * gradients of a confident classifier are that small (softmax saturates), so the stock kernel zeroed
 * whole FGSM/PGD steps on exactly the examples an attack should find: gradient masking by the engine.
 * Here sign(x) = -1, 0 or 1 exactly as on cpu (NaN -> 0), float32 and int32.
 */
export function sign({ inputs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const out = backend.makeOutput(x.shape, x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    dst[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}
