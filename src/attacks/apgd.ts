/**
 * APGD: Croce and Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", ICML 2020 (AutoAttack's white-box attacks; reference code fra31/auto-attack).
 * Bounds the L-inf or L2 distance. PGD with momentum and a step size that adapts itself:
 *
 *   x_0 = P(start); eta = 2 eps; x_1 = P(x_0 + eta s(g_0))                     (s = sign or g/||g||_2)
 *   z_{k+1} = P(x_k + eta s(g_k)); x_{k+1} = P(x_k + 0.75 (z_{k+1} - x_k) + 0.25 (x_k - x_{k-1}))
 *   at the checkpoints w_j = p_j N (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
 *   0.06); N = 100 gives 22, 41, 57, 70, 80, 87, 93, 99) the step is halved, and the iterate
 *   restarts from the best point so far (with its gradient), per example, when
 *     1. at most rho = 0.75 of the steps since the last checkpoint increased the loss, or
 *     2. (from the second checkpoint) the step was not halved at the last checkpoint and the best
 *        loss has not grown since.
 * P projects onto the eps-ball around x and into [0, 1]. Losses (to ascend): `ce` (cross-entropy),
 * `dlr` (-(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3)), and for `apgd-t` the targeted DLR
 * (-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)) toward, in turn, the 2nd, 3rd, ... highest clean
 * logits (see loss.ts). Each restart and each target class runs on the points still robust.
 * One deliberate difference from the reference code: at the first checkpoint condition 1 compares
 * the first step's loss with the loss at the start, as the paper defines it (the reference's
 * `loss_steps[j - k]` wraps to index -1 there and compares with 0).
 *
 * Options and defaults: `eps` (required), `norm` 'linf' | 'l2' ('linf'), `steps` N = 100,
 * `restarts` 0 (extra random restarts, the reference's n_restarts - 1), `randomStart` true (x + eps
 * t / ||t|| with t ~ U(-1, 1)^d (L-inf) or N(0, 1)^d (L2), clipped to [0, 1]; false starts at x),
 * `seed` 0 (the start's src/engine/rng.ts stream), `rho` 0.75, `eotIter` 1 (gradients averaged over
 * this many forward passes, for randomised models), `nTargetClasses` 9 (apgd-t), `target` (a class
 * per example or one for all: then the attack is targeted and succeeds on reaching it; apgd-t with a
 * target runs on that target alone). `apgdCe` uses the CE loss, `apgdDlr` DLR, `apgdT` targeted DLR.
 * Input: images [N, H, W, C] in [0, 1] with int32 labels [N]. Returns, per example, the first
 * adversarial point found (its latest misclassified iterate), else the highest-loss point (the
 * reference returns x there); metrics.zeroGradient = 1 where the gradient at a start was exactly 0.
 *
 *   const r = apgdCe(model, batch, { eps: 0.3 });            // apgdT(model, batch, { eps: 0.3 })
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackResult } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import { attackLoss, dlrLoss, dlrTargetedLoss, successOf } from './loss.ts';
import { l2 } from './ball.ts';
import { COMMON_SPECS, defineAttack } from './record.ts';
import { omitSpecs, type OptionSpecs, type Resolved } from '../options.ts';
import { createRng, type Rng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** Options of the APGD attacks (see the header for defaults). */
export interface ApgdOptions {
  eps: number;
  norm?: 'linf' | 'l2';
  /** Iterations N per run (100). */
  steps?: number;
  /** Extra runs from new random starts on the points still robust (0). */
  restarts?: number;
  /** Start at a random point of the ball (true). */
  randomStart?: boolean;
  seed?: number;
  /** Fraction of loss-increasing steps below which the step is halved (0.75). */
  rho?: number;
  /** Forward/backward passes averaged per gradient (Expectation over Transformation; 1). */
  eotIter?: number;
  /** apgd-t: how many target classes (the highest non-true clean logits), in turn (9). */
  nTargetClasses?: number;
  /** A class per example or one for all: the attack is then targeted. */
  target?: number | number[];
}

/** The option specs of apgd-t; apgd-ce and apgd-dlr take the same without nTargetClasses. */
export const APGD_T_OPTIONS = {
  eps: COMMON_SPECS.eps,
  norm: COMMON_SPECS.norm,
  steps: { ...COMMON_SPECS.steps, default: 100, doc: 'iterations N per run (checkpoints at 0.22 N, ...)' },
  restarts: { ...COMMON_SPECS.restarts, doc: 'extra runs from random starts on the points still robust' },
  randomStart: {
    ...COMMON_SPECS.randomStart,
    default: true,
    doc: 'start at x + eps t / ||t|| (t uniform or normal) instead of x',
  },
  seed: COMMON_SPECS.seed,
  rho: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.75,
    doc: 'halve the step when at most this fraction of steps raised the loss',
    metavar: 'r',
  },
  eotIter: {
    type: 'number',
    integer: true,
    min: 1,
    default: 1,
    doc: 'gradients averaged over this many passes (EOT, for randomised models)',
    metavar: 'n',
  },
  nTargetClasses: {
    type: 'number',
    integer: true,
    min: 1,
    default: 9,
    doc: 'target classes attacked in turn: the highest other clean logits',
    metavar: 'n',
  },
  target: COMMON_SPECS.target,
} satisfies OptionSpecs<ApgdOptions>;

/** The option specs of apgd-ce and apgd-dlr. */
export const APGD_OPTIONS = omitSpecs(APGD_T_OPTIONS, 'nTargetClasses');

const FACTS = { norm: 'linf', iterative: true, exampleEps: '0.3' } as const;
/** The registry's facts about each APGD attack. */
export const APGD_FACTS = { 'apgd-ce': FACTS, 'apgd-dlr': FACTS, 'apgd-t': FACTS } as const;

/** Which loss one run ascends. */
export type ApgdLoss = 'ce' | 'ce-targeted' | 'dlr' | 'dlr-targeted';

/**
 * The iterations (counted from 1) after which APGD checks its step size, for N iterations, as the
 * reference computes them: the first after max(floor(0.22 N), 1), then each interval shorter by
 * max(floor(0.03 N), 1) down to max(floor(0.06 N), 1). N = 100: 22, 41, 57, 70, 80, 87, 93, 99.
 */
export function apgdCheckpoints(n: number): number[] {
  const first = Math.max(Math.floor(0.22 * n), 1);
  const decr = Math.max(Math.floor(0.03 * n), 1);
  const min = Math.max(Math.floor(0.06 * n), 1);
  const out: number[] = [];
  for (let at = first, k = first; at <= n; k = Math.max(k - decr, min), at += k) out.push(at);
  return out;
}

/** The per-example loss of one APGD run, [N]. */
function runLoss(kind: ApgdLoss, logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D | null) {
  switch (kind) {
    case 'ce':
      return attackLoss(logits, labels, false, 'ce');
    case 'ce-targeted':
      return attackLoss(logits, targets!, true, 'ce');
    case 'dlr':
      return dlrLoss(logits, labels);
    case 'dlr-targeted':
      return dlrTargetedLoss(logits, labels, targets!);
  }
}

/** Settings of one APGD run. */
export interface ApgdRunSettings {
  eps: number;
  norm: 'linf' | 'l2';
  steps: number;
  rho: number;
  eotIter: number;
  loss: ApgdLoss;
  /** Success = classified as `targets` (else: misclassified). */
  reachTarget: boolean;
  /**
   * Called after each iteration's gradient (it = 1 .. N; 0 for the start) with the iterate and its
   * gradient (borrowed: valid during the call) and the step sizes: a trace for cross-checks.
   */
  onIterate?: (it: number, xAdv: tf.Tensor4D, grad: tf.Tensor4D, step: readonly number[]) => void;
}

/** What one APGD run returns; the caller owns the tensors. */
export interface ApgdRun {
  /** Highest-loss point per example. */
  xBest: tf.Tensor4D;
  /** Latest adversarial iterate per example (the start where none was found). */
  xBestAdv: tf.Tensor4D;
  /** Per example: an adversarial point was found. */
  fooled: boolean[];
  lossBest: Float32Array;
  /** lossTrace[k][i]: loss of example i at iterate k (k = 0 the start). */
  lossTrace: Float32Array[];
  /** stepTrace[k][i]: the step size of example i used for iterate k + 1. */
  stepTrace: number[][];
  /** Per example: the gradient at the start was exactly zero. */
  zeroGradient: boolean[];
}

/** x + eps t / ||t|| (t uniform in [-1,1] for L-inf, normal for L2), drawn from `rng` in NHWC order, clipped to [0, 1]. */
export function apgdStart(x: tf.Tensor4D, eps: number, norm: 'linf' | 'l2', rng: Rng): tf.Tensor4D {
  const [n] = x.shape;
  const per = x.size / n;
  const t = new Float32Array(x.size);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = i * per; j < (i + 1) * per; j++) {
      t[j] = norm === 'linf' ? 2 * rng.next() - 1 : rng.normal();
      m = norm === 'linf' ? Math.max(m, Math.abs(t[j])) : m + t[j] * t[j];
    }
    const scale = eps / ((norm === 'linf' ? m : Math.sqrt(m)) + 1e-12);
    for (let j = i * per; j < (i + 1) * per; j++) t[j] *= scale;
  }
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor4d(t, x.shape)), 0, 1) as tf.Tensor4D);
}

/** The row mask [N,1,1,1] of a boolean list, for tf.where over images. */
function rows(mask: boolean[], like: tf.Tensor4D): tf.Tensor4D {
  return tf.broadcastTo(tf.reshape(tf.tensor1d(mask, 'bool'), [-1, 1, 1, 1]), like.shape) as tf.Tensor4D;
}

/** Projection onto the eps-ball around x and [0, 1], as the reference writes it per norm. */
function projectApgd(x: tf.Tensor4D, v: tf.Tensor4D, eps: number, norm: 'linf' | 'l2'): tf.Tensor4D {
  if (norm === 'linf')
    return tf.clipByValue(tf.minimum(tf.maximum(v, tf.sub(x, eps)), tf.add(x, eps)), 0, 1) as tf.Tensor4D;
  const d = tf.sub(v, x) as tf.Tensor4D;
  const n = l2(d);
  return tf.clipByValue(
    tf.add(x, tf.mul(tf.div(d, tf.add(n, 1e-12)), tf.minimum(eps, n))),
    0,
    1,
  ) as tf.Tensor4D;
}

/**
 * One APGD run from `start` (taken over): N iterations on every example (none leaves early), as the
 * reference's attack_single_run. `targets` are required for the targeted losses.
 */
export function apgdRun(
  model: Classifier,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  targets: tf.Tensor1D | null,
  start: tf.Tensor4D,
  s: ApgdRunSettings,
): ApgdRun {
  const n = x.shape[0];
  const yArr = labels.dataSync();
  const goal = s.reachTarget ? targets!.dataSync() : yArr;
  const isAdv = (logits: Float32Array, i: number, k: number) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    return s.reachTarget ? best === goal[i] : best !== goal[i];
  };
  /** Gradient (averaged over eotIter passes), logits and loss of the last pass. */
  const evaluate = (xa: tf.Tensor4D) => {
    let logits: Float32Array = new Float32Array(0);
    let loss: Float32Array = new Float32Array(0);
    const grad = tf.tidy(() => {
      let sum: tf.Tensor | null = null;
      for (let e = 0; e < s.eotIter; e++) {
        const g = tf.grad((v: tf.Tensor) => {
          const z = model.logits(v as tf.Tensor4D);
          const l = runLoss(s.loss, z, labels, targets);
          logits = z.dataSync() as Float32Array;
          loss = l.dataSync() as Float32Array;
          return tf.sum(l);
        })(xa);
        sum = sum ? tf.add(sum, g) : g;
      }
      return (s.eotIter === 1 ? sum! : tf.div(sum!, s.eotIter)) as tf.Tensor4D;
    });
    return { grad, logits, loss, k: logits.length / n };
  };

  let xAdv = start;
  let first = evaluate(xAdv);
  let grad = first.grad;
  s.onIterate?.(0, xAdv, grad, new Array<number>(n).fill(2 * s.eps));
  const zeroGradient = tf.tidy(() => Array.from(tf.sum(tf.abs(grad), [1, 2, 3]).dataSync(), (v) => v === 0));
  const fooled = Array.from({ length: n }, (_, i) => isAdv(first.logits, i, first.k));
  let xBestAdv = tf.clone(xAdv);
  let xBest = tf.clone(xAdv);
  let gradBest = tf.clone(grad);
  const lossBest = Float32Array.from(first.loss);
  const lossTrace: Float32Array[] = [Float32Array.from(first.loss)];
  const stepTrace: number[][] = [];
  const step = new Array<number>(n).fill(2 * s.eps);
  let xOld = tf.clone(xAdv);

  let k = Math.max(Math.floor(0.22 * s.steps), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * s.steps), 1);
  const kMin = Math.max(Math.floor(0.06 * s.steps), 1);
  let sinceCheck = 0;
  let lossBestLastCheck = Float32Array.from(lossBest);
  let reducedLastCheck = new Array<boolean>(n).fill(true);

  for (let it = 0; it < s.steps; it++) {
    stepTrace.push(step.slice());
    const a = it > 0 ? 0.75 : 1.0;
    const next = tf.tidy(() => {
      const eta = tf.tensor4d(step, [n, 1, 1, 1]);
      const dir = s.norm === 'linf' ? tf.sign(grad) : tf.div(grad, tf.add(l2(grad), 1e-12));
      const z = projectApgd(x, tf.add(xAdv, tf.mul(eta, dir)) as tf.Tensor4D, s.eps, s.norm);
      // The first step is z itself: x_0 + 1 (z - x_0) is z in exact arithmetic but not in float32,
      // where it leaves pixels an ulp off the bound x + eps; the plateau of background pixels on
      // that bound then holds near-ties instead of exact ties, and float32 rounding, not the
      // function, picks which max-pool element gets the gradient (bench/apgd-divergence.py).
      if (a === 1) return z;
      const moved = tf.add(tf.add(xAdv, tf.mul(tf.sub(z, xAdv), a)), tf.mul(tf.sub(xAdv, xOld), 1 - a));
      return projectApgd(x, moved as tf.Tensor4D, s.eps, s.norm);
    });
    xOld.dispose();
    xOld = xAdv;
    xAdv = next;
    grad.dispose();
    const e = evaluate(xAdv);
    grad = e.grad;
    lossTrace.push(Float32Array.from(e.loss));
    s.onIterate?.(it + 1, xAdv, grad, step);

    const adv = Array.from({ length: n }, (_, i) => isAdv(e.logits, i, e.k));
    adv.forEach((v, i) => v && (fooled[i] = true));
    if (adv.some((v) => v)) {
      const m = tf.tidy(() => tf.where(rows(adv, xAdv), xAdv, xBestAdv) as tf.Tensor4D);
      xBestAdv.dispose();
      xBestAdv = m;
    }
    const improved = Array.from(e.loss, (v, i) => v > lossBest[i]);
    if (improved.some((v) => v)) {
      const [xb, gb] = tf.tidy(() => {
        const mask = rows(improved, xAdv);
        return [tf.where(mask, xAdv, xBest) as tf.Tensor4D, tf.where(mask, grad, gradBest) as tf.Tensor4D];
      });
      tf.dispose([xBest, gradBest]);
      xBest = xb;
      gradBest = gb;
      improved.forEach((v, i) => v && (lossBest[i] = e.loss[i]));
    }

    if (++sinceCheck === k) {
      // Condition 1 over the k steps since the last checkpoint: iterates it-k+1 .. it (trace index +1).
      const halve = new Array<boolean>(n).fill(false);
      for (let i = 0; i < n; i++) {
        let ups = 0;
        for (let c = 0; c < k; c++) if (lossTrace[it + 1 - c][i] > lossTrace[it - c][i]) ups++;
        const oscillating = ups <= k * s.rho;
        const stalled = !reducedLastCheck[i] && lossBestLastCheck[i] >= lossBest[i];
        halve[i] = oscillating || stalled;
      }
      reducedLastCheck = halve;
      lossBestLastCheck = Float32Array.from(lossBest);
      if (halve.some((v) => v)) {
        halve.forEach((v, i) => v && (step[i] /= 2));
        const [xa, g] = tf.tidy(() => {
          const mask = rows(halve, xAdv);
          return [tf.where(mask, xBest, xAdv) as tf.Tensor4D, tf.where(mask, gradBest, grad) as tf.Tensor4D];
        });
        tf.dispose([xAdv, grad]);
        xAdv = xa;
        grad = g;
      }
      k = Math.max(k - sizeDecr, kMin);
      sinceCheck = 0;
    }
  }
  tf.dispose([xAdv, xOld, grad, gradBest]);
  return { xBest, xBestAdv, fooled, lossBest, lossTrace, stepTrace, zeroGradient };
}

type ApgdResolved = Resolved<ApgdOptions, typeof APGD_T_OPTIONS>;

/** The checked options (see {@link APGD_T_OPTIONS}) as the runs read them. */
function settings(o: Resolved<ApgdOptions, typeof APGD_OPTIONS> & { nTargetClasses?: number }) {
  return {
    eps: o.eps,
    norm: o.norm,
    steps: o.steps,
    restarts: o.restarts,
    rho: o.rho,
    eotIter: o.eotIter,
    nTargetClasses: o.nTargetClasses ?? 9,
    randomStart: o.randomStart,
    seed: o.seed,
  } as const;
}

/** The user's targets as an int array (one per example), checked; null when untargeted. */
function userTargets(target: number | number[] | undefined, n: number, classes: number): number[] | null {
  if (target === undefined) return null;
  const t = Array.isArray(target) ? target : new Array<number>(n).fill(target);
  if (t.length !== n)
    throw new UserError(`${t.length} targets for ${n} images; give one target or one per image`);
  for (const v of t)
    if (!Number.isInteger(v) || v < 0 || v >= classes)
      throw new UserError(`target class ${v} is outside 0..${classes - 1}`);
  return t;
}

/**
 * The APGD attack family: the runs (restarts x target classes) in turn, each on the points still
 * robust, keeping the first adversarial point per example (else the highest-loss one).
 */
export function apgdAttack(
  model: Classifier,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  o: Resolved<ApgdOptions, typeof APGD_OPTIONS> & Partial<ApgdResolved>,
  kind: 'ce' | 'dlr' | 'dlr-targeted',
  name: string,
): AttackResult {
  const d = settings(o);
  const x = batch.x;
  const n = x.shape[0];
  const classes = model.labels.length;
  const y = Array.from(batch.y.dataSync());
  const fixed = userTargets(o.target, n, classes);
  if (kind === 'dlr-targeted' && classes < 4)
    throw new UserError(`apgd-t needs at least 4 classes (the model has ${classes})`);
  if (kind === 'dlr' && classes < 3)
    throw new UserError(`apgd-dlr needs at least 3 classes (the model has ${classes})`);
  const rng = createRng(d.seed);
  const per = x.size / n;
  const out = Float32Array.from(x.dataSync());
  const bestLoss = new Float32Array(n).fill(-Infinity);
  const zeroGradient = new Array<number>(n).fill(0);

  const cleanLogits = tf.tidy(() => model.logits(x).arraySync());
  const cleanPred = cleanLogits.map((z) => z.indexOf(Math.max(...z)));
  const robust = cleanPred.map((p, i) => (fixed ? p !== fixed[i] : p === y[i]));
  const loss: ApgdLoss =
    kind === 'ce' ? (fixed ? 'ce-targeted' : 'ce') : kind === 'dlr' && !fixed ? 'dlr' : 'dlr-targeted';
  // Target schedules: the user's targets once, or (apgd-t) the 2nd, 3rd, ... highest clean logit.
  const rounds = kind === 'dlr-targeted' && !fixed ? Math.min(d.nTargetClasses, classes - 1) : 1;

  for (let r = 0; r < rounds; r++) {
    for (let restart = 0; restart <= d.restarts; restart++) {
      const idx = robust.flatMap((v, i) => (v ? [i] : []));
      if (idx.length === 0) break;
      const targetsOf = (i: number) => {
        if (fixed) return fixed[i];
        if (loss !== 'dlr-targeted') return 0;
        const order = cleanLogits[i].map((_, j) => j).sort((a, b) => cleanLogits[i][b] - cleanLogits[i][a]);
        return order[r + 1];
      };
      const run = tf.tidy(() => {
        const xs = tf.gather(x, idx) as tf.Tensor4D;
        const ys = tf.tensor1d(
          idx.map((i) => y[i]),
          'int32',
        );
        const ts = loss === 'ce' || loss === 'dlr' ? null : tf.tensor1d(idx.map(targetsOf), 'int32');
        const start = d.randomStart ? apgdStart(xs, d.eps, d.norm, rng) : tf.clone(xs);
        const res = apgdRun(model, xs, ys, ts, start, { ...d, loss, reachTarget: fixed !== null });
        return { ...res, xBest: tf.keep(res.xBest), xBestAdv: tf.keep(res.xBestAdv) };
      });
      const adv = run.xBestAdv.dataSync();
      const hi = run.xBest.dataSync();
      idx.forEach((i, j) => {
        if (run.zeroGradient[j]) zeroGradient[i] = 1;
        if (run.fooled[j]) {
          robust[i] = false;
          out.set(adv.subarray(j * per, (j + 1) * per), i * per);
        } else if (run.lossBest[j] > bestLoss[i]) {
          bestLoss[i] = run.lossBest[j];
          out.set(hi.subarray(j * per, (j + 1) * per), i * per);
        }
      });
      tf.dispose([run.xBest, run.xBestAdv]);
    }
  }
  const xAdv = tf.tensor4d(out, x.shape);
  const logits = model.logits(xAdv);
  const success = tf.tidy(() => {
    const goal = tf.tensor1d(fixed ?? y, 'int32');
    return successOf(logits, goal, fixed !== null);
  });
  return {
    xAdv,
    logits,
    success,
    options: {
      attack: `${name}-${d.norm}`,
      ...d,
      loss: kind,
      nTargetClasses: kind === 'dlr-targeted' ? d.nTargetClasses : undefined,
      target: o.target ?? null,
    },
    metrics: { zeroGradient },
  };
}

const SUMMARY = 'APGD (Croce and Hein, ICML 2020): momentum PGD with a self-adapting step size';

/** APGD on the cross-entropy loss (AutoAttack's first attack). */
export const apgdCeAttack = defineAttack<Omit<ApgdOptions, 'nTargetClasses'>, typeof APGD_OPTIONS>({
  name: 'apgd-ce',
  summary: `${SUMMARY}, cross-entropy loss`,
  options: APGD_OPTIONS,
  facts: APGD_FACTS['apgd-ce'],
  attack: (model, batch, o) => apgdAttack(model, batch, o, 'ce', 'apgd-ce'),
});

/** APGD on the DLR loss. */
export const apgdDlrAttack = defineAttack<Omit<ApgdOptions, 'nTargetClasses'>, typeof APGD_OPTIONS>({
  name: 'apgd-dlr',
  summary: `${SUMMARY}, DLR loss (shift- and scale-invariant)`,
  options: APGD_OPTIONS,
  facts: APGD_FACTS['apgd-dlr'],
  attack: (model, batch, o) => apgdAttack(model, batch, o, 'dlr', 'apgd-dlr'),
});

/** APGD on the targeted DLR loss toward the nTargetClasses highest other classes in turn. */
export const apgdTAttack = defineAttack<ApgdOptions, typeof APGD_T_OPTIONS>({
  name: 'apgd-t',
  summary: `${SUMMARY}, targeted DLR loss toward the nTargetClasses highest other classes in turn`,
  options: APGD_T_OPTIONS,
  facts: APGD_FACTS['apgd-t'],
  attack: (model, batch, o) => apgdAttack(model, batch, o, 'dlr-targeted', 'apgd-t'),
});

/** APGD-CE (see the file's header); validates its options (a UserError naming a bad one). */
export const apgdCe = apgdCeAttack.run;
/** APGD-DLR; validates its options. */
export const apgdDlr = apgdDlrAttack.run;
/** APGD-T; validates its options. */
export const apgdT = apgdTAttack.run;
