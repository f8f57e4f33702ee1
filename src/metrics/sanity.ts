/**
 * The sanity checks of a robustness evaluation (Carlini et al., "On Evaluating Adversarial
 * Robustness", 2019), one function each, so a broken attack or gradient masking shows:
 * 1. eps = 0 gives the clean predictions ({@link zeroCheck});
 * 2. accuracy does not rise with eps ({@link monotoneCheck});
 * 3. an iterative gradient attack is at least as strong as the single-step attack of its norm at
 *    every eps (PGD vs FGSM; {@link singleStepCheck}; not gradient-free attacks such as Square);
 * 4. a budget that allows any image takes an iterative attack's accuracy to (near) zero
 *    (untargeted; {@link unboundedCheck});
 * 5. random noise of the same norm is weaker than the attack ({@link noiseCheck}).
 * {@link sanityChecks} runs the ones each attack's facts call for on an evaluation's outcomes and the
 * extra runs of src/metrics/sanityRuns.ts. A failed check is a warning; it is never dropped.
 */
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { attackFacts } from '../attacks/index.ts';
import type { RunSpec } from './attackRun.ts';
import type { RunOut } from './mergeRun.ts';
import type { RobustRow, SanityCheck } from './robustTypes.ts';
import { noiseAccuracy } from './noiseAccuracy.ts';
import { fmt, pct } from './format.ts';
import {
  comparedWithSingleStep,
  isIterative,
  singleStepBaselines,
  singleStepRun,
  targetsAccuracy,
  unboundedRun,
  zeroRun,
  type Norm,
  type SanityPlan,
} from './sanityRuns.ts';

/** What the checks look at: the evaluation's settings and the outcomes of its main runs. */
export interface SanityInputs extends SanityPlan {
  model: Classifier;
  data: Dataset;
  batchSize: number;
  /** Clean predictions of every example. */
  clean: Int32Array;
  rows: RobustRow[];
  /** The main run of `name` at budget `eps`. */
  mainRun: (name: string, eps: number) => RunOut;
}

/** Check 1: run `zero` of attack `name` at eps 0 changed no prediction (against `clean`) and no pixel. */
export function zeroCheck(name: string, zero: RunOut, clean: Int32Array): SanityCheck {
  const n0 = zero.predictions.length;
  const changed = zero.predictions.reduce((s, p, i) => s + (p !== clean[i] ? 1 : 0), 0);
  const passed = changed === 0 && zero.linf === 0;
  return {
    name: 'eps 0 equals clean',
    attack: name,
    passed,
    detail: passed
      ? `at eps 0, all ${n0} predictions equal the clean ones and no pixel moved`
      : `at eps 0, ${changed} of ${n0} predictions differ from the clean ones (mean L-inf ${fmt(zero.linf / n0)})`,
  };
}

/** Check 2: accuracy `acc(e)` of attack `name` does not rise from one budget of `eps` (ascending) to the next. */
export function monotoneCheck(name: string, eps: number[], acc: (e: number) => number): SanityCheck {
  const rises = eps.slice(1).filter((e, i) => acc(e) > acc(eps[i]));
  const path = eps.map((e) => pct(acc(e))).join(' → ');
  return {
    name: 'accuracy does not rise with eps',
    attack: name,
    passed: rises.length === 0,
    detail: rises.length ? `accuracy rose at eps ${rises.map(fmt).join(', ')} (${path})` : `accuracy ${path}`,
  };
}

/**
 * Check 3: at every eps > 0, iterative attack `name` leaves at most the accuracy single-step attack
 * `base` leaves (`acc` and `baseAcc` per eps); null when no budget is above 0.
 */
export function singleStepCheck(
  name: string,
  base: string,
  eps: number[],
  acc: (e: number) => number,
  baseAcc: (e: number) => number,
): SanityCheck | null {
  const positive = eps.filter((e) => e > 0);
  if (positive.length === 0) return null;
  const worse = positive
    .filter((e) => acc(e) > baseAcc(e))
    .map((e) => `eps ${fmt(e)}: ${name} ${pct(acc(e))} > ${base} ${pct(baseAcc(e))}`);
  return {
    name: 'PGD at least as strong as FGSM',
    attack: name,
    passed: worse.length === 0,
    detail: worse.length ? worse.join('; ') : `${name} accuracy <= ${base} accuracy at every eps`,
  };
}

/** Check 4: iterative attack `name`'s run `s` at a budget reaching every image leaves accuracy `accuracy` <= 1%. */
export function unboundedCheck(name: string, s: RunSpec, norm: Norm, accuracy: number): SanityCheck {
  return {
    name: 'unbounded budget reaches ~0% accuracy',
    attack: name,
    passed: accuracy <= 0.01,
    detail: `at eps ${fmt(s.eps)} (${norm}, every image reachable), step ${fmt(s.extra.stepSize!)}: accuracy ${pct(accuracy)} on ${s.n} examples (near zero: <= 1%)`,
  };
}

/**
 * Check 5: at every eps > 0, random `norm` noise of size eps leaves accuracy `noiseAcc(e)` at least
 * the attack's `acc(e)`; null when no budget is above 0.
 */
export function noiseCheck(
  name: string,
  eps: number[],
  norm: Norm,
  acc: (e: number) => number,
  noiseAcc: (e: number) => number,
): SanityCheck | null {
  const positive = eps.filter((e) => e > 0);
  if (positive.length === 0) return null;
  const weaker: string[] = [];
  for (const e of positive) {
    const n = noiseAcc(e);
    if (n < acc(e)) weaker.push(`eps ${fmt(e)}: noise ${pct(n)} < ${name} ${pct(acc(e))}`);
  }
  return {
    name: 'random noise weaker than the attack',
    attack: name,
    passed: weaker.length === 0,
    detail: weaker.length
      ? weaker.join('; ')
      : `random ${norm} noise of each eps leaves accuracy at least as high as ${name}`,
  };
}

/**
 * The checks each attack's facts call for, in order 1 to 5 per attack, from the main runs and
 * `extraRun`, the outcome of each run `sanityRuns` (src/metrics/sanityRuns.ts) asked for.
 */
export function sanityChecks(inp: SanityInputs, extraRun: (s: RunSpec) => RunOut): SanityCheck[] {
  const { data, eps, rows } = inp;
  const checks: SanityCheck[] = [];
  const add = (c: SanityCheck | null) => c && checks.push(c);
  const accOf = (name: string) => (e: number) => rows.find((r) => r.attack === name && r.eps === e)!.accuracy;
  for (const name of inp.attacks) {
    if (attackFacts(name).identityAtZero)
      add(zeroCheck(name, eps.includes(0) ? inp.mainRun(name, 0) : extraRun(zeroRun(inp, name)), inp.clean));
    if (!targetsAccuracy(name)) continue;
    const acc = accOf(name);
    add(monotoneCheck(name, eps, acc));
    const norm = inp.norm(name);
    if (!norm) continue;
    if (isIterative(inp, name)) {
      for (const base of comparedWithSingleStep(name) ? singleStepBaselines(inp, norm) : []) {
        const baseAcc = inp.attacks.includes(base)
          ? accOf(base)
          : (e: number) => extraRun(singleStepRun(inp, base, e)).correct / data.size;
        add(singleStepCheck(name, base, eps, acc, baseAcc));
      }
      if (!inp.targeted) {
        const s = unboundedRun(inp, name, norm);
        add(unboundedCheck(name, s, norm, extraRun(s).correct / s.n));
      }
    }
    const seed = inp.common.seed ?? 0;
    add(
      noiseCheck(name, eps, norm, acc, (e) => noiseAccuracy(inp.model, data, e, norm, inp.batchSize, seed)),
    );
  }
  return checks;
}
