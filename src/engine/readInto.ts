import * as tf from '@tensorflow/tfjs-core';

interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * Float32 tensor `t`'s values without a copy where the backend shows its memory (wasm: a view of its
 * heap, valid only until the next tensor is made), else `dataSync()`'s array. Read or copy it at once.
 */
export function heapValues(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`heapValues takes float32 tensors, got ${t.dtype}`);
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  if (tf.getBackend() === 'wasm' && typeof b.typedArrayFromHeap === 'function')
    return b.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array;
  return t.dataSync() as Float32Array;
}

/**
 * Copies float32 tensor `t`'s values into `out` at `offset`, the same values `t.dataSync()` gives,
 * without the fresh array `dataSync` allocates where the backend shows its memory (wasm: a view of
 * its heap; a fresh array of a megabyte costs its page faults again on every call on some VMs).
 */
export function readInto(t: tf.Tensor, out: Float32Array, offset = 0): void {
  if (t.dtype !== 'float32') throw new Error(`readInto takes float32 tensors, got ${t.dtype}`);
  out.set(heapValues(t), offset);
}
