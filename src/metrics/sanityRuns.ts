/**
 * The extra attack runs the sanity checks need beside an evaluation's own (Carlini et al., "On
 * Evaluating Adversarial Robustness", 2019): eps 0 where it is not among the budgets (check 1), the
 * single-step attack of an iterative attack's norm where the evaluation has none (check 3), and a
 * budget that reaches every image (check 4). Which runs apply is read from the attacks' facts
 * ({@link attackFacts}), never from their names.
 */
import type { Dataset } from '../data/dataset.ts';
import { ATTACKS, attackFacts, type AttackOptions } from '../attacks/index.ts';
import { runKey, runSpec, type RunSpec } from './attackRun.ts';

/** A norm of x' - x that an attack's budget bounds. */
export type Norm = 'linf' | 'l2';

/**
 * The norm attack `name` bounds when run with `options`: the `norm` its options name (pgd with
 * `norm: 'l2'`), else its facts' norm; null when its budget bounds no norm (snow, jpeg, min-eps).
 */
export function boundedNorm(name: string, options: Record<string, unknown>): Norm | null {
  const norm = attackFacts(name).norm;
  if (!norm) return null;
  return options.norm === 'linf' || options.norm === 'l2' ? options.norm : norm;
}

/** Whether the checks of accuracy (2 to 5) apply to `name`: false for attacks that keep predictions (aai). */
export const targetsAccuracy = (name: string): boolean => attackFacts(name).targetsAccuracy !== false;

/** What planning the extra runs needs: the evaluation's settings and each attack's norm. */
export interface SanityPlan {
  attacks: string[];
  /** The budgets, ascending. */
  eps: number[];
  /** Options every attack got. */
  common: Omit<AttackOptions, 'eps'>;
  targeted: boolean;
  /** Examples the extra runs of checks 1 and 4 attack (the first of the set). */
  nSanity: number;
  data: Pick<Dataset, 'size' | 'shape'>;
  /** The norm attack `name` bounds in this evaluation (see {@link boundedNorm}), or null. */
  norm: (name: string) => Norm | null;
}

/** Check 1's run of `name` at eps 0 on the first `nSanity` examples. */
export const zeroRun = (p: SanityPlan, name: string): RunSpec => runSpec(name, 0, p.nSanity);

/** Check 3's run of single-step attack `name` at budget `eps` on the whole set (it is compared with a main run). */
export const singleStepRun = (p: SanityPlan, name: string, eps: number): RunSpec =>
  runSpec(name, eps, p.data.size);

/**
 * Check 4's run: `name` at a budget that reaches every image in [0, 1] (L-inf 1, L2 the diagonal
 * sqrt(H W C)), with step 2.5 budget / steps and no random start.
 */
export function unboundedRun(p: SanityPlan, name: string, norm: Norm): RunSpec {
  const [h, w, c] = p.data.shape;
  const big = norm === 'linf' ? 1 : Math.sqrt(h * w * c);
  const steps = (p.common.steps ?? 40) || 1;
  return runSpec(name, big, p.nSanity, { stepSize: (2.5 * big) / steps, randomStart: false });
}

/** Whether `name` is an iterative attack of a bounded norm that aims at accuracy (checks 3 and 4 apply). */
export function isIterative(p: SanityPlan, name: string): boolean {
  return attackFacts(name).iterative && targetsAccuracy(name) && p.norm(name) !== null;
}

/**
 * Whether check 3 (at least as strong as the single-step attack) applies to iterative attack `name`:
 * it detects gradients that mislead several steps, so a gradient-free attack (Square, whose
 * strength depends on its query budget) is not held to it.
 */
export const comparedWithSingleStep = (name: string): boolean => !attackFacts(name).gradientFree;

/**
 * The single-step attacks an iterative attack of norm `norm` must be at least as strong as (check 3):
 * the evaluation's own single-step attacks of that norm, else the registry's first one (run as an
 * extra), else none (no single-step L2 attack exists).
 */
export function singleStepBaselines(p: SanityPlan, norm: Norm): string[] {
  const single = (a: string) => !attackFacts(a).iterative && targetsAccuracy(a);
  const asked = p.attacks.filter((a) => single(a) && p.norm(a) === norm);
  if (asked.length) return asked;
  const known = Object.keys(ATTACKS).find((a) => single(a) && attackFacts(a).norm === norm);
  return known ? [known] : [];
}

/** The extra runs the checks need, without repeats, in the order the checks ask for them. */
export function sanityRuns(p: SanityPlan): RunSpec[] {
  const extra = new Map<string, RunSpec>();
  const want = (s: RunSpec) => extra.set(runKey(s), s);
  for (const name of p.attacks) {
    if (attackFacts(name).identityAtZero && !p.eps.includes(0)) want(zeroRun(p, name));
    if (!isIterative(p, name)) continue;
    const norm = p.norm(name)!;
    if (comparedWithSingleStep(name))
      for (const base of singleStepBaselines(p, norm))
        if (!p.attacks.includes(base)) for (const e of p.eps) if (e > 0) want(singleStepRun(p, base, e));
    if (!p.targeted) want(unboundedRun(p, name, norm));
  }
  return [...extra.values()];
}

/** Examples the extra runs attack in all (for progress). */
export function sanityExamples(p: SanityPlan): number {
  return sanityRuns(p).reduce((s, r) => s + r.n, 0);
}
