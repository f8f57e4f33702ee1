import * as tf from '@tensorflow/tfjs-core';
import { input, type BackendWasm, type KernelArgs } from './wasmCalls.ts';

/**
 * `UnsortedSegmentSum` for wasm (the gradient of `tf.gather`):
 *
 *   out[s, ...] = sum_{i : segmentIds[i] = s} x[i, ...],   out: [numSegments, ...x.shape[ids.rank:]],
 *
 * one pass over x on the wasm heap (float64 accumulation for float32 x); ids outside
 * [0, numSegments) are dropped, as in TensorFlow. The output keeps x's dtype.
 */
export function unsortedSegmentSum({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const segmentIds = input(inputs, 'segmentIds');
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  const idRank = segmentIds.shape.length;
  if (x.shape.slice(0, idRank).join() !== segmentIds.shape.join()) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] is not a prefix of x's [${x.shape}]`,
    );
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  }
  const inner = x.shape.slice(idRank).reduce((p, d) => p * d, 1);
  const count = tf.util.sizeFromShape(segmentIds.shape);
  const acc = new Float64Array(numSegments * inner);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idRank)], x.dtype);
  const xv = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < count; i++) {
    const s = ids[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) acc[dst + k] += xv[src + k];
  }
  backend.typedArrayFromHeap(out).set(acc);
  return out;
}
