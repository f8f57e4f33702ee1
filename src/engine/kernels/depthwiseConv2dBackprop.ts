import * as tf from '@tensorflow/tfjs-core';
import { f32, input, type BackendWasm, type KernelArgs, type Pad } from './wasmCalls.ts';
import { windowGeometry } from './winograd.ts';

interface Attrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The depthwise convolution's geometry; `m` is the channel multiplier. */
function geometry(xShape: number[], filterShape: number[], a: Attrs) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
    'channelsLast',
  );
  return {
    ...windowGeometry(info),
    m: info.outChannels / info.inChannels,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
  };
}

function checkDy(kernel: string, dy: tf.TensorInfo, g: ReturnType<typeof geometry>): void {
  const want = [g.n, g.oh, g.ow, g.c * g.m];
  if (dy.shape.join() !== want.join())
    throw new Error(`${kernel}: dy has shape [${dy.shape}], expected [${want}]`);
}

/**
 * `DepthwiseConv2dNativeBackpropFilter` for wasm: the gradient of a depthwise convolution (NHWC,
 * filter [KH, KW, C, M]) with respect to its filter,
 *
 *   dW[kh, kw, c, m] = sum_{n, oh, ow} x[n, oh*sh + kh*dh - padTop, ow*sw + kw*dw - padLeft, c] * dy[n, oh, ow, c*M + m],
 *
 * as a loop over the wasm heap (XNNPACK has no depthwise weight gradient, and the work is small:
 * one multiply-add per filter tap and output element), accumulated in float64. Any stride,
 * dilation and padding.
 */
export function depthwiseConv2dBackpropFilter({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const x = input(inputs, 'x');
  const dy = input(inputs, 'dy');
  const a = attrs as unknown as Attrs & { filterShape: [number, number, number, number] };
  const g = geometry(x.shape, a.filterShape, a);
  checkDy('DepthwiseConv2dNativeBackpropFilter', dy, g);
  const { n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, top, left } = g;
  const cm = c * m;
  const acc = new Float64Array(kh * kw * cm);
  const out = backend.makeOutput(a.filterShape, 'float32');
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  for (let b0 = 0; b0 < n; b0++) {
    for (let i = 0; i < oh; i++) {
      for (let p = 0; p < kh; p++) {
        const r = i * sh + p * dh - top;
        if (r < 0 || r >= h) continue;
        for (let j = 0; j < ow; j++) {
          const dyBase = ((b0 * oh + i) * ow + j) * cm;
          for (let q = 0; q < kw; q++) {
            const col = j * sw + q * dw - left;
            if (col < 0 || col >= w) continue;
            const xBase = ((b0 * h + r) * w + col) * c;
            const wBase = (p * kw + q) * cm;
            if (m === 1) {
              for (let k = 0; k < c; k++) acc[wBase + k] += xv[xBase + k] * dyv[dyBase + k];
            } else {
              for (let k = 0; k < c; k++) {
                const xk = xv[xBase + k];
                for (let t = 0; t < m; t++) acc[wBase + k * m + t] += xk * dyv[dyBase + k * m + t];
              }
            }
          }
        }
      }
    }
  }
  f32(backend, out).set(acc);
  return out;
}

/**
 * `DepthwiseConv2dNativeBackpropInput` for wasm: the gradient of a depthwise convolution with
 * respect to its input,
 *
 *   dx[n, r, s, c] = sum_{oh, ow, kh, kw, m : r = oh*sh + kh*dh - padTop, s = ow*sw + kw*dw - padLeft} dy[n, oh, ow, c*M + m] * W[kh, kw, c, m],
 *
 * scattered image by image into a float64 buffer over the wasm heap. Any stride, dilation, padding.
 */
export function depthwiseConv2dBackpropInput({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const dy = input(inputs, 'dy');
  const filter = input(inputs, 'filter');
  const a = attrs as unknown as Attrs & { inputShape: [number, number, number, number] };
  const g = geometry(a.inputShape, filter.shape, a);
  checkDy('DepthwiseConv2dNativeBackpropInput', dy, g);
  const { n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, top, left } = g;
  const cm = c * m;
  const img = new Float64Array(h * w * c);
  const out = backend.makeOutput(a.inputShape, 'float32');
  const dyv = f32(backend, dy);
  const fv = f32(backend, filter);
  const dxv = f32(backend, out);
  for (let b0 = 0; b0 < n; b0++) {
    img.fill(0);
    for (let i = 0; i < oh; i++) {
      for (let p = 0; p < kh; p++) {
        const r = i * sh + p * dh - top;
        if (r < 0 || r >= h) continue;
        for (let j = 0; j < ow; j++) {
          const dyBase = ((b0 * oh + i) * ow + j) * cm;
          for (let q = 0; q < kw; q++) {
            const col = j * sw + q * dw - left;
            if (col < 0 || col >= w) continue;
            const xBase = (r * w + col) * c;
            const fBase = (p * kw + q) * cm;
            if (m === 1) {
              for (let k = 0; k < c; k++) img[xBase + k] += dyv[dyBase + k] * fv[fBase + k];
            } else {
              for (let k = 0; k < c; k++) {
                let s = 0;
                for (let t = 0; t < m; t++) s += dyv[dyBase + k * m + t] * fv[fBase + k * m + t];
                img[xBase + k] += s;
              }
            }
          }
        }
      }
    }
    dxv.set(img, b0 * h * w * c);
  }
  return out;
}
