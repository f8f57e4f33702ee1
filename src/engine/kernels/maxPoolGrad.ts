import * as tf from '@tensorflow/tfjs-core';
import { f32, free, input, runWasm, zeros, type BackendWasm, type KernelArgs } from './wasmCalls.ts';
import { poolGeometry, type PoolAttrs } from './maxPool.ts';
import { maxPoolGradModule, winogradReady } from './winograd.ts';

/**
 * `MaxPoolGrad` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22, which starts each
 * window's search at `std::numeric_limits<float>::min()` (the smallest *positive* float) and so,
 * for a window whose maximum is zero or negative, sends the gradient to element 0 instead of to
 * the maximum (wrong after leaky ReLU, batch norm or on raw inputs); it also breaks ties toward the
 * last maximum. Here, as in TensorFlow and the cpu backend, each output's gradient goes to the
 * first maximum of its window (row-major scan, padding excluded; a window holding only NaN and
 * -Infinity sends nothing):
 *
 *   dx[n, r, s, c] = sum_{(oh, ow) : (r, s) = argmax of window (oh, ow)} dy[n, oh, ow, c].
 *
 * 2x2 pools (every pool of the MNIST models, darknet's stride-1 pool) take a candidate maximum m
 * for each window from the forward result (the kernel's `output` input; recomputed by the stock
 * wasm `MaxPool`, XNNPACK, when absent) and find the first element equal to m without branches
 * (a scan's compares mispredict on random data: this is about 2.3x faster). m is used only when it
 * checks out as the window's maximum (every element <= m, which fails on NaN, and the chosen one
 * == m: XNNPACK's max is order-dependent with NaN, and `output` may be anything), else the window
 * is scanned; so the result never depends on m. Other windows (larger, or clipped at a border) are
 * scanned with a running maximum. When windows cannot overlap (stride >= filter size) each dx
 * element gets at most one gradient and is assigned; otherwise gradients are added, window by
 * window in row-major order.
 */
export function maxPoolGrad({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'input');
  const a = attrs as unknown as PoolAttrs;
  const geo = poolGeometry(x.shape, a);
  const { n, h, w, c, oh, ow, kh, kw, sh, sw, top, left, bottom, right } = geo;
  if (dy.shape.join() !== [n, oh, ow, c].join()) {
    throw new Error(`MaxPoolGrad: dy has shape [${dy.shape}], expected [${[n, oh, ow, c]}]`);
  }
  if (winogradReady() && x.dtype === 'float32' && dy.dtype === 'float32' && n * h * w * c > 0) {
    const out = backend.makeOutput(x.shape, 'float32');
    maxPoolGradModule(f32(backend, x), f32(backend, dy), geo, f32(backend, out));
    return out;
  }
  // [N, OH, OW, C]: candidate window maxima for 2x2 pools: the forward result the gradient is
  // given (`output`), else the stock MaxPool's, where XNNPACK (which sizes its output from the
  // padding) gives tfjs' shape.
  const twoByTwo = kh === 2 && kw === 2 && dy.shape.every((d) => d > 0);
  const given = inputs['output'];
  let y: tf.TensorInfo | null = null;
  if (twoByTwo && given && given.dtype === 'float32' && given.shape.join() === dy.shape.join()) {
    y = given;
  } else if (
    twoByTwo &&
    Math.floor((h + top + bottom - 2) / sh) + 1 === oh &&
    Math.floor((w + left + right - 2) / sw) + 1 === ow
  ) {
    const pool = { filterSize: [2, 2], strides: [sh, sw], pad: a.pad, dimRoundingMode: a.dimRoundingMode };
    y = runWasm(backend, 'MaxPool', { x }, pool);
  }
  const out = zeros(backend, x.shape);
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  const dx = f32(backend, out);
  const yv = y ? f32(backend, y) : dyv;
  const overlap = sh < kh || sw < kw;
  const off = new Int32Array(kh * kw); // element offsets of the current window, row-major
  const d1 = c; // offsets of a 2x2 window's elements 1, 2, 3 from element 0, and their steps
  const d2 = w * c;
  const d21 = d2 - d1;
  const d32 = d1;
  let g = 0; // index into dy and y: [n, oh, ow, c] in order
  for (let b0 = 0; b0 < n; b0++) {
    for (let i = 0; i < oh; i++) {
      const r0 = Math.max(0, i * sh - top);
      const r1 = Math.min(h, i * sh - top + kh);
      for (let j = 0; j < ow; j++, g += c) {
        const c0 = Math.max(0, j * sw - left);
        const c1 = Math.min(w, j * sw - left + kw);
        if (r0 >= r1 || c0 >= c1) continue; // a window entirely in the padding
        const base = ((b0 * h + r0) * w + c0) * c;
        const len = (r1 - r0) * (c1 - c0);
        const full2x2 = y !== null && len === 4;
        let listed = false; // off[] holds this window's offsets
        for (let k = 0; k < c; k++) {
          const p = base + k;
          let at = -1;
          if (full2x2) {
            const m = yv[g + k];
            const a0 = xv[p];
            const a1 = xv[p + d1];
            const a2 = xv[p + d2];
            const a3 = xv[p + d2 + d1];
            // The first of a0..a3 equal to m (offset 0, d1, d2 or d2 + d1), without branches.
            const e0 = +(a0 !== m);
            const e1 = +(a1 !== m);
            const e2 = +(a2 !== m);
            const q = p + e0 * (d1 + e1 * (d21 + e2 * d32));
            const ok = +(a0 <= m) + +(a1 <= m) + +(a2 <= m) + +(a3 <= m) + +(xv[q] === m) + +(m > -Infinity);
            if (ok === 6) at = q;
          }
          if (at < 0) {
            if (!listed) {
              for (let r = r0, t = 0; r < r1; r++) {
                for (let q = c0; q < c1; q++) off[t++] = ((r - r0) * w + (q - c0)) * c;
              }
              listed = true;
            }
            let m = -Infinity;
            for (let t = 0; t < len; t++) {
              const v = xv[p + off[t]];
              if (v > m) {
                m = v;
                at = p + off[t];
              }
            }
          }
          if (at >= 0) {
            if (overlap) dx[at] += dyv[g + k];
            else dx[at] = dyv[g + k];
          }
        }
      }
    }
  }
  if (y && y !== given) free(backend, y);
  return out;
}
