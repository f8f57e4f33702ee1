import * as tf from '@tensorflow/tfjs-core';
import { input, type BackendWasm, type KernelArgs } from './wasmCalls.ts';

/**
 * `Tile` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22, which computes a source
 * index per output element (about 100 ns each here). Batch norm's gradient tiles its per-channel
 * statistics to the activation's full shape ([1, 1, 1, C] -> [N, H, W, C]), which made Tile the
 * slowest kernel of a ResNet training step. Here the output is built by block copies:
 *
 *   out[i0, .., ik] = x[i0 mod d0, .., ik mod dk],
 *
 * the innermost axis copied row by row, then each axis' finished block repeated by doubling
 * `copyWithin`. float32, int32 and bool.
 */
export function tile({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const reps = (attrs as unknown as { reps: number[] }).reps;
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    throw new Error(
      `Tile on wasm supports float32, int32 and bool tensors, got ${x.dtype}; use the cpu backend`,
    );
  }
  const shape = x.shape;
  const k = shape.length;
  const outShape = shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  const size = tf.util.sizeFromShape(outShape);
  if (size === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  if (k === 0) {
    dst[0] = src[0];
    return out;
  }
  const srcStrides = tf.util.computeStrides(shape).concat([1]);
  // outBlock[i]: the size of one output slab below axis i (product of out dims after i).
  const outBlock = new Array<number>(k).fill(1);
  for (let i = k - 2; i >= 0; i--) outBlock[i] = outBlock[i + 1] * outShape[i + 1];
  const fill = (axis: number, s: number, d: number): void => {
    const n = shape[axis];
    if (axis === k - 1) {
      dst.set(src.subarray(s, s + n), d);
    } else {
      for (let t = 0; t < n; t++) fill(axis + 1, s + t * srcStrides[axis], d + t * outBlock[axis]);
    }
    repeat(d, n * outBlock[axis], reps[axis]);
  };
  // Repeats dst[d, d + len) so that dst[d, d + len * r) holds r copies, doubling each time.
  const repeat = (d: number, len: number, r: number): void => {
    const total = len * r;
    for (let filled = len; filled < total; filled *= 2) {
      dst.copyWithin(d + filled, d, d + Math.min(filled, total - filled));
    }
  };
  fill(0, 0, 0);
  return out;
}
