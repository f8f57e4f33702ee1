/**
 * The Winograd F(2x2, 3x3) convolution of winograd.c, compiled to WebAssembly (SIMD128) and embedded
 * in winogradWasm.ts. It has its own linear memory: a call copies the input in and the output out
 * (about 1 ms for a batch of 100 14x14x32 maps, against 30-60 ms of arithmetic).
 * {@link loadWinograd} compiles it (asynchronously: browsers refuse synchronous compilation of
 * modules over 4 KB on the main thread); until then, and where WebAssembly SIMD is missing,
 * {@link winogradReady} is false and the wasm `Conv2D` uses XNNPACK.
 *
 *   await loadWinograd();
 *   conv3x3(x, [n, h, w, c], filter, k); // Float32Array [n, h, w, k]
 */
import { WINOGRAD_WASM_BASE64 } from './winogradWasm.ts';

interface Exports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  reset(): void;
  filter_transform(w: number, u: number, c: number, k: number): void;
  conv(
    x: number,
    u: number,
    y: number,
    work: number,
    n: number,
    h: number,
    w: number,
    c: number,
    k: number,
  ): void;
  conv_c1(x: number, w: number, y: number, n: number, h: number, wd: number, k: number): void;
  conv_k1(x: number, w: number, y: number, n: number, h: number, wd: number, c: number): void;
  bias_act(y: number, bias: number, rows: number, k: number, act: number, alpha: number): void;
  conv_filter_grad(
    x: number,
    dy: number,
    dw: number,
    du: number,
    work: number,
    n: number,
    h: number,
    w: number,
    c: number,
    k: number,
  ): void;
}

let wino: Exports | null = null;
let loading: Promise<boolean> | null = null;
let calls = 0;

/** How many convolutions the module has computed in this thread (for tests and benchmarks). */
export function winogradCalls(): number {
  return calls;
}

/** Tiles per block in winograd.c (TB). */
const TILES_PER_BLOCK = 32;

function bytes(): Uint8Array {
  const s = atob(WINOGRAD_WASM_BASE64);
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Compiles the module once; resolves to whether it is usable (false without WebAssembly SIMD). */
export function loadWinograd(): Promise<boolean> {
  loading ??= WebAssembly.instantiate(bytes() as BufferSource)
    .then(({ instance }: WebAssembly.WebAssemblyInstantiatedSource) => {
      wino = instance.exports as unknown as Exports;
      return true;
    })
    .catch(() => false);
  return loading;
}

/** Whether {@link loadWinograd} has finished and the module works here. */
export function winogradReady(): boolean {
  return wino !== null;
}

/** The shapes the module computes: 3x3 filter, channels in multiples of 4 (in) and 8 (out). */
export function winogradFits(c: number, k: number): boolean {
  return c > 0 && k > 0 && c % 4 === 0 && k % 8 === 0;
}

/**
 * Whether a convolution's geometry is the one the module computes: a 3x3 filter, stride 1, no
 * dilation, one pixel of zero padding on every side, so the output has the input's size.
 */
export function isSame3x3(info: {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  padInfo: { top: number; bottom: number; left: number; right: number };
}): boolean {
  const p = info.padInfo;
  return (
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    p.top === 1 &&
    p.bottom === 1 &&
    p.left === 1 &&
    p.right === 1 &&
    info.outHeight === info.inHeight &&
    info.outWidth === info.inWidth
  );
}

/** The activations {@link conv3x3} can apply after the bias (FusedConv2D's, but prelu and the rest). */
export const ACTIVATIONS = ['linear', 'relu', 'relu6', 'leakyrelu'] as const;

/** A bias [k] added to every output pixel, then an activation (leaky ReLU with slope `alpha`). */
export interface Epilogue {
  bias?: Float32Array;
  activation: (typeof ACTIVATIONS)[number];
  alpha?: number;
}

/** The 3x3 'same' convolutions {@link conv3x3} computes: Winograd's, or one channel in or out. */
export function conv3x3Fits(c: number, k: number): boolean {
  return winogradFits(c, k) || (c === 1 && k > 0 && k % 4 === 0) || (k === 1 && c > 0 && c % 4 === 0);
}

/**
 * y[n, i, j, o] = sum_{a, b, ch} x[n, i + a - 1, j + b - 1, ch] * filter[a, b, ch, o] (zeros
 * outside the image): a 3x3, stride-1 'same' convolution of x [n, h, w, c] by filter [3, 3, c, k],
 * by Winograd F(2x2, 3x3) when the channels fit ({@link winogradFits}), else directly for one input
 * channel (k a multiple of 4) or one output channel (c a multiple of 4). The module must be loaded.
 * The result is a view into the module's memory, valid until the next call: copy it out.
 */
export function conv3x3(
  x: Float32Array,
  shape: readonly [number, number, number, number],
  filter: Float32Array,
  k: number,
  epilogue?: Epilogue,
): Float32Array {
  const m = wino;
  if (!m) throw new Error('conv3x3: the module is not loaded (await loadWinograd() first)');
  const [n, h, w, c] = shape;
  if (!conv3x3Fits(c, k)) throw new Error(`conv3x3: ${c} -> ${k} channels do not fit`);
  if (x.length !== n * h * w * c || filter.length !== 9 * c * k)
    throw new Error('conv3x3: input or filter size does not match the shape');
  if (epilogue && (k % 4 !== 0 || (epilogue.bias && epilogue.bias.length !== k)))
    throw new Error('conv3x3: a bias and activation need k a multiple of 4 and k biases');
  const wide = winogradFits(c, k);
  m.reset();
  const xp = m.alloc(x.length * 4);
  const wp = m.alloc(filter.length * 4);
  const up = wide ? m.alloc(16 * c * k * 4) : 0;
  const yp = m.alloc(n * h * w * k * 4);
  const work = wide ? m.alloc(16 * TILES_PER_BLOCK * (c + k) * 4) : 0;
  const bp = epilogue?.bias ? m.alloc(k * 4) : 0;
  // Views only after the last allocation: growing the memory detaches older ones.
  const heap = new Float32Array(m.memory.buffer);
  heap.set(x, xp / 4);
  heap.set(filter, wp / 4);
  if (epilogue?.bias) heap.set(epilogue.bias, bp / 4);
  if (wide) {
    m.filter_transform(wp, up, c, k);
    m.conv(xp, up, yp, work, n, h, w, c, k);
  } else if (c === 1) m.conv_c1(xp, wp, yp, n, h, w, k);
  else m.conv_k1(xp, wp, yp, n, h, w, c);
  if (epilogue) {
    m.bias_act(yp, bp, n * h * w, k, ACTIVATIONS.indexOf(epilogue.activation), epilogue.alpha ?? 0);
  }
  calls++;
  return new Float32Array(m.memory.buffer, yp, n * h * w * k);
}

/**
 * The filter gradient of {@link conv3x3}'s Winograd case: dw[a, b, ch, o] = sum_{n, i, j} x[n, i + a - 1,
 * j + b - 1, ch] * dy[n, i, j, o] (zeros outside the image), for x [n, h, w, c] and dy [n, h, w, k],
 * as sum over tiles of G^T [(B^T d B) . (A dY A^T)] G (the forward's transforms, transposed). A view
 * into the module's memory, valid until the next call.
 */
export function winogradFilterGrad(
  x: Float32Array,
  dy: Float32Array,
  shape: readonly [number, number, number, number],
  k: number,
): Float32Array {
  const m = wino;
  if (!m) throw new Error('winogradFilterGrad: the module is not loaded (await loadWinograd() first)');
  const [n, h, w, c] = shape;
  if (!winogradFits(c, k)) throw new Error(`winogradFilterGrad: ${c} -> ${k} channels do not fit`);
  if (x.length !== n * h * w * c || dy.length !== n * h * w * k)
    throw new Error('winogradFilterGrad: input or gradient size does not match the shape');
  m.reset();
  const xp = m.alloc(x.length * 4);
  const dyp = m.alloc(dy.length * 4);
  const dwp = m.alloc(9 * c * k * 4);
  const dup = m.alloc(16 * c * k * 4);
  const work = m.alloc(16 * TILES_PER_BLOCK * (c + k) * 4);
  const heap = new Float32Array(m.memory.buffer);
  heap.set(x, xp / 4);
  heap.set(dy, dyp / 4);
  m.conv_filter_grad(xp, dyp, dwp, dup, work, n, h, w, c, k);
  calls++;
  return new Float32Array(m.memory.buffer, dwp, 9 * c * k);
}
