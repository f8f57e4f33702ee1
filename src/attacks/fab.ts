/**
 * FAB: Croce and Hein, "Minimally distorted adversarial examples with a fast adaptive boundary
 * attack", ICML 2020 (AutoAttack's `fab-t` and `fab`; reference code fra31/auto-attack).
 * Bounds the L-inf distance (L2 and L1 are not implemented here). A minimum-norm attack that walks
 * along the linearised decision boundary; a point counts only if it is adversarial within `eps`.
 * Per iteration, with f = the logit difference to cross (targeted: z_t - z_y; untargeted: the class
 * whose linearised boundary is closest in the dual norm, |f_j| / ||grad f_j||_1) and w = grad f:
 *
 *   d1 = the smallest L-inf step from x_k onto the hyperplane {z : f(x_k) + w.(z - x_k) = 0}
 *        within the box [0, 1] (pi below); d2 = the same from the original x
 *   alpha = min(max(||d1|| / (||d1|| + ||d2||), 0), alpha_max)
 *   x_{k+1} = clip((1 - alpha) (x_k + eta d1) + alpha (x + eta d2), 0, 1)
 *   if x_{k+1} is adversarial: keep it if closer to x than the best so far, then
 *     x_{k+1} = x + beta (x_{k+1} - x)                                       (the backward step)
 * pi(t; w, b): minimise ||d||_inf subject to w.(t + d) = b and 0 <= t + d <= 1. Each coordinate
 * moves toward the side that brings w.t toward b, by min(lambda, its room to the box edge); lambda
 * solves sum_i |w_i| min(lambda, room_i) = |w.t - b| (piecewise linear, found over the sorted
 * rooms), and when no lambda reaches the hyperplane every coordinate moves to its box edge.
 * fab-t attacks, in turn, the 2nd, 3rd, ... highest clean logits (nTargetClasses of them), each on
 * the points still robust; restarts after the first start at x + (eps / 2) t / ||t||_inf,
 * t ~ U(-1, 1)^d, drawn from the src/engine/rng.ts stream of `seed`.
 *
 * Options and defaults: `eps` (required: the budget a result must respect), `norm` 'linf',
 * `steps` 100, `restarts` 0 (extra runs per target), `alphaMax` 0.1, `eta` 1.05, `beta` 0.9,
 * `nTargetClasses` 9 (fab-t), `seed` 0. Input: images [N, H, W, C] in [0, 1] with int32 labels [N].
 * Returns the closest adversarial point found within eps, else x; metrics.distance = its L-inf
 * distance (NaN where none was found).
 *
 *   const r = fabT(model, batch, { eps: 0.3 });             // fab(model, batch, { eps: 0.3 })
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackResult } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import { COMMON_SPECS, defineAttack } from './record.ts';
import { omitSpecs, refused, type OptionSpecs, type Resolved } from '../options.ts';
import { createRng, type Rng } from '../engine/rng.ts';

/** Options of FAB (see the header for defaults). */
export interface FabOptions {
  eps: number;
  /** Only 'linf' is implemented. */
  norm?: 'linf';
  steps?: number;
  restarts?: number;
  alphaMax?: number;
  eta?: number;
  beta?: number;
  /** fab-t: how many target classes, in turn (9). */
  nTargetClasses?: number;
  seed?: number;
  /** Refused: FAB chooses its own targets. */
  target?: never;
}

/** The option specs of fab-t; fab takes the same without nTargetClasses. */
export const FAB_T_OPTIONS = {
  eps: { ...COMMON_SPECS.eps, doc: 'budget a found point must respect (L-inf, [0,1] pixel units)' },
  norm: {
    type: 'choice',
    choices: ['linf'],
    default: 'linf',
    doc: 'norm of the ball (fab: linf only; L2 and L1 are not implemented)',
  },
  steps: { ...COMMON_SPECS.steps, default: 100 },
  restarts: {
    ...COMMON_SPECS.restarts,
    doc: 'extra runs per target from random starts (eps/2 from x) on the points still robust',
  },
  alphaMax: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.1,
    doc: 'largest weight of the step from the original image',
    metavar: 'a',
  },
  eta: {
    type: 'number',
    min: 1,
    default: 1.05,
    doc: 'overshoot factor of the projection steps',
    metavar: 'x',
  },
  beta: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.9,
    doc: 'backward step toward x after an adversarial point is found',
    metavar: 'b',
  },
  nTargetClasses: {
    type: 'number',
    integer: true,
    min: 1,
    default: 9,
    doc: 'target classes attacked in turn: the highest other clean logits',
    metavar: 'n',
  },
  seed: COMMON_SPECS.seed,
  target: refused('fab chooses its own targets; use apgd-t, or pgd with a target'),
} satisfies OptionSpecs<FabOptions>;

/** The option specs of (untargeted) fab. */
export const FAB_OPTIONS = omitSpecs(FAB_T_OPTIONS, 'nTargetClasses');

const FACTS = { norm: 'linf', iterative: true, targeted: false, exampleEps: '0.3' } as const;
/** The registry's facts about the FAB attacks. */
export const FAB_FACTS = { 'fab-t': FACTS, fab: FACTS } as const;

/**
 * The smallest L-inf step d from t onto {z : w.z = b} inside the box [0, 1]^d (or, when the box
 * does not reach the hyperplane, the step to the box corner nearest to it). Float64 in, float64 out.
 */
export function projectLinfBox(t: ArrayLike<number>, w: ArrayLike<number>, b: number): Float64Array {
  const n = t.length;
  let wt = 0;
  for (let i = 0; i < n; i++) wt += w[i] * t[i];
  const gap = wt - b; // move each coordinate to lower sgn * w.t by |gap|
  const sgn = gap >= 0 ? 1 : -1;
  const need = Math.abs(gap);
  const dir = new Float64Array(n);
  const room = new Float64Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const wi = sgn * w[i];
    if (wi === 0) continue;
    dir[i] = wi > 0 ? -1 : 1;
    room[i] = wi > 0 ? t[i] : 1 - t[i];
    order.push(i);
  }
  order.sort((a, c) => room[a] - room[c]);
  // G(lambda) = sum |w_i| min(lambda, room_i): walk the breakpoints in increasing room.
  let rest = 0; // sum of |w_i| over coordinates not yet saturated
  for (const i of order) rest += Math.abs(w[i]);
  let g = 0;
  let prev = 0;
  let lambda = Infinity;
  for (const i of order) {
    const next = g + rest * (room[i] - prev);
    if (next >= need && rest > 0) {
      lambda = prev + (need - g) / rest;
      break;
    }
    g = next;
    prev = room[i];
    rest -= Math.abs(w[i]);
  }
  const d = new Float64Array(n);
  for (const i of order) d[i] = dir[i] * Math.min(lambda, room[i]);
  return d;
}

function linf(a: ArrayLike<number>, off: number, per: number): number {
  let m = 0;
  for (let q = 0; q < per; q++) m = Math.max(m, Math.abs(a[off + q]));
  return m;
}

interface FabSettings {
  steps: number;
  alphaMax: number;
  eta: number;
  beta: number;
  eps: number;
}

/**
 * One FAB run on images `xs` (flat [n * per], all correctly classified) with labels `y` and targets
 * (null: untargeted). Returns, per example, the closest adversarial point found (or null) and its distance.
 */
export function fabRun(
  model: Classifier,
  shape: [number, number, number],
  xs: Float32Array,
  y: number[],
  targets: number[] | null,
  s: FabSettings,
  start: Float32Array | null,
): { adv: Float32Array; dist: Float64Array } {
  const n = y.length;
  const [h, w, c] = shape;
  const per = h * w * c;
  const classes = model.labels.length;
  const x1 = Float64Array.from(start ?? xs);
  const adv = Float32Array.from(xs);
  const dist = new Float64Array(n).fill(Infinity);
  const yT = tf.tensor1d(y, 'int32');
  const tT = targets ? tf.tensor1d(targets, 'int32') : null;
  const pick = (z: tf.Tensor2D, idx: tf.Tensor1D) =>
    tf.sum(tf.mul(z, tf.oneHot(idx, classes)), 1) as tf.Tensor1D;

  for (let it = 0; it < s.steps; it++) {
    // f and w = grad f per example, for the hyperplane to cross.
    const f = new Float64Array(n);
    const wv = new Float64Array(n * per);
    tf.tidy(() => {
      const xt = tf.tensor4d(Float32Array.from(x1), [n, h, w, c]);
      if (tT) {
        let fv: Float32Array = new Float32Array(0);
        const g = tf.grad((v: tf.Tensor) => {
          const z = model.logits(v as tf.Tensor4D);
          const diff = tf.sub(pick(z, tT), pick(z, yT));
          fv = diff.dataSync() as Float32Array;
          return tf.sum(diff);
        })(xt);
        f.set(fv);
        wv.set(g.dataSync());
        return;
      }
      // Untargeted: every class's logit gradient, then the closest linearised boundary.
      let zv: Float32Array = new Float32Array(0);
      const grads: Float32Array[] = [];
      for (let k = 0; k < classes; k++) {
        const g = tf.grad((v: tf.Tensor) => {
          const z = model.logits(v as tf.Tensor4D);
          if (k === 0) zv = z.dataSync() as Float32Array;
          return tf.sum(tf.slice(z, [0, k], [-1, 1]));
        })(xt);
        grads.push(g.dataSync() as Float32Array);
      }
      for (let i = 0; i < n; i++) {
        let best = -1;
        let bestDist = Infinity;
        for (let k = 0; k < classes; k++) {
          if (k === y[i]) continue;
          let l1 = 0;
          for (let q = 0; q < per; q++) l1 += Math.abs(grads[k][i * per + q] - grads[y[i]][i * per + q]);
          const dk = Math.abs(zv[i * classes + k] - zv[i * classes + y[i]]) / (l1 + 1e-12);
          if (dk < bestDist) [best, bestDist] = [k, dk];
        }
        f[i] = zv[i * classes + best] - zv[i * classes + y[i]];
        for (let q = 0; q < per; q++) wv[i * per + q] = grads[best][i * per + q] - grads[y[i]][i * per + q];
      }
    });
    for (let i = 0; i < n; i++) {
      const off = i * per;
      const wi = wv.subarray(off, off + per);
      const xi = x1.subarray(off, off + per);
      let b = -f[i];
      for (let q = 0; q < per; q++) b += wi[q] * xi[q];
      const d1 = projectLinfBox(xi, wi, b);
      const d2 = projectLinfBox(xs.subarray(off, off + per), wi, b);
      const a1 = Math.max(linf(d1, 0, per), 1e-8);
      const a2 = Math.max(linf(d2, 0, per), 1e-8);
      const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), s.alphaMax);
      for (let q = 0; q < per; q++) {
        const v = (xi[q] + s.eta * d1[q]) * (1 - alpha) + (xs[off + q] + s.eta * d2[q]) * alpha;
        xi[q] = Math.min(Math.max(v, 0), 1);
      }
    }
    const pred = tf.tidy(() =>
      tf.argMax(model.logits(tf.tensor4d(Float32Array.from(x1), [n, h, w, c])), 1).dataSync(),
    );
    for (let i = 0; i < n; i++) {
      if (pred[i] === y[i]) continue;
      const off = i * per;
      let t = 0;
      for (let q = 0; q < per; q++) t = Math.max(t, Math.abs(x1[off + q] - xs[off + q]));
      if (t < dist[i]) {
        dist[i] = t;
        for (let q = 0; q < per; q++) adv[off + q] = x1[off + q];
      }
      for (let q = 0; q < per; q++) x1[off + q] = xs[off + q] + (x1[off + q] - xs[off + q]) * s.beta;
    }
  }
  tf.dispose(tT ? [yT, tT] : [yT]);
  return { adv, dist };
}

function randomStart(xs: Float32Array, n: number, per: number, eps: number, rng: Rng): Float32Array {
  const out = new Float32Array(xs.length);
  for (let i = 0; i < n; i++) {
    const t = Array.from({ length: per }, () => 2 * rng.next() - 1);
    const m = Math.max(...t.map(Math.abs));
    for (let q = 0; q < per; q++)
      out[i * per + q] = Math.min(Math.max(xs[i * per + q] + ((eps * t[q]) / m) * 0.5, 0), 1);
  }
  return out;
}

function runFab(
  model: Classifier,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  o: Resolved<FabOptions, typeof FAB_OPTIONS> & { nTargetClasses?: number },
  targeted: boolean,
): AttackResult {
  const { norm, steps, restarts, seed } = o;
  const nTargetClasses = o.nTargetClasses ?? 9;
  const s: FabSettings = { steps, alphaMax: o.alphaMax, eta: o.eta, beta: o.beta, eps: o.eps };
  const x = batch.x;
  const [n, h, w, c] = x.shape;
  const per = h * w * c;
  const classes = model.labels.length;
  const y = Array.from(batch.y.dataSync());
  const xs = x.dataSync() as Float32Array;
  const out = Float32Array.from(xs);
  const distance = new Array<number>(n).fill(NaN);
  const rng = createRng(seed);
  const clean = tf.tidy(() => model.logits(x).arraySync());
  const robust = clean.map((z, i) => z.indexOf(Math.max(...z)) === y[i]);
  const rounds = targeted ? Math.min(nTargetClasses, classes - 1) : 1;
  for (let r = 0; r < rounds; r++) {
    for (let restart = 0; restart <= restarts; restart++) {
      const idx = robust.flatMap((v, i) => (v ? [i] : []));
      if (idx.length === 0) break;
      const sub = new Float32Array(idx.length * per);
      idx.forEach((ex, j) => sub.set(xs.subarray(ex * per, (ex + 1) * per), j * per));
      const targets = targeted
        ? idx.map((ex) => clean[ex].map((_, k) => k).sort((a, b) => clean[ex][b] - clean[ex][a])[r + 1])
        : null;
      const start = restart > 0 ? randomStart(sub, idx.length, per, o.eps, rng) : null;
      const run = fabRun(
        model,
        [h, w, c],
        sub,
        idx.map((ex) => y[ex]),
        targets,
        s,
        start,
      );
      idx.forEach((ex, j) => {
        if (run.dist[j] <= o.eps) {
          robust[ex] = false;
          distance[ex] = run.dist[j];
          out.set(run.adv.subarray(j * per, (j + 1) * per), ex * per);
        }
      });
    }
  }
  const xAdv = tf.tensor4d(out, x.shape);
  const logits = model.logits(xAdv);
  const pred = tf.tidy(() => tf.argMax(logits, 1).dataSync());
  return {
    xAdv,
    logits,
    success: Array.from(pred, (p, i) => p !== y[i]),
    options: {
      attack: targeted ? 'fab-t-linf' : 'fab-linf',
      eps: o.eps,
      norm,
      steps,
      restarts,
      alphaMax: s.alphaMax,
      eta: s.eta,
      beta: s.beta,
      nTargetClasses: targeted ? nTargetClasses : undefined,
      seed,
    },
    metrics: { distance },
  };
}

const SUMMARY = 'FAB (Croce and Hein, ICML 2020): minimum-norm steps along the linearised boundary';

/** FAB-T: targeted FAB toward the nTargetClasses highest other classes in turn (AutoAttack's third attack). */
export const fabTAttack = defineAttack<FabOptions, typeof FAB_T_OPTIONS>({
  name: 'fab-t',
  summary: `${SUMMARY}, toward the nTargetClasses highest other classes in turn`,
  options: FAB_T_OPTIONS,
  facts: FAB_FACTS['fab-t'],
  attack: (model, batch, o) => runFab(model, batch, o, true),
});

/** FAB, untargeted (AutoAttack's `plus` preset). */
export const fabAttack = defineAttack<Omit<FabOptions, 'nTargetClasses'>, typeof FAB_OPTIONS>({
  name: 'fab',
  summary: `${SUMMARY}, untargeted`,
  options: FAB_OPTIONS,
  facts: FAB_FACTS.fab,
  attack: (model, batch, o) => runFab(model, batch, o, false),
});

/** FAB-T (see the file's header); validates its options (a UserError naming a bad one). */
export const fabT = fabTAttack.run;
/** FAB, untargeted; validates its options. */
export const fab = fabAttack.run;
