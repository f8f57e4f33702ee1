/**
 * JPEG attacks: Kang et al., "Testing Robustness Against Unforeseen Adversaries", 2019 (ALGORITHMS.md
 * section 1). The perturbation lives in JPEG's quantised DCT coefficients: the image is converted to
 * YCbCr (JFIF), the chroma subsampled 4:2:0, every 8x8 block transformed by the orthonormal DCT (a
 * 64x64 matrix product) and divided by the standard luma / chroma quantisation tables. Every
 * coefficient moves by eps*v/2 with v in the unit L-inf box, L2 ball or L1 ball; the change is
 * de-quantised, inverse-transformed, the chroma upsampled (nearest), turned back to RGB and added:
 * `x' = clip(x + J^-1(eps*v/2), 0, 1)`. No rounding, so all of it is differentiable. As in the original
 * code the variables are u = eps*v, so ||u||_p <= eps and steps are taken in u.
 *
 * Units: Kang et al. take the DCT of 0-255 pixels; here it is taken of [0,1] pixels, so every
 * coefficient, and so every budget, is 1/255 of theirs. Defaults are the Int/Int2 paper's MNIST/CIFAR
 * budgets over 255: JPEG-L-inf 0.25/255, JPEG-L2 8/255, JPEG-L1 256/255 (the same images as their
 * budgets on 0-255 pixels).
 *
 * Updates. L-inf: u += stepSize*sign(g), clipped to [-eps, eps]. L2: u += stepSize*g/||g||_2, scaled
 * back into the eps-ball. L1: Frank-Wolfe, as Kang et al.: the vertex s = argmax <g, s> over
 * {||s||_1 <= eps, |s_i| <= box} (see {@link l1Vertex}), then u += (s - u)/(t+1); the iterate is an
 * average of vertices, so it is inside the L1 ball by construction (no projection; `stepSize` does not
 * apply). Random init, uniform: in the box; in the L2 ball (Gaussian direction, radius eps*U^(1/D)); in
 * the L1 ball (signed exponentials over their sum plus one more, Barthe et al. 2005).
 *
 * Options and defaults, besides those in unforeseen.ts: `eps` as above, `randomStart` true, and
 *   `box`  jpeg-l1: the vertex's bound per coefficient, default 2/255 (the original's l1_max = 2 on
 *          0-255 coefficients, i.e. one quantisation step); jpeg-l2: an optional clip of every |u_i|
 *          after projection (the original clips at 2/255 in these units; off by default);
 *   `base` 'image' (default): x' = clip(x + J^-1(u/2)), so v = 0 returns x exactly; 'jpeg': the
 *          original's x' = clip(J^-1(J(x) + u/2)), which also carries the 4:2:0 chroma loss of x.
 * H and W are padded to multiples of 16 by repeating the last row and column (the original's replicate
 * padding) and cropped back, so any size works; grayscale (C = 1) is luma only. Not reproduced from
 * the original: its first gradient is taken at eps times the init. Input: [N, H, W, C] in [0, 1].
 *
 *   const r = jpegLinf(model, batch, { eps: 0.25 / 255, steps: 200 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackResult } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import {
  ascend,
  padEdge,
  roundUp,
  unforeseenSettings,
  unforeseenSpecs,
  type UnforeseenOptions,
} from './unforeseen.ts';
import { defineAttack, type AttackFactsInput } from './record.ts';
import { createRng, type Rng } from '../engine/rng.ts';
import { omitSpecs, refused, resolveOptions, type OptionSpecs } from '../options.ts';
import { UserError } from '../errors.ts';

/** The norm bounding a JPEG attack's change of DCT coefficients. */
export type JpegNorm = 'linf' | 'l2' | 'l1';

/** Default budgets in quantised coefficients of [0,1] images (Kang et al.'s 0-255 budgets / 255). */
export const JPEG_EPS: Record<JpegNorm, number> = { linf: 0.25 / 255, l2: 8 / 255, l1: 256 / 255 };

/** Options of JPEG-L-inf. */
export interface JpegOptions extends UnforeseenOptions {
  randomStart?: boolean;
  /** 'image': x' = clip(x + J^-1(u/2)); 'jpeg': the original's clip(J^-1(J(x) + u/2)). */
  base?: 'image' | 'jpeg';
  /** Refused: applies to jpeg-l1 and jpeg-l2 only. */
  box?: never;
}

/** Options of JPEG-L2: a clip of every |u_i| after projection (`box`, off by default). */
export interface JpegL2Options extends Omit<JpegOptions, 'box'> {
  box?: number;
}

/** Options of JPEG-L1: Frank-Wolfe steps of 1/(t+1) (no `stepSize`), the vertex's bound `box`. */
export interface JpegL1Options extends Omit<JpegOptions, 'stepSize' | 'box'> {
  box?: number;
  /** Refused: the steps are 1/(t+1). */
  stepSize?: never;
}

const UNITS = 'quantised DCT coefficients of [0,1] images (Kang et al. budgets / 255)';

function jpegSpecs(norm: JpegNorm) {
  return {
    ...unforeseenSpecs(JPEG_EPS[norm], `${norm} budget of the coefficient change, in ${UNITS}`),
    randomStart: { type: 'boolean', default: true, doc: 'start from a random point of the budget' },
    base: {
      type: 'choice',
      choices: ['image', 'jpeg'],
      default: 'image',
      doc: 'perturb the image itself, or its JPEG version as the original code does',
    },
  } satisfies OptionSpecs<Omit<JpegOptions, 'box'>>;
}

const BOX = { type: 'number', min: 0, exclusiveMin: true, metavar: 'x' } as const;

/** JPEG L-inf's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const JPEG_LINF_OPTIONS = {
  ...jpegSpecs('linf'),
  box: refused('box applies to jpeg-l1 and jpeg-l2 only'),
} satisfies OptionSpecs<JpegOptions>;
/** JPEG L2's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const JPEG_L2_OPTIONS = {
  ...jpegSpecs('l2'),
  box: { ...BOX, doc: 'clip every coefficient change to [-box, box] after projection' },
} satisfies OptionSpecs<JpegL2Options>;
/** JPEG L1's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const JPEG_L1_OPTIONS = {
  ...omitSpecs(jpegSpecs('l1'), 'stepSize'),
  stepSize: refused('jpeg-l1 takes Frank-Wolfe steps of 1/(t+1)'),
  box: {
    ...BOX,
    default: 2 / 255,
    defaultText: '2/255',
    doc: "the Frank-Wolfe vertex's bound per coefficient",
  },
} satisfies OptionSpecs<JpegL1Options>;

/** The checked options of a JPEG attack, defaults filled in. */
interface JpegSettings {
  eps: number;
  steps: number;
  stepSize?: number;
  loss: 'ce' | 'cw';
  earlyStop: boolean;
  seed: number;
  target?: number | number[];
  randomStart: boolean;
  base: 'image' | 'jpeg';
  box?: number;
}

// Standard JPEG tables (ITU T.81 Annex K, quality 50), row = vertical frequency.
// prettier-ignore
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_TOP = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 99, 47, 66, 99, 99];
const CHROMA_Q = Array.from({ length: 64 }, (_, k) =>
  k >> 3 < 4 && (k & 7) < 4 ? CHROMA_TOP[(k >> 3) * 4 + (k & 7)] : 99,
);
/** JPEG's level shift, 128 in 0-255 units. */
const SHIFT = 128 / 255;
/** JFIF RGB -> (Y, Cb, Cr) of level-shifted pixels (rows). */
const RGB_TO_YCC = [
  [0.299, 0.587, 0.114],
  [-0.168736, -0.331264, 0.5],
  [0.5, -0.418688, -0.081312],
];
const YCC_TO_RGB = invert3(RGB_TO_YCC);

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

/** The orthonormal 8-point DCT-II matrix D[u][i] = a(u) cos((2i+1) u pi / 16), a(0) = sqrt(1/8), else 1/2. */
export function dctMatrix(): number[][] {
  return Array.from({ length: 8 }, (_, u) =>
    Array.from(
      { length: 8 },
      (_, i) => (u === 0 ? Math.sqrt(1 / 8) : 0.5) * Math.cos(((2 * i + 1) * u * Math.PI) / 16),
    ),
  );
}

/** K = D (x) D [64, 64]: the 2-D DCT of a row-major 8x8 block b is K b; K is orthonormal. */
function blockDctMatrix(): tf.Tensor2D {
  const d = dctMatrix();
  const k = new Float32Array(64 * 64);
  for (let u = 0; u < 8; u++)
    for (let v = 0; v < 8; v++)
      for (let i = 0; i < 8; i++)
        for (let j = 0; j < 8; j++) k[(u * 8 + v) * 64 + i * 8 + j] = d[u][i] * d[v][j];
  return tf.tensor2d(k, [64, 64]);
}

/** Sizes of the coefficient vector of one image: luma then (RGB only) Cb and Cr, each row-major by block. */
export interface JpegLayout {
  n: number;
  h: number;
  w: number;
  c: number;
  /** Padded height and width (multiples of 16). */
  hp: number;
  wp: number;
  luma: number;
  chroma: number;
  /** Coefficients per image, D = luma + 2 * chroma. */
  size: number;
}

/** The coefficient layout for images of shape [N, H, W, C] (C = 1 or 3). */
export function jpegLayout(shape: number[]): JpegLayout {
  const [n, h, w, c] = shape;
  if (c !== 1 && c !== 3)
    throw new UserError(`the JPEG attacks take images with 1 or 3 channels, not ${c}; convert the images`);
  const hp = roundUp(h, 16);
  const wp = roundUp(w, 16);
  const chroma = c === 3 ? (hp * wp) / 4 : 0;
  return { n, h, w, c, hp, wp, luma: hp * wp, chroma, size: hp * wp + 2 * chroma };
}

/** Quantised block DCT of planes [N, h, w] (h, w multiples of 8) as [N, h*w], block by block. */
function dct(p: tf.Tensor, table: number[]): tf.Tensor2D {
  const [n, h, w] = p.shape;
  const blocks = tf.reshape(tf.transpose(tf.reshape(p, [n, h / 8, 8, w / 8, 8]), [0, 1, 3, 2, 4]), [-1, 64]);
  return tf.reshape(tf.div(tf.matMul(blocks, blockDctMatrix(), false, true), tf.tensor1d(table)), [n, h * w]);
}

/** Inverse of {@link dct}: de-quantise, inverse DCT, join the blocks into planes [N, h, w]. */
function idct(q: tf.Tensor, table: number[], n: number, h: number, w: number): tf.Tensor3D {
  const blocks = tf.matMul(tf.mul(tf.reshape(q, [-1, 64]), tf.tensor1d(table)), blockDctMatrix());
  return tf.reshape(tf.transpose(tf.reshape(blocks, [n, h / 8, w / 8, 8, 8]), [0, 1, 3, 2, 4]), [n, h, w]);
}

/** Applies a 3x3 colour matrix (rows = outputs) to [N, H, W, 3]. */
function colour(x: tf.Tensor, m: number[][]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  return tf.reshape(tf.matMul(tf.reshape(x, [-1, 3]), tf.tensor2d(m), false, true), [n, h, w, 3]);
}

/** JPEG coefficients [N, D] of images [N, H, W, C] in [0, 1] (padded, 4:2:0, not rounded); caller owns. */
export function jpegEncode(x: tf.Tensor4D): tf.Tensor2D {
  const L = jpegLayout(x.shape);
  return tf.tidy(() => {
    const xp = tf.sub(padEdge(x, L.hp, L.wp), SHIFT);
    if (L.c === 1) return dct(tf.reshape(xp, [L.n, L.hp, L.wp]), LUMA_Q);
    const [y, cb, cr] = tf.split(colour(xp, RGB_TO_YCC), 3, 3);
    const sub = (c: tf.Tensor) =>
      tf.reshape(tf.avgPool(c as tf.Tensor4D, 2, 2, 'valid'), [L.n, L.hp / 2, L.wp / 2]);
    return tf.concat(
      [dct(tf.reshape(y, [L.n, L.hp, L.wp]), LUMA_Q), dct(sub(cb), CHROMA_Q), dct(sub(cr), CHROMA_Q)],
      1,
    );
  });
}

/**
 * Images [N, H, W, C] from coefficients [N, D] (differentiable, not clipped); with `shift` false only
 * the linear part, i.e. the pixel change a coefficient change makes. Caller owns the result.
 */
export function jpegDecode(q: tf.Tensor2D, L: JpegLayout, shift = true): tf.Tensor4D {
  return tf.tidy(() => {
    let img: tf.Tensor;
    if (L.c === 1) img = tf.reshape(idct(q, LUMA_Q, L.n, L.hp, L.wp), [L.n, L.hp, L.wp, 1]);
    else {
      const [qy, qcb, qcr] = tf.split(q, [L.luma, L.chroma, L.chroma], 1);
      const up = (c: tf.Tensor) => {
        const p = tf.reshape(idct(c, CHROMA_Q, L.n, L.hp / 2, L.wp / 2), [L.n, L.hp / 2, 1, L.wp / 2, 1]);
        return tf.reshape(tf.mul(p, tf.ones([1, 1, 2, 1, 2])), [L.n, L.hp, L.wp]);
      };
      img = colour(tf.stack([idct(qy, LUMA_Q, L.n, L.hp, L.wp), up(qcb), up(qcr)], 3), YCC_TO_RGB);
    }
    if (shift) img = tf.add(img, SHIFT);
    return tf.slice(img, [0, 0, 0, 0], [L.n, L.h, L.w, L.c]) as tf.Tensor4D;
  });
}

/** The attack's image `clip(base + J^-1(u/2), 0, 1)` for variables u [N, D]; caller owns. */
export function jpegImage(base: tf.Tensor4D, u: tf.Tensor2D): tf.Tensor4D {
  const L = jpegLayout(base.shape);
  return tf.tidy(
    () => tf.clipByValue(tf.add(base, jpegDecode(tf.mul(u, 0.5), L, false)), 0, 1) as tf.Tensor4D,
  );
}

/**
 * The Frank-Wolfe vertex for one example: argmax <g, s> over ||s||_1 <= eps, |s_i| <= box. Fills the
 * coordinates in order of decreasing |g_i| with box * sign(g_i) until eps is spent (the last one
 * partly); coordinates with g_i = 0 get nothing.
 */
export function l1Vertex(g: ArrayLike<number>, eps: number, box: number): Float32Array {
  const order = Array.from({ length: g.length }, (_, i) => i).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
  const s = new Float32Array(g.length);
  let left = eps;
  for (const i of order) {
    if (left <= 0 || g[i] === 0) break;
    const m = Math.min(box, left);
    s[i] = Math.sign(g[i]) * m;
    left -= m;
  }
  return s;
}

/** The attack's budget measure: ||u||_p per example, to compare with eps. */
export function jpegBudget(u: tf.Tensor2D, norm: JpegNorm): number[] {
  return tf.tidy(() => {
    const a = tf.abs(u);
    const r =
      norm === 'linf' ? tf.max(a, 1) : norm === 'l1' ? tf.sum(a, 1) : tf.sqrt(tf.sum(tf.square(u), 1));
    return Array.from(r.dataSync());
  });
}

function randomInit(rng: Rng, norm: JpegNorm, n: number, d: number, eps: number): Float32Array {
  const u = new Float32Array(n * d);
  for (let e = 0; e < n; e++) {
    const row = u.subarray(e * d, (e + 1) * d);
    if (norm === 'linf') row.forEach((_, i) => (row[i] = eps * (2 * rng.next() - 1)));
    else if (norm === 'l2') {
      row.forEach((_, i) => (row[i] = rng.normal()));
      const len = Math.sqrt(row.reduce((a, v) => a + v * v, 0)) || 1;
      const r = eps * Math.pow(rng.next(), 1 / d);
      row.forEach((v, i) => (row[i] = (v / len) * r));
    } else {
      row.forEach((_, i) => (row[i] = -Math.log(1 - rng.next()) * (rng.next() < 0.5 ? -1 : 1)));
      const total = row.reduce((s, v) => s + Math.abs(v), 0) - Math.log(1 - rng.next());
      row.forEach((v, i) => (row[i] = (eps * v) / total));
    }
  }
  return u;
}

/**
 * Runs a JPEG attack and returns the result and the final variables u = eps*v [N, D] (caller owns
 * both): `jpegBudget(u, norm)` is what the budget bounds.
 */
export function runJpeg(
  model: Classifier,
  batch: Batch,
  options: JpegOptions | JpegL2Options | JpegL1Options,
  norm: JpegNorm,
): { result: AttackResult; u: tf.Tensor2D } {
  const method = { kind: 'attack', name: `jpeg-${norm}` } as const;
  const o: JpegSettings =
    norm === 'linf'
      ? resolveOptions<JpegOptions, typeof JPEG_LINF_OPTIONS>(method, JPEG_LINF_OPTIONS, options)
      : norm === 'l2'
        ? resolveOptions<JpegL2Options, typeof JPEG_L2_OPTIONS>(method, JPEG_L2_OPTIONS, options)
        : resolveOptions<JpegL1Options, typeof JPEG_L1_OPTIONS>(method, JPEG_L1_OPTIONS, options);
  return jpegFrom(model, batch, o, norm);
}

function jpegFrom(
  model: Classifier,
  batch: Batch,
  o: JpegSettings,
  norm: JpegNorm,
): { result: AttackResult; u: tf.Tensor2D } {
  const name = `jpeg-${norm}`;
  const s = unforeseenSettings(o);
  const box = o.box ?? null;
  const { base, randomStart } = o;
  const L = jpegLayout(batch.x.shape);
  const { eps, stepSize: alpha } = s;
  const init = randomStart
    ? randomInit(createRng(s.seed), norm, L.n, L.size, eps)
    : new Float32Array(L.n * L.size);

  const update = (v: tf.Tensor, g: tf.Tensor, t: number): tf.Tensor => {
    if (norm === 'linf') return tf.clipByValue(tf.add(v, tf.mul(alpha, tf.sign(g))), -eps, eps);
    if (norm === 'l2') {
      const stepped = tf.add(v, tf.mul(alpha, tf.div(g, tf.add(tf.norm(g, 2, 1, true), 1e-12))));
      const inBall = tf.mul(stepped, tf.minimum(1, tf.div(eps, tf.add(tf.norm(stepped, 2, 1, true), 1e-12))));
      return box === null ? inBall : tf.clipByValue(inBall, -box, box);
    }
    const gd = g.dataSync();
    const vd = v.dataSync();
    const next = new Float32Array(vd.length);
    for (let i = 0; i < L.n; i++) {
      const vertex = l1Vertex(gd.subarray(i * L.size, (i + 1) * L.size), eps, box as number);
      vertex.forEach(
        (sv, k) => (next[i * L.size + k] = vd[i * L.size + k] + (sv - vd[i * L.size + k]) / (t + 1)),
      );
    }
    return tf.tensor2d(next, [L.n, L.size]);
  };

  const baseImg = base === 'image' ? tf.clone(batch.x) : tf.tidy(() => jpegDecode(jpegEncode(batch.x), L));
  try {
    const { result, vars } = ascend(
      model,
      batch,
      s,
      tf.tensor2d(init, [L.n, L.size]),
      () => (w) => jpegImage(baseImg, w as tf.Tensor2D),
      update,
      {
        attack: name,
        epsUnits: 'quantised DCT coefficients of [0,1] images (Kang et al. budgets / 255)',
        ...s,
        stepSize: norm === 'l1' ? null : alpha,
        norm,
        randomStart,
        box,
        base,
      },
    );
    return { result, u: vars as tf.Tensor2D };
  } finally {
    baseImg.dispose();
  }
}

const facts = (norm: JpegNorm, exampleEps: string): AttackFactsInput => ({
  norm: null,
  iterative: true,
  exampleEps,
  epsUnits: UNITS,
});

function attackOf(norm: JpegNorm) {
  return (model: Classifier, batch: Batch, o: JpegSettings): AttackResult => {
    const { result, u } = jpegFrom(model, batch, o, norm);
    u.dispose();
    return result;
  };
}

/** JPEG-L-inf (Kang et al. 2019): quantised-coefficient change in an L-inf box; default eps 0.25/255. */
export const jpegLinfAttack = defineAttack<JpegOptions, typeof JPEG_LINF_OPTIONS>({
  name: 'jpeg-linf',
  summary: 'JPEG-L-inf (Kang et al. 2019): change of the quantised JPEG coefficients in an L-inf box',
  options: JPEG_LINF_OPTIONS,
  facts: facts('linf', '0.25/255'),
  attack: attackOf('linf'),
});
/** JPEG-L2 (Kang et al. 2019): quantised-coefficient change in an L2 ball; default eps 8/255. */
export const jpegL2Attack = defineAttack<JpegL2Options, typeof JPEG_L2_OPTIONS>({
  name: 'jpeg-l2',
  summary: 'JPEG-L2 (Kang et al. 2019): change of the quantised JPEG coefficients in an L2 ball',
  options: JPEG_L2_OPTIONS,
  facts: facts('l2', '8/255'),
  attack: attackOf('l2'),
});
/** JPEG-L1 (Kang et al. 2019): quantised-coefficient change in an L1 ball, Frank-Wolfe; default eps 256/255. */
export const jpegL1Attack = defineAttack<JpegL1Options, typeof JPEG_L1_OPTIONS>({
  name: 'jpeg-l1',
  summary:
    'JPEG-L1 (Kang et al. 2019): change of the quantised JPEG coefficients in an L1 ball (Frank-Wolfe)',
  options: JPEG_L1_OPTIONS,
  facts: facts('l1', '256/255'),
  attack: attackOf('l1'),
});

/** JPEG-L-inf (see the file's header); validates its options. */
export const jpegLinf = jpegLinfAttack.run;
/** JPEG-L2 (see the file's header); validates its options. */
export const jpegL2 = jpegL2Attack.run;
/** JPEG-L1 (see the file's header); validates its options. */
export const jpegL1 = jpegL1Attack.run;
