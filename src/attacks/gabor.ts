/**
 * Gabor attack: Kang et al., "Testing Robustness Against Unforeseen Adversaries", 2019 (ALGORITHMS.md
 * section 1), after the procedural Gabor noise of Co et al. Sparse variables (a random 1/14 of the
 * pixels, values U(-1, 1)) are convolved with a 23x23 kernel, per example, that sums 1-10 rotated
 * copies (theta + pi*i/sides) of a Gabor kernel exp(-(x'^2 + y'^2) / (2 (sigma + 0.001)^2)) *
 * cos(2 pi lambda x') on [-0.5, 0.5]^2, sigma ~ U(0.1, 0.4), lambda ~ U(3, 5.75), theta ~ U(0, pi).
 * The result is normalised by its spectral variance, then min-max scaled to [0, 1] (the noise); one
 * noise per image is added to every channel: `x' = clip(x + eps * noise, 0, 1)`. Sign ascent on the
 * variables, clipped to [-1, 1] and kept on their sparse support.
 *
 * Spectral-variance normalisation, as the original computes it: with d = noise - mean, it takes
 * irfft(rfft(d^2)), which is d^2 itself, so imC = |d| / max|d|, and the image becomes
 * mean + d * (1.001 / (0.001 + imC)); mean, the factor and the min and max of the min-max scaling are
 * held constant in the gradient (detached), as in the original.
 *
 * Units: the original adds eps * noise to 0-255 pixels, so the doc's Gabor budget 400 is 400/255 in
 * [0,1] units: the default eps is 400/255 (about 1.57). The default step is eps/sqrt(steps) on the
 * variables (which live in [-1, 1]), as ALGORITHMS.md says; Kang et al.'s published runs (their
 * calibration files) used a fixed step of 0.002236 for Gabor: pass `stepSize` to reproduce them.
 * Options and defaults, besides those in unforeseen.ts: `eps` 400/255; `originalMask` false: the
 * original code multiplies the variables by the complement of their support after each step (its
 * mask is `vars == 0`), which frees ~13/14 of the pixels; true reproduces that. Random by
 * construction (support, initial values and kernels come from `seed`).
 * Input: images [N, H, W, C] in [0, 1], any H, W, C.
 *
 *   const r = gabor(model, batch, { eps: 400 / 255 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackResult } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import {
  ascend,
  requireRandomStart,
  unforeseenSettings,
  unforeseenSpecs,
  type UnforeseenOptions,
} from './unforeseen.ts';
import { defineAttack } from './record.ts';
import { createRng, type Rng } from '../engine/rng.ts';
import { resolveOptions, type OptionSpecs, type Resolved } from '../options.ts';

/** Options of the Gabor attack. */
export interface GaborOptions extends UnforeseenOptions {
  /** Reproduce the original code's mask (the complement of the support; frees ~13/14 of the pixels). */
  originalMask?: boolean;
  /** Always true (random by construction); false is refused. */
  randomStart?: boolean;
}

/** Gabor's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const GABOR_OPTIONS = {
  ...unforeseenSpecs(400 / 255, 'weight of the Gabor noise, in [0,1] pixel units (400/255: Kang et al. 400)'),
  originalMask: {
    type: 'boolean',
    default: false,
    doc: 'mask the variables as the original code does (its complement of the support)',
  },
  randomStart: { type: 'boolean', doc: 'always true: the noise is random by construction' },
} satisfies OptionSpecs<GaborOptions>;

const SIZE = 23;
const DENSITY = 1 / 14;
const MIN_C = 0.001;

/** A 23x23 Gabor kernel summed over `sides` rotations (row-major; rows are y, columns x). */
export function gaborKernel(sigma: number, lambda: number, theta: number, sides: number): Float32Array {
  const k = new Float32Array(SIZE * SIZE);
  const s2 = (sigma + 1e-3) ** 2;
  for (let r = 0; r < SIZE; r++)
    for (let c = 0; c < SIZE; c++) {
      const y = -0.5 + r / (SIZE - 1);
      const x = -0.5 + c / (SIZE - 1);
      for (let i = 0; i < sides; i++) {
        const th = theta + (Math.PI * i) / sides;
        const rx = x * Math.cos(th) + y * Math.sin(th);
        const ry = -x * Math.sin(th) + y * Math.cos(th);
        k[r * SIZE + c] += Math.exp((-0.5 * (rx * rx + ry * ry)) / s2) * Math.cos(2 * Math.PI * lambda * rx);
      }
    }
  return k;
}

/** One random kernel per example as a depthwise filter [23, 23, N, 1]. */
function randomKernels(rng: Rng, n: number): tf.Tensor4D {
  const f = new Float32Array(SIZE * SIZE * n);
  for (let e = 0; e < n; e++) {
    const sides = 1 + rng.int(10);
    const sigma = 0.1 + 0.3 * rng.next();
    const lambda = 3 + 2.75 * rng.next();
    const theta = Math.PI * rng.next();
    gaborKernel(sigma, lambda, theta, sides).forEach((v, p) => (f[p * n + e] = v));
  }
  return tf.tensor4d(f, [SIZE, SIZE, n, 1]);
}

/** Convolves each example's variables [N, H, W, 1] with its own kernel ('same'); differentiable. */
function convolve(v: tf.Tensor, kernels: tf.Tensor4D): tf.Tensor4D {
  const byChannel = tf.transpose(v, [3, 1, 2, 0]) as tf.Tensor4D; // [1, H, W, N]
  return tf.transpose(tf.depthwiseConv2d(byChannel, kernels, 1, 'same'), [3, 1, 2, 0]);
}

/**
 * The noise map: returns w -> noise [N, H, W, 1] in [0, 1], differentiable in w, with the
 * normalisation's constants (mean, factor, min, max) taken at `v`. Call inside tf.tidy.
 */
export function gaborNoiseAt(v: tf.Tensor, kernels: tf.Tensor4D): (w: tf.Tensor) => tf.Tensor4D {
  const conv = convolve(v, kernels);
  const mean = tf.mean(conv, [1, 2, 3], true);
  const d = tf.sub(conv, mean);
  const imC = tf.div(tf.abs(d), tf.maximum(tf.max(tf.abs(d), [1, 2, 3], true), 1e-30));
  const factor = tf.div(1 + MIN_C, tf.add(imC, MIN_C));
  const img = tf.add(mean, tf.mul(d, factor));
  const lo = tf.min(img, [1, 2, 3], true);
  const range = tf.maximum(tf.sub(tf.max(img, [1, 2, 3], true), lo), 1e-12);
  return (w) => tf.div(tf.sub(tf.add(mean, tf.mul(tf.sub(convolve(w, kernels), mean), factor)), lo), range);
}

/** Runs the Gabor attack; returns the result, the variables and the final noise [N, H, W, 1] (caller owns). */
export function runGabor(
  model: Classifier,
  batch: Batch,
  options: GaborOptions,
): { result: AttackResult; vars: tf.Tensor4D; noise: tf.Tensor4D } {
  return gaborFrom(model, batch, resolveOptions({ kind: 'attack', name: 'gabor' }, GABOR_OPTIONS, options));
}

function gaborFrom(
  model: Classifier,
  batch: Batch,
  o: Resolved<GaborOptions, typeof GABOR_OPTIONS>,
): { result: AttackResult; vars: tf.Tensor4D; noise: tf.Tensor4D } {
  const s = unforeseenSettings(o);
  requireRandomStart(o, 'gabor');
  const { originalMask } = o;
  const [n, h, w] = batch.x.shape;
  const rng = createRng(s.seed);
  // Support: round(H*W/14) pixels per image, drawn without replacement; values U(-1, 1) there.
  const init = new Float32Array(n * h * w);
  const count = Math.max(1, Math.round(h * w * DENSITY));
  for (let e = 0; e < n; e++) {
    const pixels = Array.from({ length: h * w }, (_, i) => i);
    for (let i = 0; i < count; i++) {
      const j = i + rng.int(h * w - i);
      [pixels[i], pixels[j]] = [pixels[j], pixels[i]];
      init[e * h * w + pixels[i]] = 2 * rng.next() - 1 || 1e-6;
    }
  }
  const kernels = randomKernels(rng, n);
  const mask = tf.tensor4d(
    init.map((v) => ((v !== 0) !== originalMask ? 1 : 0)),
    [n, h, w, 1],
  );
  const update = (v: tf.Tensor, g: tf.Tensor) =>
    tf.mul(tf.clipByValue(tf.add(v, tf.mul(s.stepSize, tf.sign(g))), -1, 1), mask);
  try {
    const { result, vars } = ascend(
      model,
      batch,
      s,
      tf.tensor4d(init, [n, h, w, 1]),
      (v) => {
        const noiseOf = gaborNoiseAt(v, kernels);
        return (wv) => tf.clipByValue(tf.add(batch.x, tf.mul(s.eps, noiseOf(wv))), 0, 1) as tf.Tensor4D;
      },
      update,
      {
        attack: 'gabor',
        epsUnits: '[0,1] pixels (Kang et al. 0-255 budget / 255)',
        ...s,
        randomStart: true,
        originalMask,
      },
    );
    const noise = tf.tidy(() => gaborNoiseAt(vars, kernels)(vars));
    return { result, vars: vars as tf.Tensor4D, noise };
  } finally {
    tf.dispose([kernels, mask]);
  }
}

/** Gabor noise (Kang et al. 2019): adversarially optimised sparse Gabor noise; default eps 400/255. */
export const gaborAttack = defineAttack<GaborOptions, typeof GABOR_OPTIONS>({
  name: 'gabor',
  summary: 'Gabor noise (Kang et al. 2019): adversarially optimised sparse Gabor noise',
  options: GABOR_OPTIONS,
  facts: {
    norm: null,
    iterative: true,
    exampleEps: '400/255',
    epsUnits: '[0,1] pixels (Kang et al. 0-255 budget / 255)',
  },
  attack: (model, batch, o) => {
    const { result, vars, noise } = gaborFrom(model, batch, o);
    tf.dispose([vars, noise]);
    return result;
  },
});

/** The Gabor attack (see the file's header); validates its options. */
export const gabor = gaborAttack.run;
