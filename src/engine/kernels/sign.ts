import * as tf from '@tensorflow/tfjs-core';
import { input, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { signModule, winogradReady } from './winograd.ts';

/**
 * `Sign` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22, which returns 0 for every
 * |x| below about 1e-6 (measured: sign(1e-7) = 0, sign(1e-6) = 1; the cpu backend gives 1). Input
 * gradients of a confident classifier are that small (softmax saturates), so the stock kernel zeroed
 * whole FGSM/PGD steps on exactly the examples an attack should find: gradient masking by the engine.
 * Here sign(x) = -1, 0 or 1 exactly as on cpu (NaN -> 0), float32 and int32: float32 in one SIMD
 * pass of the module (a PGD step's sign of a CIFAR batch of 128: 3 ms in the JavaScript loop, which
 * remains for int32 and where the module is not loaded, 0.2 ms there).
 */
export function sign({ inputs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const out = backend.makeOutput(x.shape, x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  if (x.dtype === 'float32' && src.length > 0 && winogradReady()) {
    signModule(src as Float32Array, dst as Float32Array);
    return out;
  }
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    dst[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}
