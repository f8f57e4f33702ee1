/**
 * The module's convolutions as matrix products over unrolled input patches (patches.c): forward,
 * input gradient and filter gradient of any 2-D convolution without dilation, NHWC, for the
 * geometries Winograd does not take. The kernels use them for strided convolutions (a ResNet's
 * downsampling layers), where XNNPACK's direct convolution ran at about 5 GMAC/s and the input
 * gradient, a stride-1 convolution of dy with zeros inserted, did 4x the multiplications at stride 2,
 * and for 1x1 convolutions (darknet's bottlenecks and head), where the product measured 1.1-1.3x
 * XNNPACK's (15-22 against 14-17 GMAC/s).
 *
 *   const g = patchGeometry(info);                  // tf.backend_util.computeConv2DInfo(...)
 *   if (winogradReady() && patchesFit(g, 'input')) convGemmInputGrad(dy, filter, dx, g);
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  callModule,
  checkEpilogue,
  epilogueActs,
  epilogueArrays,
  EPILOGUE_BYTES,
  windowGeometry,
  writeEpilogue,
  type Epilogue,
  type PoolGeometry,
} from './winograd.ts';

/** A convolution's geometry: x [n, h, w, c], filter [kh, kw, c, k], y [n, oh, ow, k]. */
export type PatchGeometry = Omit<PoolGeometry, 'bottom' | 'right'> & { k: number };

/** Rows of output positions per block (patches.c's ROWS and ROWS_DW). */
const ROWS = 32;
const ROWS_DW = 64;

/** The geometry of a tfjs convolution, or null when it has dilations (the module has none). */
export function patchGeometry(info: tf.backend_util.Conv2DInfo): PatchGeometry | null {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  return { ...windowGeometry(info), k: info.outChannels };
}

/**
 * Whether the module's products take this convolution in the given direction: input channels in
 * multiples of 4 (the patches are copied 4 floats at a time), and for the forward and the filter
 * gradient output channels in multiples of 8 (the products' columns).
 */
export function patchesFit(g: PatchGeometry, direction: 'forward' | 'input' | 'filter'): boolean {
  const sizes = [g.n, g.h, g.w, g.c, g.k, g.oh, g.ow, g.kh, g.kw];
  if (!sizes.every((d) => Number.isInteger(d) && d > 0) || g.c % 4 !== 0) return false;
  return direction === 'input' || g.k % 8 === 0;
}

function args(g: PatchGeometry) {
  return [g.n, g.h, g.w, g.c, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.top, g.left, g.k] as const;
}

function check(
  what: string,
  g: PatchGeometry,
  direction: 'forward' | 'input' | 'filter',
  sizes: [Float32Array, number][],
) {
  if (!patchesFit(g, direction)) throw new Error(`${what}: ${g.c} -> ${g.k} channels do not fit`);
  if (sizes.some(([a, n]) => a.length !== n))
    throw new Error(`${what}: a buffer's size does not match the geometry`);
}

/**
 * y [n, oh, ow, k] = the convolution of x [n, h, w, c] by filter [kh, kw, c, k], then the epilogue
 * (bias per output channel, activation), as {@link conv3x3}'s.
 */
export function convGemm(
  x: Float32Array,
  filter: Float32Array,
  epilogue: Epilogue | undefined,
  y: Float32Array,
  g: PatchGeometry,
): void {
  const p = g.kh * g.kw * g.c;
  check('convGemm', g, 'forward', [
    [x, g.n * g.h * g.w * g.c],
    [filter, p * g.k],
    [y, g.n * g.oh * g.ow * g.k],
  ]);
  const ep = epilogueActs(epilogue) ? epilogue : undefined;
  if (ep) checkEpilogue('convGemm', ep, g.n * g.oh * g.ow, g.k);
  const arrays = epilogueArrays(ep);
  const scratch = [ROWS * p * 4, ROWS * g.k * 4, ep ? EPILOGUE_BYTES : 0];
  callModule('convGemm', [x, filter, ...arrays], [y], scratch, (m, ptr, [cols, tail, epiAt]) =>
    m.conv_gemm(
      ptr[0],
      ptr[1],
      ptr[ptr.length - 1],
      cols,
      tail,
      ...args(g),
      ep ? writeEpilogue(ep, ptr.slice(2, 2 + arrays.length), epiAt) : 0,
    ),
  );
}

/**
 * dx [n, h, w, c] = the input gradient of that convolution for dy [n, oh, ow, k]:
 * dx[n, i, j, ch] = sum over (oh, ow, a, b, o) with i = oh*sh + a - top, j = ow*sw + b - left of
 * dy[n, oh, ow, o] * filter[a, b, ch, o].
 */
export function convGemmInputGrad(
  dy: Float32Array,
  filter: Float32Array,
  dx: Float32Array,
  g: PatchGeometry,
): void {
  const p = g.kh * g.kw * g.c;
  const p8 = (p + 7) & ~7;
  check('convGemmInputGrad', g, 'input', [
    [dy, g.n * g.oh * g.ow * g.k],
    [filter, p * g.k],
    [dx, g.n * g.h * g.w * g.c],
  ]);
  const scratch = [g.k * p8 * 4, ROWS * p8 * 4, ROWS * g.k * 4];
  callModule('convGemmInputGrad', [dy, filter], [dx], scratch, (m, [dyp, wp, dxp], [wt, cols, tail]) =>
    m.conv_gemm_input_grad(dyp, wp, dxp, wt, cols, tail, ...args(g)),
  );
}

/**
 * dw [kh, kw, c, k] = the filter gradient of that convolution for x and dy:
 * dw[a, b, ch, o] = sum_{n, oh, ow} x[n, oh*sh + a - top, ow*sw + b - left, ch] * dy[n, oh, ow, o].
 */
export function convGemmFilterGrad(
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  g: PatchGeometry,
): void {
  const p = g.kh * g.kw * g.c;
  check('convGemmFilterGrad', g, 'filter', [
    [x, g.n * g.h * g.w * g.c],
    [dy, g.n * g.oh * g.ow * g.k],
    [dw, p * g.k],
  ]);
  callModule('convGemmFilterGrad', [x, dy], [dw], [ROWS_DW * p * 4], (m, [xp, dyp, dwp], [cols]) =>
    m.conv_gemm_filter_grad(xp, dyp, dwp, cols, ...args(g)),
  );
}

/**
 * out [kh, kw, k, c] = filter [kh, kw, c, k] turned 180 degrees with its channels swapped,
 * out[a, b, o, i] = filter[kh-1-a, kw-1-b, i, o]: the filter of an input gradient computed as a
 * convolution (was a JavaScript loop: about 10 ms of each darknet tiny input gradient).
 */
export function flipFilterModule(filter: Float32Array, shape: readonly number[], out: Float32Array): void {
  const [kh, kw, c, k] = shape;
  if (filter.length !== kh * kw * c * k || out.length !== filter.length)
    throw new Error('flipFilterModule: the filter or output size does not match the shape');
  callModule('flipFilterModule', [filter], [out], [], (m, [fp, op]) => m.flip_filter(fp, op, kh, kw, c, k));
}
