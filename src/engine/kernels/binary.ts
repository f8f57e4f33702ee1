import * as tf from '@tensorflow/tfjs-core';
import { f32, input, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { bcastLastModule, winogradReady } from './winograd.ts';

/**
 * Whether `a op b` is a float32 tensor combined with a vector along its last axis: one operand `x`
 * has the broadcast shape, the other `v` has the size of x's last axis, rank at most x's, and 1s
 * everywhere but its last axis ([C], [1, C], [1, 1, 1, C]: a bias, a batch norm's per-channel
 * statistics or scale and their gradients). `swap` says the vector is the left operand.
 */
export function lastAxisVector(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): { x: tf.TensorInfo; v: tf.TensorInfo; swap: boolean } | null {
  if (!winogradReady() || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const vec = (t: tf.TensorInfo, v: tf.TensorInfo) => {
    const r = t.shape.length;
    const k = t.shape[r - 1];
    const q = v.shape.length;
    return (
      r >= 1 &&
      q >= 1 &&
      q <= r &&
      k > 0 &&
      v.shape[q - 1] === k &&
      v.shape.every((d, i) => i === q - 1 || d === 1)
    );
  };
  if (vec(a, b)) return { x: a, v: b, swap: false };
  if (vec(b, a)) return { x: b, v: a, swap: true };
  return null;
}

function lastAxisKernel(name: string, op: 'add' | 'sub' | 'mul' | 'div'): tf.KernelFunc {
  const self: tf.KernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const a = input(args.inputs, 'a');
    const b = input(args.inputs, 'b');
    const m = lastAxisVector(a, b);
    // Equal shapes (XNNPACK-backed in stock) and every other broadcast: stock.
    if (!m || tf.util.arraysEqual(a.shape, b.shape))
      return runStock(backend, name, self, args.inputs, args.attrs);
    const out = backend.makeOutput(m.x.shape, 'float32');
    if (m.x.shape.some((d) => d === 0)) return out;
    bcastLastModule(f32(backend, m.x), f32(backend, m.v), f32(backend, out), op, m.swap);
    return out;
  };
  return self;
}

/**
 * `Multiply`, `Sub` and `RealDiv` for wasm: a float32 tensor and a vector along its last axis (see
 * {@link lastAxisVector}; batch norm's forward and gradient in training mode are made of these) in
 * the project's module, one SIMD pass, the same float32 operation per element as the stock kernels'
 * broadcast (bit-identical results), which index every element through the broadcast shapes (about
 * 2-5x slower on ResNet-20's feature maps). Every other case (equal shapes, other broadcasts, int32)
 * goes to the stock kernel.
 */
export const multiply = lastAxisKernel('Multiply', 'mul');
/** `Sub` of a last-axis vector, in the project's module (bit-identical to stock). */
export const sub = lastAxisKernel('Sub', 'sub');
/** `RealDiv` by a last-axis vector, in the project's module (bit-identical to stock). */
export const realDiv = lastAxisKernel('RealDiv', 'div');
