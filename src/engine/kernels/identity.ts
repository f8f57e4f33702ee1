import * as tf from '@tensorflow/tfjs-core';
import { input, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';

/** The dtypes whose buffers the wasm backend keeps on its heap (strings live in JS). */
const onHeap = new Set<string>(['float32', 'int32', 'bool']);

/** A new reference to `x`'s buffer: the wasm backend frees it when the last reference is disposed. */
function share(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * `Identity` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22, which copies the
 * buffer. The engine runs `Identity` for every `tf.clone` and for every tensor a kernel saves for its
 * gradient (26 calls in one training pass of the small CNN). Tensors are immutable (no tfjs-core or
 * wasm kernel writes into an input's buffer; `Variable.assign` takes the new value's buffer), so, as
 * the cpu backend's `Identity` and the wasm backend's own `Reshape` do, the output shares the input's
 * buffer with a reference count. Strings go to the stock kernel.
 */
export function identity({ inputs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  if (!onHeap.has(x.dtype)) return runStock(backend, 'Identity', identity as tf.KernelFunc, inputs);
  return share(backend, x);
}

/**
 * `Cast` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22 for a cast to the tensor's
 * own dtype, which the stock kernel copies: the gradient of `tf.clone` is such a cast (float32 to
 * float32). That case shares the buffer, as {@link identity} does and as the cpu backend's `Cast`
 * does; a real conversion goes to the stock kernel.
 */
export function cast({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const { dtype } = attrs as unknown as { dtype: tf.DataType };
  if (dtype !== x.dtype || !onHeap.has(x.dtype)) {
    return runStock(backend, 'Cast', cast as tf.KernelFunc, inputs, attrs ?? {});
  }
  return share(backend, x);
}
