/**
 * Integrated Gradients: Sundararajan et al., "Axiomatic Attribution for Deep Networks", ICML 2017.
 * IG_i = (x_i - a_i) * (1/m) sum_{k=1..m} dS(a + (k/m)(x - a))/dx_i (right Riemann sum; the trapezoid
 * rule is an option), baseline a. Completeness: sum_i IG_i ~= S(x) - S(a); each result reports the
 * gap `delta` and `relativeError` = |delta| / |S(x) - S(a)| per image (ALGORITHMS.md section 2).
 * Options and defaults: `steps` m 100 (the Int/Int2 code), `rule` 'riemann-right', `baseline` 'zeros'
 * ('blur' with `blurSigma` min(H,W)/10 px, 'uniform' from `seed` 0, or an image), plus `target`,
 * `score`, `batchSize` (path points per pass), `sampleRange` (only the path points a .. b - 1, a
 * partial sum). Input: images [N, H, W, C] in [0, 1]; maps [N, H, W, C].
 *
 *   const r = integratedGradients(model, batch, { steps: 200 });
 *   console.log(r.relativeError); r.maps.dispose();
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ExplainOptions, IntegratedGradientsOptions } from './types.ts';
import { accumulateGradients, resolveTargets, sampleRangeOf, scoresOf } from './scores.ts';
import { commonSettings } from './gradient.ts';
import { COMMON_EXPLAIN_SPECS, SAMPLE_RANGE_SPEC, SEED_SPEC, defineExplainer } from './record.ts';
import { UserError } from '../errors.ts';
import type { OptionSpecs } from '../options.ts';

/** Gaussian blur of each image and channel (separable, edges clamped), float32 [N*H*W*C]. */
export function gaussianBlur(data: Float32Array, shape: readonly number[], sigma: number): Float32Array {
  const [n, h, w, c] = shape;
  if (sigma === 0) return data.slice();
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const norm = k.reduce((a, b) => a + b, 0);
  const kern = k.map((v) => v / norm);
  const tmp = new Float32Array(data.length);
  const out = new Float32Array(data.length);
  const at = (e: number, y: number, x: number, ch: number) => ((e * h + y) * w + x) * c + ch;
  for (let e = 0; e < n; e++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let i = -r; i <= r; i++)
            s += kern[i + r] * data[at(e, y, Math.min(w - 1, Math.max(0, x + i)), ch)];
          tmp[at(e, y, x, ch)] = s;
        }
  for (let e = 0; e < n; e++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let i = -r; i <= r; i++)
            s += kern[i + r] * tmp[at(e, Math.min(h - 1, Math.max(0, y + i)), x, ch)];
          out[at(e, y, x, ch)] = s;
        }
  return out;
}

/** The baseline images a [N, H, W, C] (caller owns) and how to name them in the options. */
function baselineOf(
  x: tf.Tensor4D,
  o: IntegratedGradientsOptions,
  seed: number,
): { a: tf.Tensor4D; name: unknown; sigma?: number } {
  const [n, h, w, c] = x.shape;
  const b = o.baseline ?? 'zeros';
  if (b === 'zeros') return { a: tf.zerosLike(x), name: 'zeros' };
  if (b === 'uniform')
    return { a: tf.randomUniform(x.shape, 0, 1, 'float32', seed) as tf.Tensor4D, name: 'uniform' };
  if (b === 'blur') {
    const sigma = o.blurSigma ?? Math.min(h, w) / 10;
    return {
      a: tf.tensor4d(gaussianBlur(x.dataSync() as Float32Array, x.shape, sigma), x.shape),
      name: 'blur',
      sigma,
    };
  }
  if (typeof b === 'string')
    throw new UserError(`unknown baseline '${b}'; use zeros, blur, uniform or an image`);
  const per = h * w * c;
  const size = b instanceof tf.Tensor ? b.size : b.length;
  if (size !== per && size !== n * per)
    throw new UserError(
      `a baseline of ${size} values fits neither one image (${h}x${w}x${c}) nor the batch of ${n}`,
    );
  const a = tf.tidy(() => {
    const t =
      b instanceof tf.Tensor
        ? tf.cast(tf.reshape(b, [-1]), 'float32')
        : tf.tensor1d(Array.from(b), 'float32');
    return size === per ? tf.broadcastTo(tf.reshape(t, [1, h, w, c]), x.shape) : tf.reshape(t, x.shape);
  }) as tf.Tensor4D;
  return { a, name: 'image' };
}

/**
 * IG's completeness per image: delta = sum of the image's map - (S(x) - S(a)), and
 * relativeError = |delta| / |S(x) - S(a)|, from the maps [N, ...] flattened.
 */
export function completeness(
  maps: ArrayLike<number>,
  scores: readonly number[],
  baselineScores: readonly number[],
): { delta: number[]; relativeError: number[] } {
  const per = maps.length / scores.length;
  const delta: number[] = [];
  const relativeError: number[] = [];
  scores.forEach((sx, e) => {
    let s = 0;
    for (let j = e * per; j < (e + 1) * per; j++) s += maps[j];
    const gap = sx - baselineScores[e];
    delta.push(s - gap);
    relativeError.push(Math.abs(s - gap) / Math.abs(gap));
  });
  return { delta, relativeError };
}

/** Path points when `steps` is not given. */
export const DEFAULT_STEPS = 100;

/** Gradient evaluations IG makes per image: m (right Riemann) or m + 1 (trapezoid). */
export const igPoints = (o: IntegratedGradientsOptions | ExplainOptions): number =>
  (o.steps ?? DEFAULT_STEPS) + (o.rule === 'trapezoid' ? 1 : 0);

const BASELINES = ['zeros', 'blur', 'uniform'] as const;

/** Integrated Gradients' options (Sundararajan et al. 2017): path points, baseline and quadrature rule. */
export const INTEGRATED_GRADIENTS_OPTIONS = {
  ...COMMON_EXPLAIN_SPECS,
  steps: {
    type: 'number',
    integer: true,
    min: 1,
    default: DEFAULT_STEPS,
    doc: 'path points',
    metavar: 'm',
  },
  rule: {
    type: 'choice',
    choices: ['riemann-right', 'trapezoid'],
    default: 'riemann-right',
    doc: 'quadrature',
    metavar: 'rule',
  },
  baseline: {
    type: 'value',
    default: 'zeros',
    expects: "'zeros', 'blur', 'uniform' or an image (a tensor or an array)",
    check: (v) =>
      BASELINES.some((b) => b === v) ||
      v instanceof tf.Tensor ||
      (typeof v === 'object' && v !== null && typeof (v as ArrayLike<number>).length === 'number'),
    textChoices: BASELINES,
    doc: 'baseline',
    metavar: 'kind',
  },
  blurSigma: {
    type: 'number',
    min: 0,
    defaultText: 'min(H, W)/10',
    doc: "the blur baseline's std in pixels",
    metavar: 'px',
  },
  seed: SEED_SPEC,
  sampleRange: SAMPLE_RANGE_SPEC,
} satisfies OptionSpecs<IntegratedGradientsOptions>;

/** Integrated Gradients as a registry record: (x - x0) times the mean gradient along the straight path from the baseline x0. */
export const integratedGradientsExplainer = defineExplainer<
  IntegratedGradientsOptions,
  typeof INTEGRATED_GRADIENTS_OPTIONS
>({
  name: 'integrated-gradients',
  summary:
    'Integrated Gradients (Sundararajan et al., ICML 2017): path integral of gradients from a baseline',
  options: INTEGRATED_GRADIENTS_OPTIONS,
  facts: {
    samplesPerImage: igPoints,
    needsCam: false,
    needsLayersModel: false,
    signed: true,
    resolution: 'input',
  },
  explain: (model, batch, o) => {
    const c = commonSettings(model, o);
    const m = o.steps;
    const { rule, seed } = o;
    const targets = resolveTargets(model, batch, c.target);
    const x = batch.x;
    const [n, h, w, ch] = x.shape;
    const { a, name, sigma } = baselineOf(x, o, seed);
    // Right Riemann: alpha = k/m, k = 1..m, weights 1/m. Trapezoid: k = 0..m, ends weighted 1/(2m).
    const count = rule === 'riemann-right' ? m : m + 1;
    const alpha = (s: number) => (rule === 'riemann-right' ? (s + 1) / m : s / m);
    const range = sampleRangeOf(o.sampleRange, count);
    const xValues = x.dataSync() as Float32Array;
    const aValues = a.dataSync() as Float32Array;
    const avg = accumulateGradients(
      model,
      x.shape,
      count,
      c.batchSize,
      targets,
      c.score,
      (images, s) => {
        // Path points a + alpha (x - a), in float32 as tf.add(a, tf.mul(alpha, tf.sub(x, a))) computes
        // them (each step rounded once), without the gathers and broadcasts.
        const per = h * w * ch;
        const values = new Float32Array(images.length * per);
        images.forEach((e, b) => {
          const al = Math.fround(alpha(s[b]));
          for (let j = 0, o = e * per, d = b * per; j < per; j++) {
            const av = aValues[o + j];
            values[d + j] = av + Math.fround(al * Math.fround(xValues[o + j] - av));
          }
        });
        return tf.tensor4d(values, [images.length, h, w, ch]);
      },
      (s) => (rule === 'trapezoid' && (s === 0 || s === m) ? 0.5 / m : 1 / m),
      range,
    );
    const maps = tf.tidy(() => tf.mul(tf.sub(x, a), tf.tensor4d(avg, [n, h, w, ch]))) as tf.Tensor4D;
    const scores = scoresOf(model, x, targets, c.score, c.batchSize);
    const baselineScores = scoresOf(model, a, targets, c.score, c.batchSize);
    a.dispose();
    const { delta, relativeError } = completeness(maps.dataSync(), scores, baselineScores);
    return {
      maps,
      targets,
      scores,
      baselineScores,
      delta,
      relativeError,
      options: {
        method: 'integrated-gradients',
        ...c,
        steps: m,
        rule,
        baseline: name,
        ...(sigma !== undefined ? { blurSigma: sigma } : {}),
        seed,
        ...(o.sampleRange ? { sampleRange: range } : {}),
      },
    };
  },
});

/** Integrated Gradients (see the file's header); validates its options. */
export const integratedGradients = integratedGradientsExplainer.run;
