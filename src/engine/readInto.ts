import * as tf from '@tensorflow/tfjs-core';

interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
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

/**
 * A new float32 tensor of `shape` whose values `fill` writes: on wasm straight into the tensor's
 * memory (a view of the heap, as a kernel fills its output; `fill` must not make tensors), elsewhere
 * into a fresh array the tensor is made from. The caller owns the tensor.
 */
export function filledTensor(shape: number[], fill: (out: Float32Array) => void): tf.Tensor {
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  if (
    tf.getBackend() === 'wasm' &&
    typeof b.makeOutput === 'function' &&
    typeof b.typedArrayFromHeap === 'function'
  ) {
    const info = b.makeOutput(shape, 'float32');
    try {
      fill(b.typedArrayFromHeap(info) as Float32Array);
    } catch (e) {
      tf.engine().makeTensorFromTensorInfo(info).dispose();
      throw e;
    }
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  const out = new Float32Array(tf.util.sizeFromShape(shape));
  fill(out);
  return tf.tensor(out, shape, 'float32');
}
