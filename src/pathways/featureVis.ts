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
 * rotation is a bilinear gather. As Lucid's `render_vis` does by default, the ReLUs' gradients are
 * redirected for the first 16 steps (redirectedRelu.ts), so a channel the starting image leaves dead
 * still gets a gradient. {@link featureVisBatch} optimises one image per channel in one batch (the
 * images do not interact: the objective is the sum of their channels' means, and the transforms of a
 * step are shared, as in Lucid's batched objectives), which costs little more than one image.
 *
 *   const v = featureVis(model, 'conv3', 17, { steps: 256 });   // v.image [1, 28, 28, 1] (caller owns)
 *   const vs = featureVisBatch(model, 'conv3', [0, 1, 2]);      // vs.images [3, 28, 28, 1]
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { createRng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';
import { REDIRECT_STEPS, redirectRelus } from './redirectedRelu.ts';

/** Feature visualisation options (Lucid's recipe): steps, image size, learning rate, transforms, redirected ReLU, seed. */
export interface FeatureVisOptions {
  /** Optimisation steps (Lucid: 512). */
  steps?: number;
  /** Side of the optimised image before it is resized to the model input (Lucid: 128). */
  size?: number;
  learningRate?: number;
  /** Apply Lucid's transforms (pad, jitter, scale, rotate, jitter) at each step. */
  transforms?: boolean;
  /** Redirect the ReLUs' gradients for the first 16 steps (Lucid's `relu_gradient_override`, on by default there). */
  redirectedRelu?: boolean;
  seed?: number;
}

/** Lucid's defaults: 512 steps of Adam 0.05 on a 128x128 Fourier-parameterised image, pad 12, jitter 8 and 4, random scale and rotation. */
export const FEATURE_VIS_DEFAULTS: Required<FeatureVisOptions> = {
  steps: 512,
  size: 128,
  learningRate: 0.05,
  transforms: true,
  redirectedRelu: true,
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
    // along y: a full complex inverse DFT (no 1/h here; it is in ax, bx), one [h, h] x [h, C wf] product
    const cols = (t: tf.Tensor3D) => tf.reshape(tf.transpose(t, [1, 0, 2]), [h, c * wf]);
    const [r2, i2] = [cols(re), cols(im)];
    const rows = (t: tf.Tensor) =>
      tf.reshape(tf.transpose(tf.reshape(t, [h, c, wf]), [1, 0, 2]), [c * h, wf]);
    const zr = rows(tf.sub(tf.matMul(b.cy, r2), tf.matMul(b.sy, i2))); // [C h, wf]
    const zi = rows(tf.add(tf.matMul(b.sy, r2), tf.matMul(b.cy, i2)));
    // along x: the real inverse from the half spectrum
    return tf.reshape(tf.sub(tf.matMul(zr, b.ax), tf.matMul(zi, b.bx)), [c, h, w]) as tf.Tensor3D;
  });
}

/** Rotates images [B, H, W, C] by `degrees` about the centre with a bilinear gather (zeros outside). */
export function rotateBilinear(x: tf.Tensor4D, degrees: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
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
    const flat = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [h * w, b * c]);
    let out: tf.Tensor = tf.zeros([h * w, b * c]);
    for (let k = 0; k < 4; k++)
      out = tf.add(
        out,
        tf.mul(tf.gather(flat, tf.tensor1d(idx[k], 'int32')), tf.tensor2d(wts[k], [h * w, 1])),
      );
    return tf.transpose(tf.reshape(out, [h, w, b, c]), [2, 0, 1, 3]) as tf.Tensor4D;
  });
}

/** A random crop of `d` fewer pixels per side (Lucid's jitter), the same for the whole batch. */
function jitter(x: tf.Tensor4D, d: number, rng: () => number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const oy = Math.floor(rng() * (d + 1));
  const ox = Math.floor(rng() * (d + 1));
  return tf.slice(x, [0, oy, ox, 0], [-1, h - d, w - d, -1]);
}

/** A feature visualisation: the image, the channel activation it reached, and the objective per step. */
export interface FeatureVisResult {
  /** The visualisation at the model's input size [1, H, W, C] in [0, 1] (caller owns). */
  image: tf.Tensor4D;
  /** The neuron's activation (spatial max of its map) on `image`. */
  activation: number;
  /** The channel's mean activation on the transformed image, by step. */
  objective: number[];
}

/** Feature visualisations of several channels of one layer, optimised together. */
export interface FeatureVisBatchResult {
  /** One visualisation per channel at the model's input size [B, H, W, C] in [0, 1] (caller owns). */
  images: tf.Tensor4D;
  /** Per channel, its activation (spatial max of its map) on its image. */
  activations: number[];
  /** Per channel, its mean activation on the transformed image, by step. */
  objectives: number[][];
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
  const r = featureVisBatch(model, tap, [channel], o);
  return { image: r.images, activation: r.activations[0], objective: r.objectives[0] };
}

/**
 * Lucid-style feature visualisations of the channels `channels` of the tapped layer `tap`, one image
 * per channel, optimised as one batch. Leaves only the returned images behind.
 */
export function featureVisBatch(
  model: Classifier,
  tap: string,
  channels: number[],
  o: FeatureVisOptions = {},
): FeatureVisBatchResult {
  const d = { ...FEATURE_VIS_DEFAULTS, ...o };
  const [H, W, C] = model.inputShape;
  if (!model.layerNames().includes(tap))
    throw new UserError(
      `layer '${tap}' not found in the model; choose one of: ${model.layerNames().join(', ')}`,
    );
  if (!Number.isInteger(d.steps) || d.steps < 1)
    throw new UserError(`feature visualisation steps must be an integer >= 1 (got ${d.steps})`);
  const B = channels.length;
  if (B === 0) throw new UserError('no channel to visualise; give at least one');
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
  const init = Float32Array.from({ length: 2 * B * C * s * wf }, () => 0.01 * rng.normal());
  const n = B * C * s * wf;
  const re = tf.tidy(() => tf.variable(tf.tensor3d(init.subarray(0, n), [B * C, s, wf])));
  const im = tf.tidy(() => tf.variable(tf.tensor3d(init.subarray(n), [B * C, s, wf])));
  const maxNorm = Math.max(...[0, 1, 2].map((j) => Math.hypot(COLOR[0][j], COLOR[1][j], COLOR[2][j])));
  const color = tf.tensor2d(COLOR.map((r) => r.map((v) => v / maxNorm)));
  const toImage = (): tf.Tensor4D =>
    tf.tidy(() => {
      const t = tf.div(
        irfft2(tf.mul(re, spectrum) as tf.Tensor3D, tf.mul(im, spectrum) as tf.Tensor3D, bases),
        4,
      ); // [B * C, s, s]
      let img = tf.transpose(tf.reshape(t, [B, C, s, s]), [0, 2, 3, 1]) as tf.Tensor; // [B, s, s, C]
      if (C === 3) img = tf.reshape(tf.matMul(tf.reshape(img, [-1, 3]), color, false, true), [B, s, s, 3]);
      return tf.sigmoid(img) as tf.Tensor4D;
    });
  // one-hot [B, K] picking each image's channel, built once the layer's width is known
  let pickMask: tf.Tensor2D | undefined;
  const channelMeans = (x: tf.Tensor4D): tf.Tensor1D => {
    const { activations, logits } = model.taps(x, [tap]);
    logits.dispose();
    const a = activations[tap];
    const K = a.shape[a.rank - 1];
    if (!pickMask) {
      const bad = channels.find((c) => !Number.isInteger(c) || c < 0 || c >= K);
      if (bad !== undefined) throw new UserError(`channel ${bad} is outside 0..${K - 1} of layer '${tap}'`);
      pickMask = tf.keep(tf.cast(tf.oneHot(tf.tensor1d(channels, 'int32'), K), 'float32') as tf.Tensor2D);
    }
    const m = tf.reshape(pickMask, [B, ...Array(a.rank - 2).fill(1), K]);
    const sel = tf.sum(tf.mul(a, m), -1); // [B, ...spatial]
    return (sel.rank > 1 ? tf.mean(tf.reshape(sel, [B, -1]), 1) : sel) as tf.Tensor1D;
  };
  const opt = tf.train.adam(d.learningRate);
  const objectives: number[][] = channels.map(() => []);
  const scales = Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50);
  const angles = [...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0];
  const pick = <T>(v: T[]) => v[Math.floor(rng.next() * v.length)];
  let step = 0;
  const restore = d.redirectedRelu ? redirectRelus(model, () => step <= REDIRECT_STEPS) : () => {};
  try {
    for (; step < d.steps; step++) {
      let means: tf.Tensor1D | undefined;
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
            const size = Math.round(x.shape[1] * sc);
            x = tf.image.resizeBilinear(x, [size, size]);
            x = rotateBilinear(x, pick(angles));
            x = jitter(x, 4, () => rng.next());
          }
          x = tf.image.resizeBilinear(x, [H, W]);
          const m = channelMeans(x);
          means = tf.keep(tf.clone(m));
          return tf.neg(tf.sum(m)) as tf.Scalar;
        },
        false,
        [re, im],
      );
      loss?.dispose();
      const v = means!.dataSync();
      means!.dispose();
      channels.forEach((_, b) => objectives[b].push(v[b]));
    }
    restore();
    const images = tf.tidy(() => tf.image.resizeBilinear(toImage(), [H, W]) as tf.Tensor4D);
    const activations = tf.tidy(() => {
      const { activations: acts, logits } = model.taps(images, [tap]);
      logits.dispose();
      const a = acts[tap];
      const m = tf.reshape(pickMask!, [B, ...Array(a.rank - 2).fill(1), a.shape[a.rank - 1]]);
      const sel = tf.sum(tf.mul(a, m), -1);
      return Array.from(sel.rank > 1 ? tf.max(tf.reshape(sel, [B, -1]), 1).dataSync() : sel.dataSync());
    });
    return { images, activations, objectives };
  } finally {
    restore();
    opt.dispose();
    tf.dispose([re, im, color, spectrum, bases.cy, bases.sy, bases.ax, bases.bx]);
    pickMask?.dispose();
  }
}
