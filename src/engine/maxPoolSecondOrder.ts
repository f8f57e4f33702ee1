/**
 * The gradient of `MaxPoolGrad`, which tfjs 4.22 lacks: objectives that differentiate an input
 * gradient with respect to the weights (IG-Norm) need it on every max-pooling network (gap-cnn,
 * small-cnn). MaxPoolGrad(dy, x, y) sends each window's dy to the first maximum of the window
 * (row-major, padding excluded: the cpu backend and src/engine/kernels/maxPoolGrad.ts). It is linear
 * in dy and piecewise constant in x, so its gradient is, for a gradient g shaped like x,
 *
 *   d/d(dy)[n, i, j, c] = g[n, argmax of window (i, j), c],   d/dx = d/dy_forward = 0,
 *
 * For windows that do not overlap (stride >= window, as in every 2x2/2 pool) this is a max pool of
 * g where the kernel marks the first maxima (MaxPoolGrad of ones) and -inf elsewhere; for
 * overlapping windows, a scan of the window offsets in row-major order that takes, per output, the
 * first position whose value equals the window's maximum.
 */
import * as tf from '@tensorflow/tfjs-core';

interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** g [N,H,W,C] read at each window's first maximum of x: [N, outH, outW, C] (caller owns). */
export function gatherAtMaxima(g: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, a: PoolAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(
      x.shape,
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    if (kh <= sh && kw <= sw) {
      // Each input belongs to at most one window: mark the maxima with the kernel's own rule.
      const marks = tf
        .engine()
        .runKernel('MaxPoolGrad', { dy: tf.onesLike(y), input: x, output: y }, { ...a }) as tf.Tensor4D;
      const only = tf.where(tf.greater(marks, 0), g, tf.fill(g.shape, -Infinity));
      return tf.maxPool(
        only as tf.Tensor4D,
        a.filterSize,
        a.strides,
        a.pad as 'valid' | 'same' | number,
        a.dimRoundingMode,
      );
    }
    const { top, left } = info.padInfo;
    const bottom = Math.max(0, (oh - 1) * sh + kh - top - h);
    const right = Math.max(0, (ow - 1) * sw + kw - left - w);
    const pads: [number, number][] = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    const xp = tf.pad(x, pads, -Infinity); // padding never wins a window
    const gp = tf.pad(g, pads, 0);
    let out = tf.zeros([n, oh, ow, c]) as tf.Tensor4D;
    let taken = tf.zeros([n, oh, ow, c], 'bool') as tf.Tensor4D;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const begin = [0, i, j, 0];
        const end = [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c];
        const strides = [1, sh, sw, 1];
        const xs = tf.stridedSlice(xp, begin, end, strides); // [N, outH, outW, C]
        const hit = tf.logicalAnd(tf.equal(xs, y), tf.logicalNot(taken));
        const gs = tf.stridedSlice(gp, begin, end, strides);
        out = tf.add(out, tf.where(hit, gs, tf.zerosLike(gs)));
        taken = tf.logicalOr(taken, hit);
      }
    }
    return out;
  });
}

/** Registers the gradient of MaxPoolGrad once (a no-op when tfjs already has one). */
export function ensureMaxPoolSecondOrder(): void {
  if (tf.getGradient('MaxPoolGrad')) return;
  tf.registerGradient({
    kernelName: 'MaxPoolGrad',
    inputsToSave: ['input', 'output'],
    gradFunc: (g, saved, attrs) => {
      const [x, y] = saved as tf.Tensor4D[];
      return {
        dy: () => gatherAtMaxima(g as tf.Tensor4D, x, y, attrs as unknown as PoolAttrs),
        input: () => tf.zerosLike(x),
        output: () => tf.zerosLike(y),
      };
    },
  });
}
