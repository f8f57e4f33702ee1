/**
 * Checks that a robustness number is not an artefact of gradient masking (Athalye et al., ICML 2018;
 * Carlini et al., "On Evaluating Adversarial Robustness", 2019; the flags of Croce and Hein's
 * AutoAttack). A model that hides its gradient (a saturated softmax, a non-differentiable layer,
 * shattered or random gradients) keeps a high accuracy under gradient attacks that a score-based
 * attack, a larger budget or a longer run takes away. Measured with a white-box attack W (APGD-CE,
 * or any attack of the registry with `steps` and `restarts`) and the black-box Square attack:
 *
 *   (a) accuracy decreases with eps: clean >= acc_W(eps_1) >= acc_W(eps_2) >= ... (never rises);
 *   (b) an unbounded budget (L-inf 1, L2 sqrt(H W C): every image reachable) takes acc_W to <= 1%;
 *   (c) black-box does not beat white-box by much: at each eps, acc_Square >= acc_W - tolerance;
 *   (d) a stronger run does not go much further: at each eps, W with `strongerSteps` steps and
 *       `strongerRestarts` restarts leaves acc >= acc_W - tolerance.
 *
 * `tolerance` (default 0.02, in accuracy) is the slack of (c) and (d): two examples in a hundred.
 * Every example counts (clean errors are errors), so accuracies are robust accuracies.
 *
 *   const r = maskingChecks(model, data, { eps: [0.1, 0.2, 0.3] });
 *   r.checks.filter((c) => !c.passed);     // what to distrust
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { batchIndices, getBatch, type Dataset } from '../data/dataset.ts';
import { attack, attackRecord } from '../attacks/index.ts';
import type { AttackArgs } from '../attacks/types.ts';
import { UserError } from '../errors.ts';
import { fmt, pct } from './format.ts';

/** Options of {@link maskingChecks}. */
export interface MaskingOptions {
  /** Budgets, each > 0 (the checks (a), (c) and (d) run at each). */
  eps: number[];
  norm?: 'linf' | 'l2';
  /** The white-box attack, from the registry, taking `steps` and `restarts` ('apgd-ce'). */
  whiteBox?: string;
  /** Its iterations (100). */
  steps?: number;
  /** (d): iterations of the stronger run (4 x steps). */
  strongerSteps?: number;
  /** (d): extra random restarts of the stronger run (1). */
  strongerRestarts?: number;
  /** (c): Square's queries (5000, AutoAttack's). */
  queries?: number;
  /** (c), (d): allowed accuracy drop (0.02). */
  tolerance?: number;
  batchSize?: number;
  seed?: number;
  /** Called after each attack run, with what ran and its accuracy. */
  onRun?: (what: string, accuracy: number) => void;
}

/** One check: passed or not, a one-line reason, and the numbers it compared. */
export interface MaskingCheck {
  id: 'a' | 'b' | 'c' | 'd';
  name: string;
  passed: boolean;
  detail: string;
  numbers: Record<string, number>;
}

/** What {@link maskingChecks} measured. */
export interface MaskingReport {
  examples: number;
  clean: number;
  norm: 'linf' | 'l2';
  whiteBox: string;
  /** Per eps (in the order given): the white-box, Square and stronger white-box accuracies. */
  rows: { eps: number; whiteBox: number; square: number; stronger: number }[];
  unbounded: { eps: number; accuracy: number };
  checks: MaskingCheck[];
  passed: boolean;
  settings: Required<Omit<MaskingOptions, 'onRun' | 'eps'>>;
}

/** (a): the accuracies `acc` at ascending `eps` (after the clean one) never rise. */
export function decreasingCheck(clean: number, eps: number[], acc: number[]): MaskingCheck {
  const path = [clean, ...acc];
  const rises = acc.flatMap((a, i) => (a > path[i] ? [eps[i]] : []));
  const numbers = Object.fromEntries([['clean', clean], ...eps.map((e, i) => [`eps ${e}`, acc[i]])]);
  return {
    id: 'a',
    name: 'accuracy decreases with eps',
    passed: rises.length === 0,
    detail:
      (rises.length ? `accuracy rose at eps ${rises.map(fmt).join(', ')}: ` : '') +
      `clean ${pct(clean)} → ${acc.map((a, i) => `${fmt(eps[i])}: ${pct(a)}`).join(' → ')}`,
    numbers,
  };
}

/** (b): accuracy `acc` at the unbounded budget `eps` is at most 1%. */
export function unboundedBudgetCheck(eps: number, acc: number, attackName: string): MaskingCheck {
  return {
    id: 'b',
    name: 'unbounded budget reaches ~0% accuracy',
    passed: acc <= 0.01,
    detail: `${attackName} at eps ${fmt(eps)} (every image reachable): accuracy ${pct(acc)} (must be <= 1%)`,
    numbers: { eps, accuracy: acc },
  };
}

/**
 * (c) or (d): at each eps, `other` (Square, or the stronger run) leaves at least `base` minus
 * `tolerance`.
 */
export function notFarBelowCheck(
  id: 'c' | 'd',
  name: string,
  labels: [string, string],
  eps: number[],
  base: number[],
  other: number[],
  tolerance: number,
): MaskingCheck {
  const below = eps.flatMap((e, i) =>
    other[i] < base[i] - tolerance
      ? [`eps ${fmt(e)}: ${labels[1]} ${pct(other[i])} < ${labels[0]} ${pct(base[i])} - ${pct(tolerance)}`]
      : [],
  );
  const numbers: Record<string, number> = { tolerance };
  eps.forEach((e, i) => {
    numbers[`${labels[0]} eps ${e}`] = base[i];
    numbers[`${labels[1]} eps ${e}`] = other[i];
  });
  return {
    id,
    name,
    passed: below.length === 0,
    detail: below.length
      ? below.join('; ')
      : eps
          .map((e, i) => `eps ${fmt(e)}: ${labels[1]} ${pct(other[i])} vs ${labels[0]} ${pct(base[i])}`)
          .join('; '),
    numbers,
  };
}

/** Accuracy of `model` on `data` under attack `name` with `options` (clean errors count as errors). */
function accuracyUnder(
  model: Classifier,
  data: Dataset,
  name: string,
  options: AttackArgs,
  batchSize: number,
): number {
  const run = attack(name);
  let correct = 0;
  for (const idx of batchIndices(data.size, batchSize)) {
    const b = getBatch(data, idx);
    const r = run(model, b, options);
    correct += r.success.filter((s) => !s).length;
    tf.dispose([r.xAdv, r.logits, b.x, b.y]);
  }
  return correct / data.size;
}

/** Runs the checks (a) to (d) of the file's header on `data` (leaves no tensor behind). */
export function maskingChecks(model: Classifier, data: Dataset, o: MaskingOptions): MaskingReport {
  if (data.size === 0) throw new UserError('no examples to check; give data with at least one image');
  if (data.classNames.length !== model.labels.length)
    throw new UserError(
      `the data has ${data.classNames.length} classes but the model predicts ${model.labels.length}; check on the data the model was made for`,
    );
  if (o.eps.length === 0 || o.eps.some((e) => !(e > 0) || !Number.isFinite(e)))
    throw new UserError(`eps ${o.eps.join(',')}: give budgets above 0 (for example 0.1,0.2,0.3)`);
  const norm = o.norm ?? 'linf';
  const whiteBox = o.whiteBox ?? 'apgd-ce';
  const spec = attackRecord(whiteBox).options as Record<string, unknown>;
  if (!('steps' in spec) || !('restarts' in spec))
    throw new UserError(
      `white-box attack '${whiteBox}' takes no steps and restarts; use apgd-ce or apgd-dlr`,
    );
  const steps = o.steps ?? 100;
  const s = {
    norm,
    whiteBox,
    steps,
    strongerSteps: o.strongerSteps ?? 4 * steps,
    strongerRestarts: o.strongerRestarts ?? 1,
    queries: o.queries ?? 5000,
    tolerance: o.tolerance ?? 0.02,
    batchSize: o.batchSize ?? 100,
    seed: o.seed ?? 0,
  };
  const eps = [...o.eps].sort((a, b) => a - b);
  const run = (what: string, name: string, options: AttackArgs) => {
    const acc = accuracyUnder(model, data, name, { norm, seed: s.seed, ...options }, s.batchSize);
    o.onRun?.(what, acc);
    return acc;
  };

  let correct = 0;
  for (const idx of batchIndices(data.size, s.batchSize)) {
    const b = getBatch(data, idx);
    const p = tf.tidy(() => tf.argMax(model.logits(b.x), 1).dataSync());
    const y = b.y.dataSync();
    p.forEach((v, i) => v === y[i] && correct++);
    tf.dispose([b.x, b.y]);
  }
  const clean = correct / data.size;
  const white = eps.map((e) => run(`${whiteBox} eps ${e}`, whiteBox, { eps: e, steps, restarts: 0 }));
  const [h, w, c] = data.shape;
  const big = norm === 'linf' ? 1 : Math.sqrt(h * w * c);
  const unbounded = run(`${whiteBox} eps ${fmt(big)} (unbounded)`, whiteBox, {
    eps: big,
    steps,
    restarts: 0,
  });
  const sq = eps.map((e) => run(`square eps ${e}`, 'square', { eps: e, queries: s.queries }));
  const strong = eps.map((e) =>
    run(`${whiteBox} eps ${e}, ${s.strongerSteps} steps, ${s.strongerRestarts} restarts`, whiteBox, {
      eps: e,
      steps: s.strongerSteps,
      restarts: s.strongerRestarts,
    }),
  );
  const checks = [
    decreasingCheck(clean, eps, white),
    unboundedBudgetCheck(big, unbounded, whiteBox),
    notFarBelowCheck(
      'c',
      'black-box does not beat white-box',
      [whiteBox, 'square'],
      eps,
      white,
      sq,
      s.tolerance,
    ),
    notFarBelowCheck(
      'd',
      'more steps and restarts do not go much further',
      [whiteBox, `${whiteBox} ${s.strongerSteps} steps`],
      eps,
      white,
      strong,
      s.tolerance,
    ),
  ];
  return {
    examples: data.size,
    clean,
    norm,
    whiteBox,
    rows: eps.map((e, i) => ({ eps: e, whiteBox: white[i], square: sq[i], stronger: strong[i] })),
    unbounded: { eps: big, accuracy: unbounded },
    checks,
    passed: checks.every((k) => k.passed),
    settings: s,
  };
}
