import * as tf from '@tensorflow/tfjs-core';
import {
  assertNHWC,
  f32,
  free,
  input,
  runWasm,
  zeros,
  type BackendWasm,
  type KernelArgs,
  type Pad,
} from './wasmCalls.ts';
import { unneededInputShape } from '../unneededGrads.ts';
import {
  conv3x3FilterGrad,
  conv3x3FilterGradFits,
  isSame3x3,
  winogradFits,
  winogradReady,
} from './winograd.ts';
import { convGemmFilterGrad, patchesFit, patchGeometry, type PatchGeometry } from './patches.ts';

interface Attrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

type Info = tf.backend_util.Conv2DInfo;

/**
 * `Conv2DBackpropFilter` for wasm: the gradient of a 2-D convolution with respect to its filter,
 *
 *   dW[kh, kw, ci, co] = sum_{n, oh, ow} x[n, oh*sh + kh - padTop, ow*sw + kw - padLeft, ci] * dy[n, oh, ow, co],
 *
 * by Winograd F(2x2, 3x3) for the convolutions `Conv2D` computes so ({@link winogradCase}), else by
 * one of two XNNPACK-backed strategies, whichever is faster for the shapes (see
 * {@link useConvStrategy}): {@link dwByGemm}, a matrix product of the unrolled input patches with
 * dy, or {@link dwByConv}, a convolution of x^T by dy^T. Any stride, 'same' / 'valid' / explicit
 * padding, NHWC only (the op's gradient has no dilations, so neither has this kernel).
 */
export function conv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const p = prepare(args);
  // Inside a fused convolution's gradient that only the input's derivative is wanted from
  // (engine/unneededGrads.ts): the engine discards this result unread.
  if (p.empty || unneededInputShape(p.info.filterShape)) return zeros(p.backend, p.info.filterShape);
  if (moduleCase(p.info, p.x, p.dy)) {
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outChannels: k } = p.info;
    const out = p.backend.makeOutput([3, 3, c, k], 'float32');
    conv3x3FilterGrad(f32(p.backend, p.x), f32(p.backend, p.dy), [n, h, w, c], k, f32(p.backend, out));
    return out;
  }
  if (paddedCase(p.info, p.x, p.dy)) return paddedFilterGrad(p.backend, p.x, p.dy, p.info);
  const g = patchCase(p.info, p.x, p.dy);
  if (g) {
    const out = p.backend.makeOutput(p.info.filterShape, 'float32');
    convGemmFilterGrad(f32(p.backend, p.x), f32(p.backend, p.dy), f32(p.backend, out), g);
    return out;
  }
  return useConvStrategy(p.info)
    ? dwByConv(p.backend, p.x, p.dy, p.info)
    : dwByGemm(p.backend, p.x, p.dy, p.info);
}

/**
 * The 3x3 'same' convolutions whose filter gradient the module computes ({@link
 * conv3x3FilterGradFits}): by Winograd (channels multiples of 4 and 8; 2.25x fewer multiplications
 * than either XNNPACK strategy) or, with one input channel, directly (12 register accumulators over
 * every pixel; the XNNPACK strategies pack a dy-sized operand on every call).
 */
function moduleCase(info: Info, x: tf.TensorInfo, dy: tf.TensorInfo): boolean {
  return (
    winogradReady() &&
    x.dtype === 'float32' &&
    dy.dtype === 'float32' &&
    isSame3x3(info) &&
    conv3x3FilterGradFits(info.inChannels, info.outChannels)
  );
}

/**
 * A strided or 1x1 convolution whose channels fit the module's products (patches.c): its patches
 * unrolled a block of output positions at a time, each block's product with dy added into dw.
 * XNNPACK's strategies below ran a ResNet's downsampling layers at about 3 GMAC/s.
 */
function patchCase(info: Info, x: tf.TensorInfo, dy: tf.TensorInfo): PatchGeometry | null {
  const oneByOne = info.filterHeight === 1 && info.filterWidth === 1;
  if (info.strideHeight === 1 && info.strideWidth === 1 && !oneByOne) return null;
  if (!winogradReady() || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const g = patchGeometry(info);
  return g && patchesFit(g, 'filter') ? g : null;
}

/**
 * A 3x3 'same' convolution whose input channels are not a multiple of 4 but would fit Winograd if
 * they were: the first layer of a colour model (3 channels; cifar-cnn's and ResNet-20's filter
 * gradient there took 10 ms of a 64-image step by the matrix product, whose patches are unrolled
 * in JavaScript).
 */
function paddedCase(info: Info, x: tf.TensorInfo, dy: tf.TensorInfo): boolean {
  const c4 = (info.inChannels + 3) & ~3;
  return (
    winogradReady() &&
    x.dtype === 'float32' &&
    dy.dtype === 'float32' &&
    info.inChannels % 4 !== 0 &&
    isSame3x3(info) &&
    winogradFits(c4, info.outChannels)
  );
}

/**
 * The filter gradient of {@link paddedCase}: x with zero channels appended up to a multiple of 4, the
 * module's Winograd filter gradient of that, and the real channels' slices of it (a zero channel's
 * products are zero: the others' sums are those of the unpadded input).
 */
function paddedFilterGrad(
  backend: BackendWasm,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: Info,
): tf.TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outChannels: k } = info;
  const c4 = (c + 3) & ~3;
  const xp = backend.makeOutput([n, h, w, c4], 'float32');
  const dw4 = backend.makeOutput([3, 3, c4, k], 'float32');
  const out = backend.makeOutput([3, 3, c, k], 'float32');
  try {
    const xv = f32(backend, x);
    const pv = f32(backend, xp);
    for (let i = 0, pixels = n * h * w; i < pixels; i++) {
      for (let j = 0; j < c; j++) pv[i * c4 + j] = xv[i * c + j];
      for (let j = c; j < c4; j++) pv[i * c4 + j] = 0;
    }
    conv3x3FilterGrad(pv, f32(backend, dy), [n, h, w, c4], k, f32(backend, dw4));
    // The module may have grown the heap: fresh views.
    const d4 = f32(backend, dw4);
    const ov = f32(backend, out);
    for (let t = 0; t < 9; t++)
      for (let j = 0; j < c; j++)
        ov.set(d4.subarray((t * c4 + j) * k, (t * c4 + j + 1) * k), (t * c + j) * k);
    return out;
  } finally {
    free(backend, xp, dw4);
  }
}

/**
 * Both strategies pay for XNNPACK packing a dy-sized operand as weights (on every call, since dy is
 * new each time). Timed with tf.profile inside whole gradient passes: the convolution is faster
 * from a batch of about 4 up (small-cnn batch 64, conv2: 54 vs 72 ms; darknet tiny batch 8: 5-25%
 * less per layer), but with batch 1-2 its convolution has 1-2 input channels and the matrix product
 * wins (darknet tiny batch 1, all layers: 125 vs 180 ms); so do tiny patches, KH*KW*Ci <= 32, as in
 * a first layer (small-cnn conv1, batch 64: 22 vs 31 ms).
 */
export function useConvStrategy(info: Info): boolean {
  const patch = info.filterHeight * info.filterWidth * info.inChannels;
  const unrolled = patch * info.batchSize * info.outHeight * info.outWidth;
  // Past 2^26 floats (256 MB) the unrolled patches cost more memory than they save time.
  return (info.batchSize >= 4 && patch > 32) || unrolled > 2 ** 26;
}

/** Checks and geometry shared by both strategies. */
export function prepare({ inputs, backend: b, attrs }: KernelArgs) {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const dy = input(inputs, 'dy');
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Attrs;
  assertNHWC('Conv2DBackpropFilter', dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: co } = info;
  if (dy.shape.join() !== [n, oh, ow, co].join()) {
    throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${[n, oh, ow, co]}]`);
  }
  const empty = n * oh * ow === 0 || tf.util.sizeFromShape(filterShape) === 0;
  return { backend, x, dy, info, empty };
}

/**
 * dW as a matrix product: A [KH*KW*Ci, N*OH*OW] holds the input patches (A[(kh, kw, ci), (n, oh, ow)]
 * = x[n, oh*sh + kh - padTop, ow*sw + kw - padLeft, ci], zero in the padding), built on the wasm
 * heap; dW = A . dy [N*OH*OW, Co] by the wasm `BatchMatMul` (XNNPACK's fully connected operator,
 * with dy as its weights).
 */
export function dwByGemm(
  backend: BackendWasm,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: Info,
): tf.TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const cols = n * oh * ow;
  const a = backend.makeOutput([1, kh * kw * ci, cols], 'float32');
  const xv = f32(backend, x);
  const av = f32(backend, a);
  const block = 16; // output positions per block: reads of x stay contiguous, writes short runs
  for (let p = 0; p < kh; p++) {
    for (let q = 0; q < kw; q++) {
      const row0 = (p * kw + q) * ci;
      let col = 0;
      for (let b0 = 0; b0 < n; b0++) {
        for (let i = 0; i < oh; i++, col += ow) {
          const r = i * sh + p - top;
          if (r < 0 || r >= h) {
            for (let c = 0; c < ci; c++) av.fill(0, (row0 + c) * cols + col, (row0 + c) * cols + col + ow);
            continue;
          }
          const xRow = (b0 * h + r) * w;
          for (let j0 = 0; j0 < ow; j0 += block) {
            const j1 = Math.min(ow, j0 + block);
            for (let c = 0; c < ci; c++) {
              const dst = (row0 + c) * cols + col;
              for (let j = j0; j < j1; j++) {
                const s = j * sw + q - left;
                av[dst + j] = s < 0 || s >= w ? 0 : xv[(xRow + s) * ci + c];
              }
            }
          }
        }
      }
    }
  }
  // A reshaped view sharing dy's buffer. The wasm BatchMatMul caches its XNNPACK operator (dy packed
  // as weights) by dy's buffer until dy is disposed; the view's shape is always [1, N*OH*OW, Co].
  backend.incRef(dy.dataId);
  const b = { dataId: dy.dataId, shape: [1, cols, co], dtype: 'float32' as const };
  try {
    const prod = runWasm(backend, 'BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
    try {
      return runWasm(backend, 'Reshape', { x: prod }, { shape: info.filterShape });
    } finally {
      free(backend, prod);
    }
  } finally {
    free(backend, a, b);
  }
}

/**
 * dW as one XNNPACK convolution (the wasm `Conv2D`) in which the batch and the channels trade
 * places: input x^T [Ci, H, W, N], filter dy^T [OH, OW, N, Co], stride 1, dilation (sh, sw),
 * explicit padding (padTop, ., padLeft, .), output [Ci, KH, KW, Co], transposed to [KH, KW, Ci, Co].
 * Rows and columns of x that no window reaches (a stride that does not divide the input) are
 * sliced off first, so the padding is never negative.
 */
export function dwByConv(
  backend: BackendWasm,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: Info,
): tf.TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // Rows (columns) of x from 0 that some window reaches; beyond H (W) they are bottom (right) padding.
  const needH = (oh - 1) * sh + kh - top;
  const needW = (ow - 1) * sw + kw - left;
  const cropH = Math.min(h, needH);
  const cropW = Math.min(w, needW);
  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo) => (temps.push(t), t);
  try {
    const xc =
      cropH < h || cropW < w
        ? keep(runWasm(backend, 'Slice', { x }, { begin: [0, 0, 0, 0], size: [n, cropH, cropW, ci] }))
        : x;
    const xT = keep(runWasm(backend, 'Transpose', { x: xc }, { perm: [3, 1, 2, 0] })); // [Ci, H', W', N]
    const dyT = keep(batchToInner(backend, dy)); // [OH, OW, N, Co]
    const g = keep(
      runWasm(
        backend,
        'Conv2D',
        { x: xT, filter: dyT },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, needH - cropH],
            [left, needW - cropW],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [sh, sw],
        },
      ),
    ); // [Ci, KH, KW, Co]
    return runWasm(backend, 'Transpose', { x: g }, { perm: [1, 2, 0, 3] });
  } finally {
    free(backend, ...temps);
  }
}

/**
 * [N, OH, OW, C] -> [OH, OW, N, C] by copying rows of C (the wasm Transpose kernel moves one element
 * at a time, several times slower for this permutation).
 */
function batchToInner(backend: BackendWasm, t: tf.TensorInfo): tf.TensorInfo {
  const [n, oh, ow, c] = t.shape;
  const out = backend.makeOutput([oh, ow, n, c], 'float32');
  const src = f32(backend, t);
  const dst = f32(backend, out);
  const pixels = oh * ow;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < pixels; p++) {
      const s0 = (b * pixels + p) * c;
      const d0 = (p * n + b) * c;
      if (c >= 16) dst.set(src.subarray(s0, s0 + c), d0);
      else for (let k = 0; k < c; k++) dst[d0 + k] = src[s0 + k];
    }
  }
  return out;
}
