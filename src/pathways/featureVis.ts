/**
 * Feature visualisation of one neuron by activation maximisation, Lucid's recipe (Olah et al.,
 * "Feature Visualization", Distill 2017; lucid.optvis): the image is parameterised by its 2-D Fourier
 * spectrum (real and imaginary parts ~ N(0, 0.01), frequency f scaled by 1 / max(f, 1 / max(h, w)) and,
 * as Lucid's code does, by sqrt(h w),
 * inverse real FFT, divided by 4), colour-decorrelated (3 channels: times Lucid's colour matrix over
 * its largest column norm) and squashed by a sigmoid into [0, 1]. Each step applies pad 12 (value 0.5),
 * jitter 8, a random scale in {1 + (i - 5) / 50}, a random rotation in -10..10 degrees (0 five times
 * more likely), jitter 4, resizes to the model's input and ascends the channel's mean activation with
 * Adam (learning rate 0.05), 512 steps on a 128 x 128 image. tfjs has no gradient for its FFT or for
 * image rotation, so the inverse FFT is two matrix products with cosine and sine bases and the
 * rotation is a bilinear gather.
 *
 *   const v = featureVis(model, 'conv3', 17, { steps: 256 });   // v.image [1, 28, 28, 1] (caller owns)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { createRng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** Feature visualisation options (Lucid's recipe): steps, image size, learning rate, whether to apply the transforms, seed. */
export interface FeatureVisOptions {
  /** Optimisation steps (Lucid: 512). */
  steps?: number;
  /** Side of the optimised image before it is resized to the model input (Lucid: 128). */
  size?: number;
  learningRate?: number;
  /** Apply Lucid's transforms (pad, jitter, scale, rotate, jitter) at each step. */
  transforms?: boolean;
  seed?: number;
}

/** Lucid's defaults: 512 steps of Adam 0.05 on a 128x128 Fourier-parameterised image, pad 12, jitter 8 and 4, random scale and rotation. */
export const FEATURE_VIS_DEFAULTS: Required<FeatureVisOptions> = {
  steps: 512,
  size: 128,
  learningRate: 0.05,
  transforms: true,
  seed: 0,
};

/** Lucid's colour correlation square root (ImageNet), rows = RGB. */
const COLOR = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];

/** Cosine and sine bases of the inverse real 2-D FFT of an h x w image (w / 2 + 1 frequency columns). */
export function irfftBases(h: number, w: number) {
  const wf = Math.floor(w / 2) + 1;
  const cy = new Float32Array(h * h);
  const sy = new Float32Array(h * h);
  for (let y = 0; y < h; y++)
    for (let k = 0; k < h; k++) {
      cy[y * h + k] = Math.cos((2 * Math.PI * k * y) / h);
      sy[y * h + k] = Math.sin((2 * Math.PI * k * y) / h);
    }
  const ax = new Float32Array(wf * w);
  const bx = new Float32Array(wf * w);
  for (let k = 0; k < wf; k++) {
    const c = k === 0 || (w % 2 === 0 && k === w / 2) ? 1 : 2; // the conjugate half counted twice
    for (let x = 0; x < w; x++) {
      ax[k * w + x] = (c * Math.cos((2 * Math.PI * k * x) / w)) / (h * w);
      bx[k * w + x] = (c * Math.sin((2 * Math.PI * k * x) / w)) / (h * w);
    }
  }
  return {
    wf,
    cy: tf.tensor2d(cy, [h, h]),
    sy: tf.tensor2d(sy, [h, h]),
    ax: tf.tensor2d(ax, [wf, w]),
    bx: tf.tensor2d(bx, [wf, w]),
  };
}

/**
 * Inverse real 2-D FFT (numpy's irfft2) of spectra re, im [C, h, wf] with the bases of
 * {@link irfftBases}: [C, h, w]. Differentiable. The imaginary parts of the zero (and Nyquist)
 * columns are ignored, as numpy does.
 */
export function irfft2(re: tf.Tensor3D, im: tf.Tensor3D, b: ReturnType<typeof irfftBases>): tf.Tensor3D {
  return tf.tidy(() => {
    const [c, h, wf] = re.shape;
    const w = b.ax.shape[1];
    // along y: a full complex inverse DFT (no 1/h here; it is in ax, bx)
    const cy = tf.broadcastTo(b.cy, [c, h, h]);
    const sy = tf.broadcastTo(b.sy, [c, h, h]);
    const zr = tf.sub(tf.matMul(cy, re), tf.matMul(sy, im)); // [C, h, wf]
    const zi = tf.add(tf.matMul(sy, re), tf.matMul(cy, im));
    // along x: the real inverse from the half spectrum
    const ax = tf.broadcastTo(b.ax, [c, wf, w]);
    const bx = tf.broadcastTo(b.bx, [c, wf, w]);
    return tf.sub(tf.matMul(zr, ax), tf.matMul(zi, bx)) as tf.Tensor3D;
  });
}

/** Rotates images [1, H, W, C] by `degrees` about the centre with a bilinear gather (zeros outside). */
export function rotateBilinear(x: tf.Tensor4D, degrees: number): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const t = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.cos(t), Math.sin(t)];
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const idx = [0, 1, 2, 3].map(() => new Int32Array(h * w));
  const wts = [0, 1, 2, 3].map(() => new Float32Array(h * w));
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++) {
      const p = y * w + xx;
      const sx = cos * (xx - cx) + sin * (y - cy) + cx;
      const sy = -sin * (xx - cx) + cos * (y - cy) + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      [
        [y0, x0, (1 - fy) * (1 - fx)],
        [y0, x0 + 1, (1 - fy) * fx],
        [y0 + 1, x0, fy * (1 - fx)],
        [y0 + 1, x0 + 1, fy * fx],
      ].forEach(([yy, xq, wq], k) => {
        const inside = yy >= 0 && yy < h && xq >= 0 && xq < w;
        idx[k][p] = inside ? yy * w + xq : 0;
        wts[k][p] = inside ? wq : 0;
      });
    }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [h * w, c]);
    let out: tf.Tensor = tf.zeros([h * w, c]);
    for (let k = 0; k < 4; k++)
      out = tf.add(
        out,
        tf.mul(tf.gather(flat, tf.tensor1d(idx[k], 'int32')), tf.tensor2d(wts[k], [h * w, 1])),
      );
    return tf.reshape(out, [1, h, w, c]) as tf.Tensor4D;
  });
}

/** A random crop of `d` fewer pixels per side (Lucid's jitter). */
function jitter(x: tf.Tensor4D, d: number, rng: () => number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const oy = Math.floor(rng() * (d + 1));
  const ox = Math.floor(rng() * (d + 1));
  return tf.slice(x, [0, oy, ox, 0], [1, h - d, w - d, -1]);
}

/** A feature visualisation: the image, the channel activation it reached, and the objective per step. */
export interface FeatureVisResult {
  /** The visualisation at the model's input size [1, H, W, C] in [0, 1] (caller owns). */
  image: tf.Tensor4D;
  /** The neuron's activation (spatial max of its map) on `image`, and its channel mean, by step. */
  activation: number;
  objective: number[];
}

/**
 * Lucid-style feature visualisation of channel `channel` of the tapped layer `tap` (a layer name from
 * the model's layerNames(), e.g. a pathway unit's `tap`).
 */
export function featureVis(
  model: Classifier,
  tap: string,
  channel: number,
  o: FeatureVisOptions = {},
): FeatureVisResult {
  const d = { ...FEATURE_VIS_DEFAULTS, ...o };
  const [H, W, C] = model.inputShape;
  if (!model.layerNames().includes(tap))
    throw new UserError(
      `layer '${tap}' not found in the model; choose one of: ${model.layerNames().join(', ')}`,
    );
  const rng = createRng(d.seed);
  const s = d.size;
  const bases = irfftBases(s, s);
  const wf = bases.wf;
  const spectrum = tf.tidy(() => {
    const fy = Array.from({ length: s }, (_, k) => (k <= (s - 1) / 2 ? k : k - s) / s); // numpy fftfreq
    const scale = new Float32Array(s * wf);
    for (let y = 0; y < s; y++)
      for (let x = 0; x < wf; x++) scale[y * wf + x] = s / Math.max(Math.hypot(fy[y], x / s), 1 / s); // Lucid also scales by sqrt(h w) = s
    return tf.tensor3d(scale, [1, s, wf]);
  });
  const init = Float32Array.from({ length: 2 * C * s * wf }, () => 0.01 * rng.normal());
  const re = tf.tidy(() => tf.variable(tf.tensor3d(init.subarray(0, C * s * wf), [C, s, wf])));
  const im = tf.tidy(() => tf.variable(tf.tensor3d(init.subarray(C * s * wf), [C, s, wf])));
  const maxNorm = Math.max(...[0, 1, 2].map((j) => Math.hypot(COLOR[0][j], COLOR[1][j], COLOR[2][j])));
  const color = tf.tensor2d(COLOR.map((r) => r.map((v) => v / maxNorm)));
  const toImage = (): tf.Tensor4D =>
    tf.tidy(() => {
      let t = tf.div(
        irfft2(tf.mul(re, spectrum) as tf.Tensor3D, tf.mul(im, spectrum) as tf.Tensor3D, bases),
        4,
      );
      let img = tf.transpose(t, [1, 2, 0]) as tf.Tensor; // [s, s, C]
      if (C === 3) img = tf.reshape(tf.matMul(tf.reshape(img, [-1, 3]), color, false, true), [s, s, 3]);
      t = img as tf.Tensor3D;
      return tf.sigmoid(tf.expandDims(t, 0)) as tf.Tensor4D;
    });
  const opt = tf.train.adam(d.learningRate);
  const objective: number[] = [];
  const scales = Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50);
  const angles = [...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0];
  const pick = <T>(v: T[]) => v[Math.floor(rng.next() * v.length)];
  try {
    for (let step = 0; step < d.steps; step++) {
      const loss = opt.minimize(
        () => {
          let x = toImage();
          if (d.transforms) {
            x = tf.pad(
              x,
              [
                [0, 0],
                [12, 12],
                [12, 12],
                [0, 0],
              ],
              0.5,
            );
            x = jitter(x, 8, () => rng.next());
            const sc = pick(scales);
            const n = Math.round(x.shape[1] * sc);
            x = tf.image.resizeBilinear(x, [n, n]);
            x = rotateBilinear(x, pick(angles));
            x = jitter(x, 4, () => rng.next());
          }
          x = tf.image.resizeBilinear(x, [H, W]);
          const { activations, logits } = model.taps(x, [tap]);
          const a = activations[tap];
          const ch = tf.gather(a, tf.tensor1d([channel], 'int32'), a.rank - 1);
          logits.dispose();
          return tf.neg(tf.mean(ch)) as tf.Scalar;
        },
        true,
        [re, im],
      );
      if (loss) {
        objective.push(-loss.dataSync()[0]);
        loss.dispose();
      }
    }
    const image = tf.tidy(() => tf.image.resizeBilinear(toImage(), [H, W]) as tf.Tensor4D);
    const activation = tf.tidy(() => {
      const { activations, logits } = model.taps(image, [tap]);
      logits.dispose();
      const a = activations[tap];
      const ch = tf.gather(a, tf.tensor1d([channel], 'int32'), a.rank - 1);
      return tf.max(ch).dataSync()[0];
    });
    return { image, activation, objective };
  } finally {
    opt.dispose();
    tf.dispose([re, im, color, spectrum, bases.cy, bases.sy, bases.ax, bases.bx]);
  }
}
