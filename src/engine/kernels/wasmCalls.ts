/**
 * How the project's wasm kernels use the wasm backend. A kernel function runs inside the engine's
 * `runKernel`, below the tensor level: it gets and returns `TensorInfo`s (dataId, shape, dtype), not
 * `Tensor`s, and the engine (with the `IS_TEST` flag) checks that it leaves exactly its outputs behind.
 * So the kernels here never call `tf.*` ops or `tf.tidy` (that would go through the engine again and
 * track tensors in the caller's scope); like tfjs's own kernels that build on others (the cpu
 * backend's `transpose(...)` inside `Conv2DBackpropFilter`, wasm's `FusedBatchNorm`), they
 *  - call another wasm kernel's `kernelFunc` directly ({@link runWasm}), which returns a `TensorInfo`
 *    the caller owns; a replacement that hands some cases to the stock kernel it replaced calls that
 *    one through {@link runStock} (by then `tf.getKernel(name, 'wasm')` is the replacement itself);
 *  - free every intermediate exactly once with `backend.disposeData(dataId)` ({@link free}); a
 *    `Reshape` result shares its input's buffer with a reference count, so freeing it is also right;
 *  - allocate outputs with `backend.makeOutput` (uninitialised memory: {@link zeros} clears it) and
 *    read or write tensors through `backend.typedArrayFromHeap`, taking those views only after the
 *    last allocation, since an allocation can grow (and so detach) the wasm heap.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type { BackendWasm };

/** Runs the wasm backend's kernel `name` on `inputs`; the result belongs to the caller. */
export function runWasm(
  backend: BackendWasm,
  name: string,
  inputs: Record<string, tf.TensorInfo>,
  attrs: object = {},
): tf.TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`the wasm backend has no '${name}' kernel, which advlens' wasm kernels build on`);
  const out = k.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${name}' returned several tensors; expected one`);
  return out;
}

/**
 * Stock wasm kernels that the project's kernels replaced, by name: filled by `registerWasmKernels`
 * before it unregisters them, read by {@link runStock} and `restoreStockWasmKernels`.
 */
export const stockKernels = new Map<string, tf.KernelConfig>();
/** Stock kernels whose setup (binding their C++ function) has run, per backend. */
const setUp = new WeakMap<object, Set<string>>();

/**
 * Runs the stock wasm kernel `name` that a project kernel (`self`) replaced, for the cases the
 * replacement hands back; the result belongs to the caller. A stock kernel unregistered before the
 * backend started has not run its setup, so this runs it once per backend.
 */
export function runStock(
  backend: BackendWasm,
  name: string,
  self: tf.KernelFunc,
  inputs: tf.NamedTensorInfoMap,
  attrs: object = {},
): tf.TensorInfo {
  const k = stockKernels.get(name) ?? tf.getKernel(name, 'wasm');
  if (!k || k.kernelFunc === self) {
    throw new Error(
      `the stock wasm '${name}' kernel, which advlens' '${name}' hands some cases to, is not known`,
    );
  }
  let done = setUp.get(backend);
  if (!done) setUp.set(backend, (done = new Set()));
  if (k.setupFunc && !done.has(name)) k.setupFunc(backend);
  done.add(name);
  const out = k.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${name}' returned several tensors; expected one`);
  return out;
}

/** Frees intermediate results of {@link runWasm} (each exactly once). */
export function free(backend: BackendWasm, ...infos: tf.TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

/** A new zero-filled float32 output of `shape`. */
export function zeros(backend: BackendWasm, shape: number[]): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  backend.typedArrayFromHeap(out).fill(0);
  return out;
}

/** The wasm heap view of a float32 tensor (valid until the next allocation). */
export function f32(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Rejects NCHW data with a message that says what to do instead. */
export function assertNHWC(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(
      `advlens' wasm ${kernel} supports dataFormat 'NHWC' (channels last) only, got '${dataFormat}'; transpose the input to NHWC or use the cpu backend`,
    );
  }
}

/** A convolution's or pooling's padding attribute: 'same', 'valid', a number, or explicit pairs. */
export type Pad = Parameters<typeof tf.backend_util.computeConv2DInfo>[4];

/** The arguments tfjs passes a kernel function. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** The kernel input `name`, which must be present. */
export function input(inputs: tf.NamedTensorInfoMap, name: string): tf.TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`kernel input '${name}' is missing`);
  return t;
}

/** A reduction over a leading run of axes (0..r-1, r < rank): `outer` rows of `inner` values. */
export interface LeadingReduction {
  inner: number;
  outer: number;
  /** The output's shape (the reduced axes kept as 1s when `keepDims`). */
  outShape: number[];
}

/**
 * The plan of `Sum` or `Mean` (attrs `axis`, `keepDims`) on `x` when it reduces a leading run of
 * axes of a non-empty tensor; null for any other case (which the stock kernel takes).
 */
export function leadingReduction(x: tf.TensorInfo, attrs: unknown): LeadingReduction | null {
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  const size = tf.util.sizeFromShape(x.shape);
  if (!leading || size === 0) return null;
  const r = axes.length;
  const inner = tf.util.sizeFromShape(x.shape.slice(r));
  const outShape = keepDims ? x.shape.map((d, i) => (i < r ? 1 : d)) : x.shape.slice(r);
  return { inner, outer: size / inner, outShape };
}
