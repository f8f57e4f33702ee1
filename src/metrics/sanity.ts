/**
 * The sanity checks of a robustness evaluation (Carlini et al., "On Evaluating Adversarial
 * Robustness", 2019), split from robustness.ts: {@link sanityRuns} names the extra attack runs the
 * checks need (eps 0, FGSM, an unbounded budget), the evaluation runs them beside its own, and
 * {@link sanityChecks} turns every outcome into the five checks listed in robustness.ts. No Node
 * imports (browser-ready).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch } from '../data/dataset.ts';
import { ATTACK_INFO, type AttackOptions } from '../attacks/index.ts';
import { createRng } from '../engine/rng.ts';
import type { RobustRow, SanityCheck } from './robustness.ts';

/** One attack run: an attack at one budget over the first `n` examples, with extra options. */
export interface RunSpec {
  name: string;
  eps: number;
  n: number;
  extra: Partial<AttackOptions>;
  /** Keep the images of the examples below this index (0: none). */
  keep: number;
}

/** A run's outcome, merged from its batches in batch order. */
export interface RunOut {
  metricSums: Record<string, { sum: number; n: number }>;
  correct: number;
  success: number;
  successOf: number;
  linf: number;
  l2: number;
  l1: number;
  options: Record<string, unknown>;
  predictions: Int32Array;
  seconds: number;
}

export const runSpec = (
  name: string,
  eps: number,
  n: number,
  extra: Partial<AttackOptions> = {},
  keep = 0,
): RunSpec => ({
  name,
  eps,
  n,
  extra,
  keep,
});

/** A key identifying a run (attack, budget, examples, extra options). */
export const runKey = (s: RunSpec): string => JSON.stringify([s.name, s.eps, s.n, s.extra]);

/** The norm a gradient attack bounds (the checks probe these), from the registry's info. */
export function gradientNorm(name: string, options: Record<string, unknown>): 'linf' | 'l2' | null {
  const info = ATTACK_INFO[name];
  if (!info?.norm) return null;
  return options.norm === 'l2' ? 'l2' : info.norm;
}

/** What the checks look at: the evaluation's settings and its main runs' outcomes. */
export interface SanityInputs {
  model: Classifier;
  data: Dataset;
  attacks: string[];
  /** The budgets, ascending. */
  eps: number[];
  /** Options every attack got. */
  common: Omit<AttackOptions, 'eps'>;
  targeted: boolean;
  /** Examples the extra runs of checks 1 and 4 attack. */
  nSanity: number;
  batchSize: number;
  /** Clean predictions of every example. */
  clean: Int32Array;
  rows: RobustRow[];
  /** The main run of `name` at budget `eps`. */
  mainRun: (name: string, eps: number) => RunOut;
}

const zeroRun = (inp: SanityInputs, name: string) => runSpec(name, 0, inp.nSanity);
const fgsmRun = (inp: SanityInputs, e: number) => runSpec('fgsm', e, inp.data.size);
function unboundedRun(inp: SanityInputs, name: string, norm: 'linf' | 'l2'): RunSpec {
  const [h, w, c] = inp.data.shape;
  const big = norm === 'linf' ? 1 : Math.sqrt(h * w * c);
  const steps = (inp.common.steps ?? 40) || 1;
  return runSpec(name, big, inp.nSanity, { stepSize: (2.5 * big) / steps, randomStart: false });
}
const normOf = (inp: SanityInputs, name: string) => gradientNorm(name, inp.mainRun(name, inp.eps[0]).options);
const isPgdLinf = (name: string) => name === 'pgd' || name === 'pgd-linf';

/**
 * The extra runs the checks need, without repeats: eps 0 (check 1, when 0 is not among the
 * budgets), FGSM (check 3, when it was not asked for) and the unbounded budget (check 4).
 */
export function sanityRuns(inp: SanityInputs): RunSpec[] {
  const extra = new Map<string, RunSpec>();
  const want = (s: RunSpec) => extra.set(runKey(s), s);
  for (const name of inp.attacks) {
    if (ATTACK_INFO[name]?.identityAtZero !== false && !inp.eps.includes(0)) want(zeroRun(inp, name));
    if (ATTACK_INFO[name]?.targetsAccuracy === false) continue;
    const norm = normOf(inp, name);
    if (!norm) continue;
    if (isPgdLinf(name) && !inp.attacks.includes('fgsm'))
      for (const e of inp.eps) if (e > 0) want(fgsmRun(inp, e));
    if (!inp.targeted && ATTACK_INFO[name]?.iterative) want(unboundedRun(inp, name, norm));
  }
  return [...extra.values()];
}

/** Examples the extra runs attack in all (for progress), as {@link sanityRuns} will ask for them. */
export function sanityExamples(attacks: string[], eps: number[], nSanity: number, targeted: boolean): number {
  const gradientAttacks = attacks.filter((a) => ATTACK_INFO[a]?.iterative && gradientNorm(a, {}));
  const zero = eps.includes(0) ? 0 : attacks.filter((a) => ATTACK_INFO[a]?.identityAtZero !== false).length;
  return nSanity * (zero + (targeted ? 0 : gradientAttacks.length));
}

/** The five checks per attack, from the main runs and the outcomes of {@link sanityRuns}' runs. */
export function sanityChecks(inp: SanityInputs, extraRun: (s: RunSpec) => RunOut): SanityCheck[] {
  const { data, eps, rows } = inp;
  const checks: SanityCheck[] = [];
  const acc = (name: string, e: number) => rows.find((r) => r.attack === name && r.eps === e)!.accuracy;
  for (const name of inp.attacks) {
    // 1. eps = 0 changes nothing (where the attack is the identity at eps 0; snow is not).
    if (ATTACK_INFO[name]?.identityAtZero !== false) {
      const zero = eps.includes(0) ? inp.mainRun(name, 0) : extraRun(zeroRun(inp, name));
      const n0 = zero.predictions.length;
      const changed = zero.predictions.reduce((s, p, i) => s + (p !== inp.clean[i] ? 1 : 0), 0);
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
    const norm = normOf(inp, name);
    if (!norm) continue;
    // 3. PGD L-inf is at least as strong as FGSM.
    if (isPgdLinf(name)) {
      const worse: string[] = [];
      for (const e of eps) {
        if (e === 0) continue;
        const f = inp.attacks.includes('fgsm')
          ? acc('fgsm', e)
          : extraRun(fgsmRun(inp, e)).correct / data.size;
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
    if (!inp.targeted && ATTACK_INFO[name]?.iterative) {
      const s = unboundedRun(inp, name, norm);
      const uAcc = extraRun(s).correct / inp.nSanity;
      checks.push({
        name: 'unbounded budget reaches ~0% accuracy',
        attack: name,
        passed: uAcc <= 0.01,
        detail: `at eps ${fmt(s.eps)} (${norm}, every image reachable), step ${fmt(s.extra.stepSize!)}: accuracy ${pctS(uAcc)} on ${inp.nSanity} examples (near zero: <= 1%)`,
      });
    }
    // 5. Random noise of the same norm is weaker than the attack.
    const weaker: string[] = [];
    for (const e of eps) {
      if (e === 0) continue;
      const nAcc = noiseAccuracy(inp.model, data, e, norm, inp.batchSize, inp.common.seed ?? 0);
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
  return checks;
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

/** A budget as short text: 0.3, 8, 0.03137. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
}

function pctS(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
