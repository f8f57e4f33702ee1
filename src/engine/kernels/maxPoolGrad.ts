import * as tf from '@tensorflow/tfjs-core';
import { f32, input, zeros, type BackendWasm, type KernelArgs, type Pad } from './wasmCalls.ts';

interface Attrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * `MaxPoolGrad` for wasm, replacing the stock kernel of tfjs-backend-wasm 4.22, which starts each
 * window's search at `std::numeric_limits<float>::min()` (the smallest *positive* float) and so,
 * for a window whose maximum is zero or negative, sends the gradient to element 0 instead of to
 * the maximum (wrong after leaky ReLU, batch norm or on raw inputs); it also breaks ties toward the
 * last maximum. Here, as in TensorFlow and the cpu backend, each output's gradient goes to the
 * first maximum of its window (row-major scan, padding excluded):
 *
 *   dx[n, r, s, c] = sum_{(oh, ow) : (r, s) = argmax of window (oh, ow)} dy[n, oh, ow, c].
 */
export function maxPoolGrad({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'input');
  const a = attrs as unknown as Attrs;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  if (dy.shape.join() !== [n, oh, ow, c].join()) {
    throw new Error(`MaxPoolGrad: dy has shape [${dy.shape}], expected [${[n, oh, ow, c]}]`);
  }
  const out = zeros(backend, x.shape);
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  const dx = f32(backend, out);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b0 = 0; b0 < n; b0++) {
    for (let i = 0; i < oh; i++) {
      const r0 = Math.max(0, i * sh - top);
      const r1 = Math.min(h, i * sh - top + kh);
      for (let j = 0; j < ow; j++) {
        const c0 = Math.max(0, j * sw - left);
        const c1 = Math.min(w, j * sw - left + kw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const base = ((b0 * h + r) * w + s) * c;
            for (let k = 0; k < c; k++) {
              const v = xv[base + k];
              if (v > best[k]) {
                best[k] = v;
                where[k] = base + k;
              }
            }
          }
        }
        const dyBase = ((b0 * oh + i) * ow + j) * c;
        for (let k = 0; k < c; k++) if (where[k] >= 0) dx[where[k]] += dyv[dyBase + k];
      }
    }
  }
  return out;
}
