/**
 * AutoAttack: Croce and Hein, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks", ICML 2020 (the evaluation RobustBench uses; reference code
 * fra31/auto-attack). Bounds the L-inf distance (L2 for the APGD-only `rand` version and custom lists
 * of APGD attacks). Runs its attacks in sequence, each on the points still robust (correctly
 * classified and not yet broken), and keeps for every example the first adversarial point found
 * (within the budget): the worst case per example. Versions, with the reference's settings:
 *   standard  apgd-ce (100 iterations, 1 run), apgd-t (9 target classes, 1 run each),
 *             fab-t (9 target classes), square (5,000 queries, p_init 0.8, schedule not rescaled)
 *   plus      apgd-ce and apgd-dlr (5 runs each), fab (5 runs), square, apgd-t, fab-t
 *   rand      apgd-ce and apgd-dlr with 20 EOT passes per gradient (randomised models)
 * The same `seed` is given to every attack, as the reference does.
 *
 * Options and defaults: `eps` (required), `norm` 'linf', `version` 'standard', `attacks` (a custom
 * list of names from AUTOATTACK_PARTS, replacing the version's), `steps` (APGD and FAB iterations,
 * 100), `queries` (Square, 5000), `nTargetClasses` 9, `seed` 0. No `target`: AutoAttack is untargeted.
 * Input: images [N, H, W, C] in [0, 1] with int32 labels [N]. The result's `options.summary` is a
 * RobustBench-style {@link AutoAttackSummary}; metrics.brokenBy = per example the 1-based stage that
 * broke it, 0 where the clean image is already misclassified, NaN where it stayed robust.
 *
 *   const r = autoattack(model, batch, { eps: 0.3, version: 'standard' });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackOptions } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import { apgdCe, apgdDlr, apgdT } from './apgd.ts';
import { square } from './square.ts';
import { fab, fabT } from './fab.ts';
import { checkEps } from './pgd.ts';
import { UserError } from '../errors.ts';

export type AutoAttackVersion = 'standard' | 'plus' | 'rand';

/** Options of the ensemble (see the header for defaults). */
export interface AutoAttackOptions extends AttackOptions {
  version?: AutoAttackVersion;
  /** A custom sequence of attacks (names of AUTOATTACK_PARTS), replacing the version's. */
  attacks?: string[];
  /** Square's query budget (5000). */
  queries?: number;
  /** Target classes of apgd-t and fab-t (9). */
  nTargetClasses?: number;
}

/** The registry's facts about `autoattack` (the lead registers them). */
export const AUTOATTACK_FACTS = {
  norm: 'linf',
  iterative: true,
  identityAtZero: true,
  exampleEps: '0.3',
} as const;

/** The attacks AutoAttack can run, by the reference's names. */
export const AUTOATTACK_PARTS: Record<string, Attack> = {
  'apgd-ce': apgdCe,
  'apgd-dlr': apgdDlr,
  'apgd-t': apgdT,
  'fab-t': fabT,
  fab,
  square,
};

/** One stage of a version: an attack and its settings beyond eps, norm and seed. */
export interface AutoAttackStage {
  name: string;
  options: Record<string, unknown>;
}

/** Each version's stages, as the reference's set_version (restarts = its n_restarts - 1). */
export function autoAttackStages(
  version: AutoAttackVersion,
  o: AutoAttackOptions = { eps: 0 },
): AutoAttackStage[] {
  const steps = o.steps ?? 100;
  const nt = o.nTargetClasses ?? 9;
  const sq = { queries: o.queries ?? 5000, pInit: 0.8, rescaleSchedule: false, restarts: 0 };
  switch (version) {
    case 'standard':
      return [
        { name: 'apgd-ce', options: { steps, restarts: 0 } },
        { name: 'apgd-t', options: { steps, restarts: 0, nTargetClasses: nt } },
        { name: 'fab-t', options: { steps, restarts: 0, nTargetClasses: nt } },
        { name: 'square', options: sq },
      ];
    case 'plus':
      return [
        { name: 'apgd-ce', options: { steps, restarts: 4 } },
        { name: 'apgd-dlr', options: { steps, restarts: 4 } },
        { name: 'fab', options: { steps, restarts: 4 } },
        { name: 'square', options: sq },
        { name: 'apgd-t', options: { steps, restarts: 0, nTargetClasses: nt } },
        { name: 'fab-t', options: { steps, restarts: 0, nTargetClasses: nt } },
      ];
    case 'rand':
      return [
        { name: 'apgd-ce', options: { steps, restarts: 0, eotIter: 20 } },
        { name: 'apgd-dlr', options: { steps, restarts: 0, eotIter: 20 } },
      ];
    default:
      throw new UserError(`unknown AutoAttack version '${version as string}'; use standard, plus or rand`);
  }
}

/** RobustBench-style summary of one AutoAttack evaluation. */
export interface AutoAttackSummary {
  version: AutoAttackVersion | 'custom';
  eps: number;
  norm: 'linf' | 'l2';
  examples: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Per stage, in order: how many points it broke, the robust accuracy after it, its seconds. */
  stages: { attack: string; broken: number; robustAccuracyAfter: number; seconds: number }[];
  /** AutoAttack's flags (zero gradients, Square stronger than the white-box attacks, randomness, softmax outputs). */
  warnings: string[];
}

function maxNorm(d: Float32Array, per: number, i: number, norm: 'linf' | 'l2'): number {
  let m = 0;
  for (let q = i * per; q < (i + 1) * per; q++)
    m = norm === 'linf' ? Math.max(m, Math.abs(d[q])) : m + d[q] * d[q];
  return norm === 'linf' ? m : Math.sqrt(m);
}

export const autoattack: Attack = (model: Classifier, batch, o: AutoAttackOptions) => {
  checkEps(o.eps);
  const norm = o.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') throw new UserError(`unknown norm '${norm}'; use linf or l2`);
  if (o.target !== undefined) throw new UserError('autoattack is untargeted; leave out target');
  const version = o.version ?? 'standard';
  let stages = autoAttackStages(version, o);
  if (o.attacks) {
    for (const a of o.attacks)
      if (!AUTOATTACK_PARTS[a])
        throw new UserError(
          `unknown AutoAttack part '${a}'; use ${Object.keys(AUTOATTACK_PARTS).join(', ')}`,
        );
    const known = [...autoAttackStages('plus', o), ...autoAttackStages('standard', o)];
    stages = o.attacks.map((a) => known.find((s) => s.name === a)!);
  }
  if (norm === 'l2') {
    const bad = stages.filter((s) => !s.name.startsWith('apgd')).map((s) => s.name);
    if (bad.length)
      throw new UserError(
        `${bad.join(', ')} support linf only here; use norm linf or attacks apgd-ce, apgd-dlr, apgd-t`,
      );
  }
  const seed = o.seed ?? 0;
  const x = batch.x;
  const n = x.shape[0];
  const per = x.size / n;
  const y = Array.from(batch.y.dataSync());
  const xs = x.dataSync() as Float32Array;
  const out = Float32Array.from(xs);
  const warnings: string[] = [];

  // The reference's checks on the model: randomness, softmax outputs.
  const [z1, z2] = tf.tidy(() => [model.logits(x).arraySync(), model.logits(x).arraySync()]);
  if (
    version !== 'rand' &&
    z1.some((r, i) => r.some((v, k) => Math.abs(v - z2[i][k]) > 1e-4 * (Math.abs(v) + 1)))
  )
    warnings.push(
      'the model gives different outputs for the same input: it seems randomised; use version rand',
    );
  if (
    z1.every(
      (r) => r.every((v) => v > -1e-5 && v < 1 + 1e-5) && Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-5,
    )
  )
    warnings.push('the outputs look like probabilities (they sum to one): the attacks need logits');

  const brokenBy = z1.map((r, i) => (r.indexOf(Math.max(...r)) === y[i] ? NaN : 0));
  const cleanAccuracy = brokenBy.filter((v) => Number.isNaN(v)).length / n;
  const report: AutoAttackSummary['stages'] = [];
  stages.forEach((stage, si) => {
    const idx = brokenBy.flatMap((v, i) => (Number.isNaN(v) ? [i] : []));
    const t0 = Date.now();
    let broken = 0;
    if (idx.length > 0) {
      const sub = tf.tidy(() => ({
        x: tf.gather(x, idx) as tf.Tensor4D,
        y: tf.gather(batch.y, idx) as tf.Tensor1D,
      }));
      const r = AUTOATTACK_PARTS[stage.name](model, sub, {
        ...stage.options,
        eps: o.eps,
        norm,
        seed,
      } as AttackOptions);
      const adv = r.xAdv.dataSync() as Float32Array;
      const delta = tf.tidy(() => tf.sub(r.xAdv, sub.x).dataSync() as Float32Array);
      const zero = r.metrics?.zeroGradient;
      if (zero && zero.some((v) => v === 1))
        warnings.push(
          `${stage.name}: ${zero.filter((v) => v === 1).length} point(s) with zero gradient; gradient-based attacks may be unreliable there`,
        );
      idx.forEach((ex, j) => {
        // Counted only when it is adversarial and inside the budget (1e-6 for float32 rounding).
        if (r.success[j] && maxNorm(delta, per, j, norm) <= o.eps + 1e-6) {
          brokenBy[ex] = si + 1;
          broken++;
          out.set(adv.subarray(j * per, (j + 1) * per), ex * per);
        }
      });
      tf.dispose([r.xAdv, r.logits, sub.x, sub.y]);
    }
    report.push({
      attack: stage.name,
      broken,
      robustAccuracyAfter: brokenBy.filter((v) => Number.isNaN(v)).length / n,
      seconds: (Date.now() - t0) / 1000,
    });
  });
  // The reference's check_square_sr: Square breaking more than the white-box attacks hints at masking.
  const sq = stages.findIndex((s) => s.name === 'square');
  if (sq > 0) {
    const before = report[sq - 1].robustAccuracyAfter;
    if (report[sq].robustAccuracyAfter < before - 0.002)
      warnings.push(
        `square lowered the robust accuracy by ${((before - report[sq].robustAccuracyAfter) * 100).toFixed(2)} points after the gradient attacks: the model may mask gradients`,
      );
  }
  const robustAccuracy = brokenBy.filter((v) => Number.isNaN(v)).length / n;
  const summary: AutoAttackSummary = {
    version: o.attacks ? 'custom' : version,
    eps: o.eps,
    norm,
    examples: n,
    cleanAccuracy,
    robustAccuracy,
    stages: report,
    warnings,
  };
  const xAdv = tf.tensor4d(out, x.shape);
  const logits = model.logits(xAdv);
  const pred = tf.tidy(() => tf.argMax(logits, 1).dataSync());
  return {
    xAdv,
    logits,
    success: Array.from(pred, (p, i) => p !== y[i]),
    options: {
      attack: `autoattack-${norm}`,
      eps: o.eps,
      norm,
      version: summary.version,
      attacks: stages.map((s) => s.name),
      stages,
      seed,
      summary,
    },
    metrics: { brokenBy },
  };
};
