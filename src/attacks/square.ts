/**
 * Square Attack: Andriushchenko, Croce, Flammarion and Hein, "Square Attack: a query-efficient
 * black-box adversarial attack via random search", ECCV 2020 (AutoAttack's score-based attack;
 * reference code fra31/auto-attack). Bounds the L-inf or the L2 distance. Uses only the model's scores, never
 * its gradients, so gradient masking does not stop it. Random search on the margin loss
 * m(x') = z_y - max_{j!=y} z_j (targeted: max_{j!=t} z_j - z_t), per example:
 *
 *   x_best = clip(x + eps * stripes, 0, 1)   (one random sign per column and channel: vertical stripes)
 *   for i = 0 .. queries - 1, while m(x_best) > 0:
 *     p = p(i); s = max(round(sqrt(p * H * W)), 1), at most min(H, W)
 *     pick a random s x s window (top-left corner uniform in [0, H - s) x [0, W - s), as the
 *     reference draws it) and one random sign per channel; x_new = x_best with the window set to
 *     clip(x + eps * sign, 0, 1)
 *     keep x_new when its loss is lower or it is misclassified.
 * p(i) = p_init, halved after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 iterations
 * (p_init / 2 for 10 < i <= 50, ..., p_init / 512 for i > 8000), on i rescaled to
 * floor(i / queries * 10000) when `rescaleSchedule` is true (the reference class's default;
 * AutoAttack itself runs 5,000 queries with the schedule not rescaled).
 * Windows and signs are drawn per example (as the paper's code; AutoAttack's PyTorch port shares
 * one window per batch) from the src/engine/rng.ts stream of `seed`, in example order.
 *
 * L2 (the paper's algorithm 3): the update is a "meta-pseudo-Gaussian" square eta(s): the top
 * floor(s/2) rows hold concentric rectangles around their centre weighted sum_{k >= r} 1/(k+1)^2
 * (r the ring), the bottom rows the same pattern negated, normalised to ||eta||_2 = 1 and transposed
 * with probability 1/2. With d = x_best - x (||d||_2 = eps after clipping at most):
 *
 *   x_best = clip(x + eps * u / ||u||_2, 0, 1), u = a grid of floor(H/5)-squares eta, a random sign
 *            per square and channel
 *   for i = 0 .. queries - 1, while m(x_best) > 0:
 *     s = max(round(sqrt(p(i) H W)), 3), made odd, at most min(H, W); two random s x s windows W1, W2
 *     per channel: new = eta(s) * sign + d|W1 / ||d|W1||, rescaled to
 *                        ||new|| = sqrt(max(eps^2 - ||d||^2, 0) / C + ||d|(W1 u W2)||^2)
 *     d|W2 = 0; d|W1 = new   (the mass of W2 moves into W1: the norm budget is kept)
 *     x_new = clip(x + eps * d / ||d||_2, 0, 1); kept when its margin is lower or it is misclassified.
 *
 * Options and defaults (SQUARE_OPTIONS): `eps` (required), `norm` 'linf' | 'l2' ('linf'),
 * `queries` 5000, `pInit` 0.8, `rescaleSchedule` true, `restarts` 0 (extra
 * runs on the points still robust), `seed` 0, `target` (targeted when given).
 * Input: images [N, H, W, C] in [0, 1] with int32 labels [N]. Returns the adversarial point where
 * found, else the lowest-margin point; metrics.queries = model queries spent per example.
 *
 *   const r = square(model, batch, { eps: 0.3, queries: 5000 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import { COMMON_SPECS, defineAttack } from './record.ts';
import type { OptionSpecs } from '../options.ts';
import { createRng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** Options of the Square Attack (see the header for defaults). */
export interface SquareOptions {
  eps: number;
  norm?: 'linf' | 'l2';
  /** Query budget per run (5000). */
  queries?: number;
  /** Initial fraction of pixels a square covers (0.8). */
  pInit?: number;
  /** Stretch the p schedule (written for 10,000 iterations) to `queries` (true). */
  rescaleSchedule?: boolean;
  restarts?: number;
  seed?: number;
  target?: number | number[];
}

/** Square's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const SQUARE_OPTIONS = {
  eps: COMMON_SPECS.eps,
  norm: {
    type: 'choice',
    choices: ['linf', 'l2'],
    default: 'linf',
    doc: 'norm of the ball (linf: sign squares; l2: pseudo-Gaussian squares)',
  },
  queries: {
    type: 'number',
    integer: true,
    min: 0,
    default: 5000,
    doc: 'model queries per run (score-based random search)',
    metavar: 'n',
  },
  pInit: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    max: 1,
    default: 0.8,
    doc: 'initial fraction of the pixels a square covers',
    metavar: 'p',
  },
  rescaleSchedule: {
    type: 'boolean',
    default: true,
    doc: 'stretch the p schedule (written for 10,000 queries) to --queries',
  },
  restarts: { ...COMMON_SPECS.restarts, doc: 'extra runs on the points still robust' },
  seed: COMMON_SPECS.seed,
  target: COMMON_SPECS.target,
} satisfies OptionSpecs<SquareOptions>;

/** The registry's facts about `square`: gradient-free, so the PGD-versus-FGSM check skips it. */
export const SQUARE_FACTS = {
  norm: 'linf',
  iterative: true,
  gradientFree: true,
  exampleEps: '0.3',
} as const;

/** The halving points of the p schedule, in iterations of a 10,000-iteration run. */
export const SQUARE_SCHEDULE = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000] as const;

/** The fraction p of pixels the square covers at iteration `it` (0-based), as the reference's p_selection. */
export function squareP(it: number, queries: number, pInit: number, rescale: boolean): number {
  const i = rescale ? Math.floor((it / queries) * 10000) : it;
  let halvings = 0;
  for (const at of SQUARE_SCHEDULE) if (i > at) halvings++;
  return pInit / 2 ** halvings;
}

/** The square's side for fraction p of an H x W image: max(round(sqrt(p H W)), 1), at most min(H, W). */
export function squareSide(p: number, h: number, w: number): number {
  return Math.min(Math.max(Math.round(Math.sqrt(p * h * w)), 1), Math.min(h, w));
}

/**
 * The paper's L2 building block on an xr x yc grid (row-major): concentric rectangles around the
 * centre (floor(xr/2), floor(yc/2)), ring r (from 0) and every ring outside it adding 1/(r+1)^2, so
 * the centre weighs most; normalised to unit L2 norm.
 */
export function squareRings(xr: number, yc: number): Float64Array {
  const m = new Float64Array(xr * yc);
  const cr = Math.floor(xr / 2);
  const cc = Math.floor(yc / 2);
  for (let ring = 0; ring < Math.max(cr + 1, cc + 1); ring++) {
    // The rectangle of rows cr - ring .. cr + ring and columns cc - ring .. cc + ring, cut to the grid.
    const w = 1 / (ring + 1) ** 2;
    for (let r = Math.max(cr - ring, 0); r < Math.min(cr + ring + 1, xr); r++)
      for (let c = Math.max(cc - ring, 0); c < Math.min(cc + ring + 1, yc); c++) m[r * yc + c] += w;
  }
  return scaleToUnit(m);
}

/** v / ||v||_2 in place. */
function scaleToUnit(v: Float64Array): Float64Array {
  let n = 0;
  for (const e of v) n += e * e;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/**
 * The L2 update square eta(s), s x s row-major: squareRings on the top floor(s/2) rows, minus
 * squareRings on the others, unit L2 norm; transposed when `transpose`.
 */
export function squareEta(s: number, transpose: boolean): Float64Array {
  const top = Math.floor(s / 2);
  const a = squareRings(top, s);
  const b = squareRings(s - top, s);
  const m = new Float64Array(s * s);
  for (let i = 0; i < top * s; i++) m[i] = a[i];
  for (let i = 0; i < (s - top) * s; i++) m[top * s + i] = -b[i];
  scaleToUnit(m);
  if (!transpose) return m;
  const t = new Float64Array(s * s);
  for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) t[c * s + r] = m[r * s + c];
  return t;
}

/** The L2 square's side: max(round(sqrt(p H W)), 3), made odd, at most min(H, W). */
export function squareSideL2(p: number, h: number, w: number): number {
  let s = Math.max(Math.round(Math.sqrt(p * h * w)), 3);
  if (s % 2 === 0) s++;
  return Math.min(s, Math.min(h, w));
}

/** x + eps d / ||d||_2, clipped to [0, 1], written to out (one image, NHWC flat). */
function placeL2(
  x: Float32Array,
  xOff: number,
  d: Float64Array,
  eps: number,
  out: Float32Array,
  oOff: number,
) {
  let n = 0;
  for (const e of d) n += e * e;
  const k = eps / (Math.sqrt(n) + 1e-12);
  for (let q = 0; q < d.length; q++) out[oOff + q] = Math.min(Math.max(x[xOff + q] + k * d[q], 0), 1);
}

/** The Square Attack as a registry record: its function, option specs and facts. */
export const squareAttack = defineAttack<SquareOptions, typeof SQUARE_OPTIONS>({
  name: 'square',
  summary: 'Square Attack (Andriushchenko et al., ECCV 2020): score-based random search, no gradients',
  options: SQUARE_OPTIONS,
  facts: SQUARE_FACTS,
  attack: (model, batch, o) => {
    const { eps, norm, queries, pInit, restarts, seed } = o;
    const rescale = o.rescaleSchedule;

    const x = batch.x;
    const [n, h, w, c] = x.shape;
    const per = h * w * c;
    const classes = model.labels.length;
    const y = Array.from(batch.y.dataSync());
    let goal = y;
    const targeted = o.target !== undefined;
    if (targeted) {
      const t = Array.isArray(o.target) ? o.target : new Array<number>(n).fill(o.target as number);
      if (t.length !== n)
        throw new UserError(`${t.length} targets for ${n} images; give one target or one per image`);
      for (const v of t)
        if (!Number.isInteger(v) || v < 0 || v >= classes)
          throw new UserError(`target class ${v} is outside 0..${classes - 1}`);
      goal = t;
    }
    const xs = x.dataSync() as Float32Array;
    /** Margins (> 0: not yet adversarial) of the images `imgs` (rows of idx). */
    const margins = (imgs: Float32Array, idx: number[]): Float32Array => {
      const z = tf.tidy(() => model.logits(tf.tensor4d(imgs, [idx.length, h, w, c])).dataSync());
      return Float32Array.from(idx, (ex, j) => {
        const g = goal[ex];
        let other = -Infinity;
        for (let k = 0; k < classes; k++) if (k !== g) other = Math.max(other, z[j * classes + k]);
        return targeted ? other - z[j * classes + g] : z[j * classes + g] - other;
      });
    };

    const out = Float32Array.from(xs);
    const bestMargin = new Float32Array(n).fill(Infinity);
    const spent = new Array<number>(n).fill(0);
    const rng = createRng(seed);
    const all = Array.from({ length: n }, (_, i) => i);
    const robust = Array.from(margins(xs, all), (m) => m > 0);

    /**
     * One L2 candidate (the header's update) for the example in row j of `best`, written to row k
     * of `cand`; `idx` is the current run's examples.
     */
    let idx: number[] = [];
    let best = new Float32Array(0);
    let cand = new Float32Array(0);
    const proposeL2 = (j: number, k: number, s: number) => {
      const ex = idx[j];
      const d = new Float64Array(per);
      let dd = 0;
      for (let q = 0; q < per; q++) {
        d[q] = best[j * per + q] - xs[ex * per + q];
        dd += d[q] * d[q];
      }
      const vh = Math.floor(rng.next() * (h - s));
      const vw = Math.floor(rng.next() * (w - s));
      const vh2 = Math.floor(rng.next() * (h - s));
      const vw2 = Math.floor(rng.next() * (w - s));
      const eta = squareEta(s, rng.next() < 0.5);
      const signs = Array.from({ length: c }, () => (rng.next() < 0.5 ? -1 : 1));
      const in1 = (r: number, col: number) => r >= vh && r < vh + s && col >= vw && col < vw + s;
      const in2 = (r: number, col: number) => r >= vh2 && r < vh2 + s && col >= vw2 && col < vw2 + s;
      for (let ch = 0; ch < c; ch++) {
        // Norms of d on W1 and on W1 u W2 in this channel.
        let n1 = 0;
        let n12 = 0;
        for (let r = 0; r < h; r++)
          for (let col = 0; col < w; col++) {
            const a = in1(r, col);
            if (!a && !in2(r, col)) continue;
            const v = d[(r * w + col) * c + ch] ** 2;
            n12 += v;
            if (a) n1 += v;
          }
        const fresh = new Float64Array(s * s);
        let nf = 0;
        for (let r = 0; r < s; r++)
          for (let col = 0; col < s; col++) {
            const old = d[((vh + r) * w + vw + col) * c + ch] / (Math.sqrt(n1) + 1e-12);
            const v = eta[r * s + col] * signs[ch] + old;
            fresh[r * s + col] = v;
            nf += v * v;
          }
        const target = Math.sqrt(Math.max(eps * eps - dd, 0) / c + n12);
        for (let r = vh2; r < vh2 + s; r++)
          for (let col = vw2; col < vw2 + s; col++) d[(r * w + col) * c + ch] = 0;
        for (let r = 0; r < s; r++)
          for (let col = 0; col < s; col++)
            d[((vh + r) * w + vw + col) * c + ch] = (fresh[r * s + col] / (Math.sqrt(nf) + 1e-12)) * target;
      }
      placeL2(xs, ex * per, d, eps, cand, k * per);
    };

    for (let r = 0; r <= restarts; r++) {
      idx = robust.flatMap((v, i) => (v ? [i] : []));
      if (idx.length === 0) break;
      best = new Float32Array(idx.length * per);
      if (norm === 'l2') {
        // A grid of floor(H/5)-squares eta(s), centred, one random sign per square and channel.
        const s = Math.max(Math.floor(h / 5), 1);
        const r0 = Math.floor((h - s * Math.floor(h / s)) / 2);
        const c0 = Math.floor((w - s * Math.floor(w / s)) / 2);
        idx.forEach((ex, j) => {
          const d = new Float64Array(per);
          for (let vh = r0; vh + s <= h; vh += s)
            for (let vw = c0; vw + s <= w; vw += s) {
              const eta = squareEta(s, rng.next() < 0.5);
              const signs = Array.from({ length: c }, () => (rng.next() < 0.5 ? -1 : 1));
              for (let r = 0; r < s; r++)
                for (let col = 0; col < s; col++)
                  for (let ch = 0; ch < c; ch++)
                    d[((vh + r) * w + vw + col) * c + ch] = eta[r * s + col] * signs[ch];
            }
          placeL2(xs, ex * per, d, eps, best, j * per);
        });
      } else
        // Vertical stripes: one sign per (column, channel) for each example.
        idx.forEach((ex, j) => {
          const signs = Array.from({ length: w * c }, () => (rng.next() < 0.5 ? -1 : 1));
          for (let q = 0; q < per; q++) {
            const col = Math.floor(q / c) % w;
            const v = xs[ex * per + q] + eps * signs[col * c + (q % c)];
            best[j * per + q] = Math.min(Math.max(v, 0), 1);
          }
        });
      const margin = margins(best, idx);
      idx.forEach((ex) => spent[ex]++);
      for (let it = 0; it < queries; it++) {
        const live = idx.flatMap((_, j) => (margin[j] > 0 ? [j] : []));
        if (live.length === 0) break;
        const p = squareP(it, queries, pInit, rescale);
        const s = norm === 'l2' ? squareSideL2(p, h, w) : squareSide(p, h, w);
        cand = new Float32Array(live.length * per);
        if (norm === 'l2') live.forEach((j, k) => proposeL2(j, k, s));
        else
          live.forEach((j, k) => {
            const ex = idx[j];
            cand.set(best.subarray(j * per, (j + 1) * per), k * per);
            const vh = Math.floor(rng.next() * (h - s));
            const vw = Math.floor(rng.next() * (w - s));
            const signs = Array.from({ length: c }, () => (rng.next() < 0.5 ? -1 : 1));
            for (let row = vh; row < vh + s; row++)
              for (let col = vw; col < vw + s; col++)
                for (let ch = 0; ch < c; ch++) {
                  const q = (row * w + col) * c + ch;
                  cand[k * per + q] = Math.min(Math.max(xs[ex * per + q] + eps * signs[ch], 0), 1);
                }
          });
        const m = margins(
          cand,
          live.map((j) => idx[j]),
        );
        live.forEach((j, k) => {
          spent[idx[j]]++;
          if (m[k] < margin[j] || m[k] <= 0) {
            margin[j] = m[k];
            best.set(cand.subarray(k * per, (k + 1) * per), j * per);
          }
        });
      }
      idx.forEach((ex, j) => {
        if (margin[j] <= 0 || margin[j] < bestMargin[ex]) {
          bestMargin[ex] = margin[j];
          out.set(best.subarray(j * per, (j + 1) * per), ex * per);
        }
        if (margin[j] <= 0) robust[ex] = false;
      });
    }
    const xAdv = tf.tensor4d(out, x.shape);
    const logits = model.logits(xAdv);
    const pred = tf.tidy(() => tf.argMax(logits, 1).dataSync());
    const success = Array.from(pred, (p, i) => (targeted ? p === goal[i] : p !== goal[i]));
    return {
      xAdv,
      logits,
      success,
      options: {
        attack: `square-${norm}`,
        eps,
        norm,
        queries,
        pInit,
        rescaleSchedule: rescale,
        restarts,
        seed,
        loss: 'margin',
        target: o.target ?? null,
      },
      metrics: { queries: spent },
    };
  },
});

/** The Square Attack (see the file's header); validates its options (a UserError naming a bad one). */
export const square = squareAttack.run;
