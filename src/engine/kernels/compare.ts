import * as tf from '@tensorflow/tfjs-core';
import { f32, input, runStock, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { compareModule, minMaxModule, winogradReady } from './winograd.ts';

/**
 * `Greater` and `Select` for wasm on the cases where the stock kernels index every element through
 * the broadcast shapes (about 8 and 5 ns an element): float32 `a > b` with b (or a) a single value or
 * of a's shape, and `where(condition, t, e)` with all three of one shape (float32 t and e). IG-Norm's
 * second order runs them over whole feature maps (max pooling's second-order gradient,
 * engine/maxPoolSecondOrder.ts: 16 and 10 ms a call on cifar-cnn's first layer, ~3% of its step).
 * One SIMD pass of the project's module each (simd.c; a typed-array loop where the module works on a
 * memory of its own), the same comparisons and choices as the stock kernels (NaN compares false); every
 * other case goes to the stock kernel.
 */
export function greater(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const a = input(args.inputs, 'a');
  const b = input(args.inputs, 'b');
  const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);
  const same = tf.util.arraysEqual(a.shape, b.shape);
  const fits =
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    (same ||
      (size(b) === 1 && b.shape.length <= a.shape.length) ||
      (size(a) === 1 && a.shape.length <= b.shape.length));
  if (!fits) return runStock(backend, 'Greater', greater, args.inputs, args.attrs);
  const scalarA = !same && size(a) === 1;
  const outShape = scalarA ? b.shape : a.shape;
  const out = backend.makeOutput(outShape, 'bool');
  const n = tf.util.sizeFromShape(outShape);
  if (n === 0) return out;
  const x = backend.typedArrayFromHeap(a) as Float32Array;
  const y = backend.typedArrayFromHeap(b) as Float32Array;
  const o = backend.typedArrayFromHeap(out) as Uint8Array;
  // Against a single value: that value, the other operand, and whether the value is the left one.
  const s = same ? 0 : scalarA ? x[0] : y[0];
  const v = scalarA ? y : x;
  const inModule =
    winogradReady() &&
    compareModule(same ? { greater: x, than: y, out: o } : { greater: v, than: s, swap: scalarA, out: o });
  if (inModule) return out;
  if (same) for (let i = 0; i < n; i++) o[i] = x[i] > y[i] ? 1 : 0;
  else if (scalarA) for (let i = 0; i < n; i++) o[i] = s > v[i] ? 1 : 0;
  else for (let i = 0; i < n; i++) o[i] = v[i] > s ? 1 : 0;
  return out;
}

/** `Select` (tf.where) for wasm: condition, t and e of one shape, t and e float32; else stock. */
export function select(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const c = input(args.inputs, 'condition');
  const t = input(args.inputs, 't');
  const e = input(args.inputs, 'e');
  const fits =
    c.dtype === 'bool' &&
    t.dtype === 'float32' &&
    e.dtype === 'float32' &&
    tf.util.arraysEqual(c.shape, t.shape) &&
    tf.util.arraysEqual(t.shape, e.shape);
  if (!fits) return runStock(backend, 'Select', select, args.inputs, args.attrs);
  const out = backend.makeOutput(t.shape, 'float32');
  const n = tf.util.sizeFromShape(t.shape);
  if (n === 0) return out;
  const cv = backend.typedArrayFromHeap(c) as Uint8Array;
  const tv = backend.typedArrayFromHeap(t) as Float32Array;
  const ev = backend.typedArrayFromHeap(e) as Float32Array;
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  if (!(winogradReady() && compareModule({ select: cv, t: tv, e: ev, out: o })))
    for (let i = 0; i < n; i++) o[i] = cv[i] ? tv[i] : ev[i];
  return out;
}

function minMaxKernel(name: 'Maximum' | 'Minimum', op: 'max' | 'min'): tf.KernelFunc {
  const self: tf.KernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const a = input(args.inputs, 'a');
    const b = input(args.inputs, 'b');
    const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);
    const same = tf.util.arraysEqual(a.shape, b.shape);
    const scalar = same
      ? null
      : size(b) === 1 && b.shape.length <= a.shape.length
        ? 'b'
        : size(a) === 1 && a.shape.length <= b.shape.length
          ? 'a'
          : undefined;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || scalar === undefined || !winogradReady())
      return runStock(backend, name, self, args.inputs, args.attrs);
    const outShape = scalar === 'a' ? b.shape : a.shape;
    const out = backend.makeOutput(outShape, 'float32');
    if (size(out) === 0) return out;
    minMaxModule(op, f32(backend, a), f32(backend, b), f32(backend, out), scalar);
    return out;
  };
  return self;
}

/**
 * `Maximum` and `Minimum` for wasm: float32 operands of equal shapes or one a single value (the L-inf
 * projection of every PGD step: about 4 ms each on a CIFAR batch of 128 in the stock kernels, which
 * index every element through the broadcast shapes, 0.2 ms here) in one SIMD pass of the module, the
 * stock result bit for bit (b where b > a, resp. b < a, else a: NaN in a wins, -0 and 0 kept in
 * order); every other case goes to the stock kernel.
 */
export const maximum = minMaxKernel('Maximum', 'max');
/** `Minimum` for wasm: see {@link maximum}. */
export const minimum = minMaxKernel('Minimum', 'min');
