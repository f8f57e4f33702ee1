import * as tf from '@tensorflow/tfjs-core';
import { free, input, runStock, runWasm, type BackendWasm, type KernelArgs } from './wasmCalls.ts';

/** `x` [.., r, c] as [.., c, r] (a new tensor, or `x` itself when not `transposed`). */
function materialise(backend: BackendWasm, x: tf.TensorInfo, transposed: boolean): tf.TensorInfo {
  if (!transposed) return x;
  const perm = x.shape.map((_, i) => i);
  const k = perm.length;
  [perm[k - 2], perm[k - 1]] = [perm[k - 1], perm[k - 2]];
  return runWasm(backend, 'Transpose', { x }, { perm });
}

/**
 * `BatchMatMul` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22 for one case: a
 * single (unbatched) float32 product with `transposeA` or `transposeB`. The stock kernel uses
 * XNNPACK's fully connected operator only when neither operand is transposed, and a plain blocked
 * loop otherwise, and the gradients of every dense layer are such products (dx = dy . W^T,
 * dW = x^T . dy). Here the transposed operand is transposed explicitly (the stock `Transpose`, one
 * copy) and the product goes to the stock kernel's XNNPACK path:
 *
 *   op(A) . op(B) = Transpose(A or A) . Transpose(B or B),   both untransposed.
 *
 * The stock kernel caches its XNNPACK operator (B packed as weights) by B's buffer, so a transposed
 * B is a fresh buffer each call and its operator is dropped when it is freed. Batched products and
 * untransposed ones go to the stock kernel unchanged.
 */
export function batchMatMul({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'a');
  const y = input(inputs, 'b');
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const single = (t: tf.TensorInfo) =>
    t.dtype === 'float32' &&
    t.shape.length >= 2 &&
    tf.util.sizeFromShape(t.shape.slice(0, -2)) === 1 &&
    t.shape.every((d) => d > 0);
  if ((!transposeA && !transposeB) || !single(x) || !single(y)) {
    return runStock(backend, 'BatchMatMul', batchMatMul as tf.KernelFunc, inputs, attrs ?? {});
  }
  const a = materialise(backend, x, transposeA);
  const c = materialise(backend, y, transposeB);
  try {
    return runStock(
      backend,
      'BatchMatMul',
      batchMatMul as tf.KernelFunc,
      { a, b: c },
      { transposeA: false, transposeB: false },
    );
  } finally {
    if (a !== x) free(backend, a);
    if (c !== y) free(backend, c);
  }
}
