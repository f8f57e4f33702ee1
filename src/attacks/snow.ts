/**
 * Snow attack: Kang et al., "Testing Robustness Against Unforeseen Adversaries", 2019 (ALGORITHMS.md
 * section 1). Seven blurred line ("flake") kernels, 13x13, one per intensity grid; each grid lives on a
 * stride-4 lattice (grid k < 4 at pixel offset (0, k), grid k >= 4 at offset (k-3, 0)). The snow layer
 * is `snow = sum_k conv(place_k(I_k^4), kernel_k)` and the image
 * `x' = clip(0.75x + 0.25*max(x, 1.5*luma + 0.5) + eps*snow, 0, 1)` (luma: Rec. 709 weights for RGB,
 * the image itself for C = 1). The intensities start at exp(-U/0.2) and take sign steps of `stepSize`;
 * after every step (and at the start) they are held to [1e-9, 1] and to the budget: in every block
 * of 8x8 lattice cells of every grid (32x32 pixels, the original code's block; partial blocks at the
 * bottom and right edges count the cells they have) the mean intensity is at most `budget`. See
 * {@link snowBudget}.
 *
 * Projection onto that budget. Default 'euclidean': the nearest point, clip(v - lambda, 1e-9, 1) per
 * block. The original ('rescale') multiplies an over-budget block by budget/mean instead; after a
 * sign step that raises every intensity by the same amount, that pulls all of them toward the budget
 * (v -> (v + a) b / (b + a) has the fixed point b), which flattens the flakes (I^4) step after step:
 * on the MNIST small CNN at eps 0.5, 20 such steps lower the loss below that of the random start
 * (2.27 -> 0.51), while the euclidean projection raises it (3.1 -> 21).
 *
 * Units: the original applies snow to [0,1] images (eps multiplies the snow layer, whose flakes are
 * ~1 high), so the doc's Snow budget 2 is already in [0,1] pixel units and is the default unchanged.
 * The default step is eps/sqrt(steps) on the intensities, as ALGORITHMS.md says; Kang et al.'s
 * published runs (their calibration files) used a fixed step of 0.002236 for Snow: pass `stepSize`.
 * Options and defaults, besides those in unforeseen.ts: `eps` 2, `budget` 0.2 (the mean intensity per
 * block per grid, and the rate of the initial exp(-U/budget)), `projection` 'euclidean' | 'rescale'.
 * Random by construction: the flakes (length, width 1/3/5 px with p = .6/.3/.1, blur sigma
 * U(0.41, 0.6), one falling direction for the batch) and the initial intensities come from `seed`.
 * The original also skips the clip and budget after its last step; here every intensity is inside them.
 * Input: images [N, H, W, C] in [0, 1], any H, W, C = 1 or 3.
 *
 *   const r = snow(model, batch, { eps: 2 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackResult } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import {
  ascend,
  requireRandomStart,
  roundUp,
  unforeseenSettings,
  unforeseenSpecs,
  type UnforeseenOptions,
} from './unforeseen.ts';
import { defineAttack } from './record.ts';
import { createRng, type Rng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';
import { resolveOptions, type OptionSpecs, type Resolved } from '../options.ts';

/** Options of the snow attack. */
export interface SnowOptions extends UnforeseenOptions {
  /** Mean intensity per block per grid, and the rate of the initial exp(-U/budget). */
  budget?: number;
  projection?: 'euclidean' | 'rescale';
  /** Always true (random by construction); false is refused. */
  randomStart?: boolean;
}

/** Snow's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const SNOW_OPTIONS = {
  ...unforeseenSpecs(2, 'weight of the snow layer, in [0,1] pixel units'),
  budget: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    default: 0.2,
    doc: 'mean flake intensity per 32x32 block and grid',
    metavar: 'x',
  },
  projection: {
    type: 'choice',
    choices: ['euclidean', 'rescale'],
    default: 'euclidean',
    doc: "projection onto the budget: the nearest point, or the original code's rescaling",
  },
  randomStart: { type: 'boolean', doc: 'always true: the flakes are random by construction' },
} satisfies OptionSpecs<SnowOptions>;

const FLAKES = 7;
const SIZE = 13;
/** Lattice cells per budget block side. */
const BLOCK = 8;

/** A flake kernel [13*13]: a blurred anti-aliased line through the centre, point-symmetric. */
function flakeKernel(rng: Rng, flip: boolean): Float32Array {
  const mid = (SIZE - 1) / 2;
  // The original draws the lower-right end in [mid+2, SIZE) and mirrors the line through the centre.
  const r1 = mid + 2 + rng.int(SIZE - mid - 2);
  const c1 = mid + 2 + rng.int(SIZE - mid - 2);
  const u = rng.next();
  const width = u < 0.6 ? 1 : u < 0.9 ? 3 : 5;
  const [ar, ac, br, bc] = [2 * mid - r1, 2 * mid - c1, r1, c1];
  const line = new Float32Array(SIZE * SIZE);
  for (let r = 0; r < SIZE; r++)
    for (let c = 0; c < SIZE; c++) {
      // Distance from (r, c) to the segment a-b; the profile is flat (1) to width/4 and falls off over 1 px.
      const t = Math.max(
        0,
        Math.min(1, ((r - ar) * (br - ar) + (c - ac) * (bc - ac)) / ((br - ar) ** 2 + (bc - ac) ** 2)),
      );
      const d = Math.hypot(r - ar - t * (br - ar), c - ac - t * (bc - ac));
      line[r * SIZE + (flip ? SIZE - 1 - c : c)] = Math.max(0, Math.min(1, 1 + width / 4 - d));
    }
  const sigma = 0.41 + 0.19 * rng.next();
  const g = [-1, 0, 1].map((k) => Math.exp(-(k * k) / (2 * sigma * sigma)));
  const gs = g.reduce((a, b) => a + b) ** 2;
  const out = new Float32Array(SIZE * SIZE);
  for (let r = 0; r < SIZE; r++)
    for (let c = 0; c < SIZE; c++) {
      let s = 0;
      for (let i = -1; i <= 1; i++)
        for (let j = -1; j <= 1; j++) {
          const rr = r + i;
          const cc = c + j;
          if (rr >= 0 && rr < SIZE && cc >= 0 && cc < SIZE) s += g[i + 1] * g[j + 1] * line[rr * SIZE + cc];
        }
      out[r * SIZE + c] = s / gs;
    }
  return out;
}

/** The seven flake kernels as a conv2d filter [13, 13, 7, 1] (the batch shares one falling direction). */
export function snowKernels(rng: Rng): tf.Tensor4D {
  const flip = rng.next() < 0.5;
  const ks = Array.from({ length: FLAKES }, () => flakeKernel(rng, flip));
  const f = new Float32Array(SIZE * SIZE * FLAKES);
  ks.forEach((k, ch) => k.forEach((v, p) => (f[p * FLAKES + ch] = v)));
  return tf.tensor4d(f, [SIZE, SIZE, FLAKES, 1]);
}

/** Lattice size [gh, gw] for images of height h and width w. */
function lattice(h: number, w: number): [number, number] {
  return [Math.ceil(h / 4), Math.ceil(w / 4)];
}

/**
 * The snowy image for intensities [N, gh, gw, 7] (differentiable in them): flakes I^4 placed on the
 * stride-4 lattice, convolved with their kernels, summed, added with weight eps. Caller owns.
 */
export function snowImage(
  x: tf.Tensor4D,
  intensities: tf.Tensor,
  kernels: tf.Tensor4D,
  eps: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [gh, gw] = intensities.shape.slice(1) as [number, number];
    const place = new Float32Array(4 * 4 * FLAKES);
    for (let k = 0; k < FLAKES; k++) place[(k < 4 ? k : (k - 3) * 4) * FLAKES + k] = 1;
    const grid = tf.reshape(
      tf.mul(
        tf.reshape(tf.pow(intensities, 4), [n * gh, 1, gw, 1, FLAKES]),
        tf.tensor(place, [1, 4, 1, 4, FLAKES]),
      ),
      [n, 4 * gh, 4 * gw, FLAKES],
    );
    const layer = tf.slice(tf.conv2d(grid as tf.Tensor4D, kernels, 1, 'same'), [0, 0, 0, 0], [n, h, w, 1]);
    const luma = c === 3 ? tf.sum(tf.mul(x, tf.tensor1d([0.2126, 0.7152, 0.0722])), 3, true) : x;
    const base = tf.add(tf.mul(0.75, x), tf.mul(0.25, tf.maximum(x, tf.add(tf.mul(1.5, luma), 0.5))));
    return tf.clipByValue(tf.add(base, tf.mul(eps, layer)), 0, 1) as tf.Tensor4D;
  });
}

/** Mean intensity of every 8x8-cell block of every grid, [N, bh, bw, 7], of intensities [N, gh, gw, 7]. */
function blockMeans(v: Float32Array, n: number, gh: number, gw: number): Float32Array {
  const bh = Math.ceil(gh / BLOCK);
  const bw = Math.ceil(gw / BLOCK);
  const sum = new Float32Array(n * bh * bw * FLAKES);
  const count = new Float32Array(bh * bw);
  for (let i = 0; i < gh; i++)
    for (let j = 0; j < gw; j++) count[Math.floor(i / BLOCK) * bw + Math.floor(j / BLOCK)]++;
  for (let e = 0; e < n; e++)
    for (let i = 0; i < gh; i++)
      for (let j = 0; j < gw; j++) {
        const b = Math.floor(i / BLOCK) * bw + Math.floor(j / BLOCK);
        for (let k = 0; k < FLAKES; k++)
          sum[(e * bh * bw + b) * FLAKES + k] += v[((e * gh + i) * gw + j) * FLAKES + k];
      }
  return sum.map((s, idx) => s / count[Math.floor(idx / FLAKES) % (bh * bw)]);
}

const FLOOR = 1e-9;

/**
 * Holds intensities [N, gh, gw, 7] to [1e-9, 1] and every block mean to at most `budget`.
 * 'euclidean': the nearest point, v_i = clip(v_i - lambda, 1e-9, 1) with lambda >= 0 per block and grid
 * (found by bisection) so that the mean is the budget; 'rescale': the original's clip, then scaling a
 * block whose mean exceeds the budget down by budget/mean.
 */
function project(
  v: Float32Array,
  n: number,
  gh: number,
  gw: number,
  budget: number,
  how: 'euclidean' | 'rescale',
): Float32Array {
  const out = v.map((a) => Math.min(1, Math.max(FLOOR, a)));
  const means = blockMeans(out, n, gh, gw);
  const bh = Math.ceil(gh / BLOCK);
  const bw = Math.ceil(gw / BLOCK);
  for (let e = 0; e < n; e++)
    for (let bi = 0; bi < bh; bi++)
      for (let bj = 0; bj < bw; bj++)
        for (let k = 0; k < FLAKES; k++) {
          const m = means[((e * bh + bi) * bw + bj) * FLAKES + k];
          if (m <= budget) continue;
          const cells: number[] = [];
          for (let i = bi * BLOCK; i < Math.min(gh, (bi + 1) * BLOCK); i++)
            for (let j = bj * BLOCK; j < Math.min(gw, (bj + 1) * BLOCK); j++)
              cells.push(((e * gh + i) * gw + j) * FLAKES + k);
          if (how === 'rescale') {
            for (const c of cells) out[c] *= budget / m;
            continue;
          }
          const meanAt = (lam: number) =>
            cells.reduce((s, c) => s + Math.min(1, Math.max(FLOOR, v[c] - lam)), 0) / cells.length;
          let lo = 0;
          let hi = Math.max(...cells.map((c) => v[c]));
          for (let it = 0; it < 60 && hi - lo > 1e-12; it++) {
            const mid = (lo + hi) / 2;
            if (meanAt(mid) > budget) lo = mid;
            else hi = mid;
          }
          for (const c of cells) out[c] = Math.min(1, Math.max(FLOOR, v[c] - hi));
        }
  return out;
}

/** The attack's budget measure: per example, the largest block mean intensity (at most `budget`). */
export function snowBudget(intensities: tf.Tensor): number[] {
  const [n, gh, gw] = intensities.shape;
  const means = blockMeans(intensities.dataSync() as Float32Array, n, gh, gw);
  const per = means.length / n;
  return Array.from({ length: n }, (_, e) => Math.max(...means.subarray(e * per, (e + 1) * per)));
}

type SnowSettings = Resolved<SnowOptions, typeof SNOW_OPTIONS>;

/** Runs the snow attack; returns the result and the final intensities [N, gh, gw, 7] (caller owns both). */
export function runSnow(
  model: Classifier,
  batch: Batch,
  options: SnowOptions,
): { result: AttackResult; intensities: tf.Tensor4D } {
  return snowFrom(model, batch, resolveOptions({ kind: 'attack', name: 'snow' }, SNOW_OPTIONS, options));
}

function snowFrom(
  model: Classifier,
  batch: Batch,
  o: SnowSettings,
): { result: AttackResult; intensities: tf.Tensor4D } {
  const s = unforeseenSettings(o);
  requireRandomStart(o, 'snow');
  const { budget, projection } = o;
  const [n, h, w, c] = batch.x.shape;
  if (c !== 1 && c !== 3) throw new UserError(`snow takes images with 1 or 3 channels, not ${c}`);
  const [gh, gw] = lattice(h, w);
  const rng = createRng(s.seed);
  const kernels = snowKernels(rng);
  const init = Float32Array.from({ length: n * gh * gw * FLAKES }, () => Math.exp(-rng.next() / budget));
  const update = (v: tf.Tensor, g: tf.Tensor): tf.Tensor => {
    const stepped = tf.tidy(() => tf.add(v, tf.mul(s.stepSize, tf.sign(g))).dataSync() as Float32Array);
    return tf.tensor4d(project(stepped, n, gh, gw, budget, projection), [n, gh, gw, FLAKES]);
  };
  try {
    const { result, vars } = ascend(
      model,
      batch,
      s,
      tf.tensor4d(project(init, n, gh, gw, budget, projection), [n, gh, gw, FLAKES]),
      () => (v) => snowImage(batch.x, v, kernels, s.eps),
      update,
      {
        attack: 'snow',
        epsUnits: '[0,1] pixels (times the snow layer)',
        ...s,
        randomStart: true,
        budget,
        projection,
      },
    );
    return { result, intensities: vars as tf.Tensor4D };
  } finally {
    kernels.dispose();
  }
}

/** Snow (Kang et al. 2019): adversarial snowflakes, per-block intensity budget; default eps 2. */
export const snowAttack = defineAttack<SnowOptions, typeof SNOW_OPTIONS>({
  name: 'snow',
  summary: 'Snow (Kang et al. 2019): adversarial snowflakes under a per-block intensity budget',
  options: SNOW_OPTIONS,
  facts: {
    norm: null,
    iterative: true,
    identityAtZero: false,
    exampleEps: '2',
    epsUnits: '[0,1] pixels (times the snow layer)',
  },
  attack: (model, batch, o) => {
    const { result, intensities } = snowFrom(model, batch, o);
    intensities.dispose();
    return result;
  },
});

/** The snow attack (see the file's header); validates its options. */
export const snow = snowAttack.run;
