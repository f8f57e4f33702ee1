import * as tf from '@tensorflow/tfjs-core';
import {
  assertNHWC,
  f32,
  free,
  input,
  runWasm,
  type BackendWasm,
  type KernelArgs,
  type Pad,
  zeros,
} from './wasmCalls.ts';
import { unneededInputShape } from '../unneededGrads.ts';
import { asInputGradient, winogradReady } from './winograd.ts';
import { convGemmInputGrad, flipFilterModule, patchesFit, patchGeometry } from './patches.ts';

interface Attrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/**
 * `Conv2DBackpropInput` for wasm (the input gradient of every convolution, so of every attack
 * step, and the forward pass of `conv2dTranspose`), replacing the stock kernel of
 * tfjs-backend-wasm 4.22, which is correct but a plain C++ loop (about 1 GMAC/s here, most of a
 * training step's time). The gradient
 *
 *   dx[n, r, s, ci] = sum_{oh, ow, kh, kw, co : r = oh*sh + kh - padTop, s = ow*sw + kw - padLeft} dy[n, oh, ow, co] * W[kh, kw, ci, co]
 *
 * is a stride-1 XNNPACK convolution (the wasm `Conv2D`) of dy, with zeros inserted between its rows
 * and columns when the stride is above 1, by the filter turned 180 degrees with its channels
 * swapped, W'[a, b, co, ci] = W[KH-1-a, KW-1-b, ci, co], under padding (KH-1-padTop, KW-1-padLeft)
 * before and what makes the output [N, H, W, Ci] after. Rows of dy whose windows lie wholly in the
 * padding are dropped rather than padded negatively. NHWC only.
 */
export function conv2dBackpropInput({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const dy = input(inputs, 'dy');
  const filter = input(inputs, 'filter');
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Attrs;
  assertNHWC('Conv2DBackpropInput', dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  // Inside a fused convolution's gradient that only the filter's derivative is wanted from (a
  // training step's first layer; engine/unneededGrads.ts): the engine discards this result unread.
  if (unneededInputShape(inputShape)) return zeros(backend, inputShape);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  if (dy.shape.join() !== [n, oh, ow, co].join()) {
    throw new Error(`Conv2DBackpropInput: dy has shape [${dy.shape}], expected [${[n, oh, ow, co]}]`);
  }
  // Along each axis, the dilated dy has (o-1)*s+1 rows; padding before is k-1-padBefore and after
  // whatever makes the output length equal the input's; negative amounts crop the dilated dy.
  const axis = (size: number, o: number, s: number, k: number, before: number) => {
    const len = (o - 1) * s + 1;
    const lo = k - 1 - before;
    const hi = size + k - 1 - lo - len;
    return { len, lo, hi };
  };
  // Strided or 1x1: the module's product of dy by the filter, then each row back to its patch's
  // pixels (patches.c); the zero-dilated dy below would do 4x the multiplications at stride 2.
  const g = sh > 1 || sw > 1 || (kh === 1 && kw === 1) ? patchGeometry(info) : null;
  if (
    g &&
    winogradReady() &&
    dy.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    patchesFit(g, 'input')
  ) {
    const out = backend.makeOutput(inputShape, 'float32');
    convGemmInputGrad(f32(backend, dy), f32(backend, filter), f32(backend, out), g);
    return out;
  }
  const ah = axis(h, oh, sh, kh, info.padInfo.top);
  const aw = axis(w, ow, sw, kw, info.padInfo.left);

  const temps: tf.TensorInfo[] = [];
  try {
    const wT = temps[temps.push(flipFilter(backend, filter)) - 1]; // [KH, KW, Co, Ci]
    let src = dy;
    let padH = [ah.lo, ah.hi];
    let padW = [aw.lo, aw.hi];
    if (sh > 1 || sw > 1 || ah.lo < 0 || ah.hi < 0 || aw.lo < 0 || aw.hi < 0) {
      // Materialise the dilated, cropped and padded dy; the convolution then pads nothing.
      src = temps[temps.push(dilatePad(backend, dy, sh, sw, ah, aw)) - 1];
      padH = [0, 0];
      padW = [0, 0];
    }
    return asInputGradient(() =>
      runWasm(
        backend,
        'Conv2D',
        { x: src, filter: wT },
        { strides: [1, 1], pad: [[0, 0], padH, padW, [0, 0]], dataFormat: 'NHWC', dilations: [1, 1] },
      ),
    );
  } finally {
    free(backend, ...temps);
  }
}

/** W [KH, KW, Ci, Co] -> W' [KH, KW, Co, Ci], W'[a, b, o, i] = W[KH-1-a, KW-1-b, i, o] (in the module once it is loaded). */
function flipFilter(backend: BackendWasm, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  if (winogradReady()) {
    flipFilterModule(f32(backend, filter), filter.shape, f32(backend, out));
    return out;
  }
  const src = f32(backend, filter);
  const dst = f32(backend, out);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const s0 = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
      const d0 = (a * kw + b) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[d0 + o * ci + i] = src[s0 + i * co + o];
      }
    }
  }
  return out;
}

/**
 * dy [N, OH, OW, C] with s-1 zeros between rows (columns), then `lo` zeros before and `hi` after
 * (negative: that many rows cropped): [N, lo + len + hi, ., C].
 */
function dilatePad(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  sh: number,
  sw: number,
  ah: { len: number; lo: number; hi: number },
  aw: { len: number; lo: number; hi: number },
): tf.TensorInfo {
  const [n, oh, ow, c] = dy.shape;
  const hp = ah.lo + ah.len + ah.hi;
  const wp = aw.lo + aw.len + aw.hi;
  const out = backend.makeOutput([n, hp, wp, c], 'float32');
  const src = f32(backend, dy);
  const dst = f32(backend, out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      const r = ah.lo + i * sh;
      if (r < 0 || r >= hp) continue;
      for (let j = 0; j < ow; j++) {
        const q = aw.lo + j * sw;
        if (q < 0 || q >= wp) continue;
        const s0 = ((b * oh + i) * ow + j) * c;
        dst.set(src.subarray(s0, s0 + c), ((b * hp + r) * wp + q) * c);
      }
    }
  }
  return out;
}
