import * as tf from '@tensorflow/tfjs-core';
import { input, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';

/**
 * `GatherV2` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22 for `batchDims` 0, which
 * computes a source index per output element (about 100 ns each here: gathering 64 MNIST images,
 * 50,000 values, took 5 ms, as long as a convolution). SmoothGrad and Integrated Gradients gather
 * their images for every batch of samples. Here each gathered slice, contiguous below the axis, is
 * one block copy:
 *
 *   out[o, i, r] = x[o, indices[i], r],  o < prod(x.shape[:axis]), r < prod(x.shape[axis + 1:]).
 *
 * float32, int32 and bool. Indices outside [0, x.shape[axis]), `batchDims` > 0 and other dtypes go
 * to the stock kernel, with its behaviour.
 */
export function gatherV2(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = input(args.inputs, 'x');
  const indices = input(args.inputs, 'indices');
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims?: number };
  const dtypeOk = x.dtype === 'float32' || x.dtype === 'int32' || x.dtype === 'bool';
  if (!dtypeOk || indices.dtype !== 'int32' || (batchDims ?? 0) !== 0) return stock(args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const len = x.shape[ax];
  const idx = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < idx.length; i++) if (!(idx[i] >= 0 && idx[i] < len)) return stock(args);
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const out = backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  // Views after the last allocation.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;
  let d = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    for (let i = 0; i < ids.length; i++, d += inner) {
      const s = base + ids[i] * inner;
      if (inner >= 16) dst.set(src.subarray(s, s + inner), d);
      else for (let r = 0; r < inner; r++) dst[d + r] = src[s + r];
    }
  }
  return out;
}

function stock(args: KernelArgs): tf.TensorInfo {
  return runStock(args.backend as BackendWasm, 'GatherV2', gatherV2, args.inputs, args.attrs);
}
