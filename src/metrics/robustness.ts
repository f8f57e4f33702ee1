/**
 * Robust accuracy: a model's accuracy under one or more attacks at several budgets, with the norms of
 * the perturbations, example images, and the sanity checks of Carlini et al., "On Evaluating
 * Adversarial Robustness" (2019), run alongside so a broken attack or gradient masking shows:
 * 1. eps = 0 gives the clean accuracy;
 * 2. accuracy does not rise with eps;
 * 3. PGD (L-inf) is at least as strong as FGSM at the same eps;
 * 4. a budget that allows any image (L-inf 1, L2 the image diagonal) takes an iterative attack's
 *    accuracy to (near) zero (untargeted; skipped for single-step FGSM);
 * 5. random noise of the same norm is weaker than the attack.
 * A failed check is returned as a warning; it is never dropped. No Node imports (browser-ready).
 *
 *   const r = robustness(model, data, { attacks: ['fgsm', 'pgd-linf'], eps: [0, 0.1, 0.3] });
 *   r.rows; // [{ attack: 'fgsm', eps: 0, accuracy: 0.985, ... }, ...]
 *   r.checks.filter((c) => !c.passed); // warnings
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch, type Batch } from '../data/dataset.ts';
import { camHead } from '../explain/cam.ts';
import { camBoundCheck } from './interpretation.ts';
import {
  ATTACK_INFO,
  attack as attackByName,
  type AttackOptions,
  type AttackResult,
} from '../attacks/index.ts';
import { createRng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** Per-example norms of x' - x. */
export interface Norms {
  linf: Float32Array;
  l2: Float32Array;
  l1: Float32Array;
  /** Number of changed values (|d| > 1e-7). */
  l0: Float32Array;
}

/** The L-inf, L2, L1 and L0 norms of `xAdv - x` per example. */
export function perturbationNorms(x: tf.Tensor4D, xAdv: tf.Tensor4D): Norms {
  return tf.tidy(() => {
    const d = tf.sub(xAdv, x);
    const a = tf.abs(d);
    const ax = [1, 2, 3];
    return {
      linf: tf.max(a, ax).dataSync() as Float32Array,
      l2: tf.sqrt(tf.sum(tf.square(d), ax)).dataSync() as Float32Array,
      l1: tf.sum(a, ax).dataSync() as Float32Array,
      l0: tf.sum(tf.cast(tf.greater(a, 1e-7), 'float32'), ax).dataSync() as Float32Array,
    };
  });
}

/** One attack at one budget. */
export interface RobustRow {
  attack: string;
  eps: number;
  examples: number;
  /** Examples still classified correctly under the attack. */
  correct: number;
  accuracy: number;
  /**
   * Untargeted: share of the clean-correct examples the attack turned wrong. Targeted: share of all
   * examples classified as their target.
   */
  successRate: number;
  meanLinf: number;
  meanL2: number;
  meanL1: number;
  seconds: number;
  /** The attack's options with defaults filled in (from its first batch). */
  options: Record<string, unknown>;
  /**
   * Means of the per-example measurements the attack reports (AAI: kendallTau, topKOverlap,
   * kendallTauIG, predictionChanged), over the examples where they are defined; and for min-eps on a
   * model with CAM, the interpretation discrepancy D and proposition 1's bound (ALGORITHMS.md 3).
   */
  metrics?: Record<string, { mean: number; examples: number }>;
}

/** A sanity check's outcome; `passed: false` is a warning to show (gradient masking or a bug). */
export interface SanityCheck {
  name: string;
  attack: string;
  passed: boolean;
  detail: string;
}

/** Example images kept for a report: the first few of the set under each attack and budget. */
export interface RobustExample {
  attack: string;
  eps: number;
  index: number;
  label: number;
  cleanPrediction: number;
  prediction: number;
  /** Adversarial image [H, W, C] in [0, 1] and its perturbation x' - x. */
  image: Float32Array;
  delta: Float32Array;
}

export interface RobustnessOptions {
  attacks: string[];
  eps: number[];
  /** Options passed to every attack (eps excepted). */
  attack?: Omit<AttackOptions, 'eps'>;
  batchSize?: number;
  /** Run the sanity checks (default true). */
  sanity?: boolean;
  /** Examples the checks that need extra attack runs (1 and 4) use, from the start of the set (default 200). */
  sanityExamples?: number;
  /** Example images kept per attack and budget (default 0). */
  keepExamples?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface RobustnessResult {
  clean: { accuracy: number; correct: number; examples: number; predictions: Int32Array };
  rows: RobustRow[];
  checks: SanityCheck[];
  examples: RobustExample[];
}

/** The norm a gradient attack bounds (the checks probe these), from the registry's info. */
function gradientNorm(name: string, options: Record<string, unknown>): 'linf' | 'l2' | null {
  const info = ATTACK_INFO[name];
  if (!info?.norm) return null;
  return options.norm === 'l2' ? 'l2' : info.norm;
}

interface RunOut {
  metricSums: Record<string, { sum: number; n: number }>;
  correct: number;
  success: number;
  successOf: number;
  linf: number;
  l2: number;
  l1: number;
  options: Record<string, unknown>;
  predictions: Int32Array;
}

export function robustness(model: Classifier, data: Dataset, o: RobustnessOptions): RobustnessResult {
  if (data.classNames.length !== model.labels.length)
    throw new UserError(
      `the data has ${data.classNames.length} classes but the model predicts ${model.labels.length}; evaluate on the data the model was made for`,
    );
  if (o.attacks.length === 0) throw new UserError('no attack given');
  if (o.eps.length === 0) throw new UserError('no eps given');
  for (const name of o.attacks) attackByName(name); // unknown names fail before any work
  const bs = o.batchSize ?? 100;
  const sanity = o.sanity ?? true;
  const keep = Math.min(o.keepExamples ?? 0, data.size);
  const common = o.attack ?? {};
  const targeted = common.target !== undefined;
  const [h, w, c] = data.shape;
  const per = h * w * c;
  const nSanity = Math.min(o.sanityExamples ?? 200, data.size);
  const eps = [...o.eps].sort((a, b) => a - b);

  // Progress in units of examples attacked (attack runs dominate the time).
  // Check 4 runs iterative gradient attacks once more (a single FGSM step is not expected to reach 0%).
  const gradientAttacks = o.attacks.filter((a) => ATTACK_INFO[a]?.iterative && gradientNorm(a, {}));
  const pgdLinf = o.attacks.filter((a) => a === 'pgd' || a === 'pgd-linf');
  const extraFgsm = pgdLinf.length && !o.attacks.includes('fgsm') && sanity ? 1 : 0;
  const positive = eps.filter((e) => e > 0).length;
  const total =
    data.size * (1 + o.attacks.length * eps.length + extraFgsm * positive) +
    (sanity
      ? nSanity *
        ((eps.includes(0) ? 0 : o.attacks.filter((a) => ATTACK_INFO[a]?.identityAtZero !== false).length) +
          (targeted ? 0 : gradientAttacks.length))
      : 0);
  let done = 0;
  const tick = (n: number, what: string) => {
    done += n;
    o.onProgress?.(done, total, what);
  };

  // Clean predictions.
  const clean = new Int32Array(data.size);
  for (const idx of batchIndices(data.size, bs)) {
    const { x, y } = getBatch(data, idx);
    const p = tf.tidy(() => tf.argMax(model.logits(x), 1).dataSync());
    tf.dispose([x, y]);
    idx.forEach((j, i) => (clean[j] = p[i]));
    tick(idx.length, 'clean');
  }
  const finish = () => o.onProgress?.(total, total, 'done');
  const cleanCorrect = clean.reduce((s, p, i) => s + (p === data.labels[i] ? 1 : 0), 0);

  const examples: RobustExample[] = [];
  let hasCam = false;
  try {
    camHead(model).weights.dispose();
    hasCam = true;
  } catch {
    hasCam = false;
  }
  /** Runs one attack at one budget over the first `n` examples. */
  const run = (name: string, e: number, n: number, extra: Partial<AttackOptions> = {}, keepN = 0): RunOut => {
    const fn = attackByName(name);
    const out: RunOut = {
      correct: 0,
      success: 0,
      successOf: 0,
      linf: 0,
      l2: 0,
      l1: 0,
      options: {},
      predictions: new Int32Array(n),
      metricSums: {},
    };
    const addMetrics = (m: Record<string, number[]>) => {
      for (const [k, vs] of Object.entries(m)) {
        const acc = (out.metricSums[k] ??= { sum: 0, n: 0 });
        for (const v of vs) if (!Number.isNaN(v)) ((acc.sum += v), acc.n++);
      }
    };
    let b = 0;
    for (const idx of batchIndices(n, bs)) {
      const batch = getBatch(data, idx);
      const seed = (common.seed ?? 0) + 1000003 * b++;
      let r: AttackResult;
      try {
        r = fn(model, batch, { ...common, ...extra, eps: e, seed });
      } catch (err) {
        tf.dispose([batch.x, batch.y]);
        throw err;
      }
      if (b === 1) out.options = r.options;
      if (r.metrics) addMetrics(r.metrics);
      if (name === 'min-eps' && hasCam) addMetrics(discrepancyMetrics(model, batch, r));
      const pred = tf.tidy(() => tf.argMax(r.logits, 1).dataSync());
      const norms = perturbationNorms(batch.x, r.xAdv);
      idx.forEach((j, i) => {
        out.predictions[j] = pred[i];
        if (pred[i] === data.labels[j]) out.correct++;
        const counts = targeted || clean[j] === data.labels[j];
        if (counts) {
          out.successOf++;
          if (r.success[i]) out.success++;
        }
        out.linf += norms.linf[i];
        out.l2 += norms.l2[i];
        out.l1 += norms.l1[i];
      });
      if (keepN > 0 && idx[0] < keepN) {
        const xs = batch.x.dataSync() as Float32Array;
        const xa = r.xAdv.dataSync() as Float32Array;
        for (let i = 0; i < idx.length && idx[i] < keepN; i++) {
          const image = xa.slice(i * per, (i + 1) * per);
          const delta = image.map((v, k) => v - xs[i * per + k]);
          examples.push({
            attack: name,
            eps: e,
            index: idx[i],
            label: data.labels[idx[i]],
            cleanPrediction: clean[idx[i]],
            prediction: pred[i],
            image,
            delta,
          });
        }
      }
      tf.dispose([batch.x, batch.y, r.xAdv, r.logits]);
      tick(idx.length, `${name} eps ${fmt(e)}`);
    }
    return out;
  };

  const rows: RobustRow[] = [];
  const results = new Map<string, RunOut>();
  for (const name of o.attacks) {
    for (const e of eps) {
      const t0 = performance.now();
      const r = run(name, e, data.size, {}, keep);
      results.set(`${name}@${e}`, r);
      rows.push({
        attack: name,
        eps: e,
        examples: data.size,
        correct: r.correct,
        accuracy: r.correct / data.size,
        successRate: r.successOf ? r.success / r.successOf : NaN,
        meanLinf: r.linf / data.size,
        meanL2: r.l2 / data.size,
        meanL1: r.l1 / data.size,
        seconds: (performance.now() - t0) / 1000,
        options: r.options,
        ...(Object.keys(r.metricSums).length
          ? {
              metrics: Object.fromEntries(
                Object.entries(r.metricSums).map(([k, v]) => [
                  k,
                  { mean: v.n ? v.sum / v.n : NaN, examples: v.n },
                ]),
              ),
            }
          : {}),
      });
    }
  }

  const checks: SanityCheck[] = [];
  if (sanity) {
    const acc = (name: string, e: number) => rows.find((r) => r.attack === name && r.eps === e)!.accuracy;
    for (const name of o.attacks) {
      // 1. eps = 0 changes nothing (where the attack is the identity at eps 0; snow is not).
      if (ATTACK_INFO[name]?.identityAtZero !== false) {
        const zero = eps.includes(0) ? results.get(`${name}@0`)! : run(name, 0, nSanity);
        const n0 = zero.predictions.length;
        const changed = zero.predictions.reduce((s, p, i) => s + (p !== clean[i] ? 1 : 0), 0);
        checks.push({
          name: 'eps 0 equals clean',
          attack: name,
          passed: changed === 0 && zero.linf === 0,
          detail:
            changed === 0 && zero.linf === 0
              ? `at eps 0, all ${n0} predictions equal the clean ones and no pixel moved`
              : `at eps 0, ${changed} of ${n0} predictions differ from the clean ones (mean L-inf ${fmt(zero.linf / n0)})`,
        });
      }
      if (ATTACK_INFO[name]?.targetsAccuracy === false) continue;
      // 2. Accuracy does not rise with eps.
      const rises = eps.slice(1).filter((e, i) => acc(name, e) > acc(name, eps[i]));
      checks.push({
        name: 'accuracy does not rise with eps',
        attack: name,
        passed: rises.length === 0,
        detail: rises.length
          ? `accuracy rose at eps ${rises.map(fmt).join(', ')} (${eps.map((e) => pctS(acc(name, e))).join(' → ')})`
          : `accuracy ${eps.map((e) => pctS(acc(name, e))).join(' → ')}`,
      });
      const norm = gradientNorm(name, results.get(`${name}@${eps[0]}`)!.options);
      if (!norm) continue;
      // 3. PGD L-inf is at least as strong as FGSM.
      if (name === 'pgd' || name === 'pgd-linf') {
        const worse: string[] = [];
        for (const e of eps) {
          if (e === 0) continue;
          const f = o.attacks.includes('fgsm')
            ? acc('fgsm', e)
            : run('fgsm', e, data.size).correct / data.size;
          if (acc(name, e) > f) worse.push(`eps ${fmt(e)}: ${name} ${pctS(acc(name, e))} > fgsm ${pctS(f)}`);
        }
        if (eps.some((e) => e > 0))
          checks.push({
            name: 'PGD at least as strong as FGSM',
            attack: name,
            passed: worse.length === 0,
            detail: worse.length ? worse.join('; ') : `${name} accuracy <= FGSM accuracy at every eps`,
          });
      }
      // 4. An unbounded budget reaches (near) zero accuracy (untargeted only: a target may be unreachable).
      if (!targeted && ATTACK_INFO[name]?.iterative) {
        const big = norm === 'linf' ? 1 : Math.sqrt(per);
        const steps = (common.steps ?? 40) || 1;
        const unb = run(name, big, nSanity, { stepSize: (2.5 * big) / steps, randomStart: false });
        const uAcc = unb.correct / nSanity;
        checks.push({
          name: 'unbounded budget reaches ~0% accuracy',
          attack: name,
          passed: uAcc <= 0.01,
          detail: `at eps ${fmt(big)} (${norm}, every image reachable), step ${fmt((2.5 * big) / steps)}: accuracy ${pctS(uAcc)} on ${nSanity} examples (near zero: <= 1%)`,
        });
      }
      // 5. Random noise of the same norm is weaker than the attack.
      const weaker: string[] = [];
      for (const e of eps) {
        if (e === 0) continue;
        const nAcc = noiseAccuracy(model, data, e, norm, bs, common.seed ?? 0);
        if (nAcc < acc(name, e))
          weaker.push(`eps ${fmt(e)}: noise ${pctS(nAcc)} < ${name} ${pctS(acc(name, e))}`);
      }
      if (eps.some((e) => e > 0))
        checks.push({
          name: 'random noise weaker than the attack',
          attack: name,
          passed: weaker.length === 0,
          detail: weaker.length
            ? weaker.join('; ')
            : `random ${norm} noise of each eps leaves accuracy at least as high as ${name}`,
        });
    }
  }
  finish();
  return {
    clean: {
      accuracy: cleanCorrect / data.size,
      correct: cleanCorrect,
      examples: data.size,
      predictions: clean,
    },
    rows,
    checks,
    examples,
  };
}

/**
 * Interpretation discrepancy of CAM at the minimum-eps adversarial (Boopathy et al.): per found
 * example D(x, x') with t the class x' is classified as, and proposition 1's bound 1/2 (f_y(x) - f_t(x)).
 */
function discrepancyMetrics(model: Classifier, batch: Batch, r: AttackResult): Record<string, number[]> {
  const found = r.epsPerExample ?? r.success.map((s) => (s ? 0 : NaN));
  const b = camBoundCheck(model, batch, r.xAdv);
  return {
    discrepancy: b.map((v, i) => (Number.isNaN(found[i]) || !v.applies ? NaN : v.discrepancy)),
    discrepancyBound: b.map((v, i) => (Number.isNaN(found[i]) || !v.applies ? NaN : v.bound)),
    boundHolds: b.map((v, i) => (Number.isNaN(found[i]) || !v.applies ? NaN : v.holds ? 1 : 0)),
  };
}

/** Accuracy under random noise on the eps-sphere: random signs * eps (L-inf) or a random direction of length eps (L2). */
function noiseAccuracy(
  model: Classifier,
  data: Dataset,
  eps: number,
  norm: 'linf' | 'l2',
  bs: number,
  seed: number,
): number {
  const rng = createRng(seed + 17);
  let correct = 0;
  for (const idx of batchIndices(data.size, bs)) {
    const { x, y } = getBatch(data, idx);
    const s = rng.int(2 ** 30);
    const p = tf.tidy(() => {
      let d: tf.Tensor4D;
      if (norm === 'linf') d = tf.mul(tf.sign(tf.randomUniform(x.shape, -1, 1, 'float32', s)), eps);
      else {
        const g = tf.randomNormal(x.shape, 0, 1, 'float32', s) as tf.Tensor4D;
        d = tf.mul(g, tf.div(eps, tf.sqrt(tf.sum(tf.square(g), [1, 2, 3], true))));
      }
      return tf.argMax(model.logits(tf.clipByValue(tf.add(x, d), 0, 1) as tf.Tensor4D), 1).dataSync();
    });
    tf.dispose([x, y]);
    idx.forEach((j, i) => p[i] === data.labels[j] && correct++);
  }
  return correct / data.size;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
}

function pctS(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
