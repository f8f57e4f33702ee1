/**
 * AutoAttack: Croce and Hein, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks", ICML 2020 (the evaluation RobustBench uses; reference code
 * fra31/auto-attack). Bounds the L-inf distance (L2 for the APGD-only `rand` version and custom lists
 * of APGD attacks). Runs its attacks in sequence, each on the points still robust (correctly
 * classified and not yet broken), and keeps for every example the first adversarial point found
 * (within the budget): the worst case per example. Presets (the reference's `version`), with its settings:
 *   standard  apgd-ce (100 iterations, 1 run), apgd-t (9 target classes, 1 run each),
 *             fab-t (9 target classes), square (5,000 queries, p_init 0.8, schedule not rescaled)
 *   plus      apgd-ce and apgd-dlr (5 runs each), fab (5 runs), square, apgd-t, fab-t
 *   rand      apgd-ce and apgd-dlr with 20 EOT passes per gradient (randomised models)
 * The same `seed` is given to every attack, as the reference does.
 *
 * Options and defaults (AUTOATTACK_OPTIONS): `eps` (required), `norm` 'linf', `aaPreset`
 * 'standard' (not `preset` nor `version`: the CLI's --preset and --version flags are taken), `parts`
 * (a custom list of names from AUTOATTACK_PARTS, replacing the preset's), `steps` (APGD and FAB
 * iterations, 100), `queries` (Square, 5000), `nTargetClasses` 9, `seed` 0. No `target`: AutoAttack
 * is untargeted. Input: images [N, H, W, C] in [0, 1] with int32 labels [N]. The result's
 * `options.summary` is a RobustBench-style {@link AutoAttackSummary} of this call; metrics, per
 * example: brokenBy = the 1-based stage that broke it, 0 where the clean image is already
 * misclassified, NaN where it stayed robust; `robustAfter:NAME` = 1 where it is still robust after
 * stage NAME, else 0 (their means over a whole evaluation are the per-stage robust accuracies,
 * {@link autoAttackRowSummary}); zeroGradient = 1 where a gradient attack saw a zero gradient.
 *
 *   const r = autoattack(model, batch, { eps: 0.3, aaPreset: 'standard' });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackOptions } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import type { RobustRow } from '../metrics/robustTypes.ts';
import { apgdCeAttack, apgdDlrAttack, apgdTAttack } from './apgd.ts';
import { squareAttack } from './square.ts';
import { fabAttack, fabTAttack } from './fab.ts';
import { COMMON_SPECS, defineAttack, type AttackRecord } from './record.ts';
import { refused, type OptionSpecs, type Resolved } from '../options.ts';
import { UserError } from '../errors.ts';

/** AutoAttack's presets: `standard` (APGD-CE, APGD-T, FAB-T, Square), `plus` (more restarts and parts) and `rand` (APGD with EOT, for randomised models). */
export type AutoAttackPreset = 'standard' | 'plus' | 'rand';
/** @deprecated The reference calls presets versions; read {@link AutoAttackPreset}. */
export type AutoAttackVersion = AutoAttackPreset;

/** Options of the ensemble (see the header for defaults). */
export interface AutoAttackOptions {
  eps: number;
  norm?: 'linf' | 'l2';
  aaPreset?: AutoAttackPreset;
  /** A custom sequence of attacks (names of AUTOATTACK_PARTS), replacing the preset's. */
  parts?: string[];
  /** APGD and FAB iterations (100). */
  steps?: number;
  /** Square's query budget (5000). */
  queries?: number;
  /** Target classes of apgd-t and fab-t (9). */
  nTargetClasses?: number;
  seed?: number;
  /** Refused: AutoAttack is untargeted. */
  target?: never;
}

/** A record as a function of one shared options object (each part reads its own options). */
function part<O extends object>(r: AttackRecord<O>): Attack {
  return (model, batch, o) => r.run(model, batch, o as unknown as O);
}

/** The attacks AutoAttack can run, by the reference's names. */
export const AUTOATTACK_PARTS: Record<string, Attack> = {
  'apgd-ce': part(apgdCeAttack),
  'apgd-dlr': part(apgdDlrAttack),
  'apgd-t': part(apgdTAttack),
  'fab-t': part(fabTAttack),
  fab: part(fabAttack),
  square: part(squareAttack),
};

const PART_NAMES = Object.keys(AUTOATTACK_PARTS);

/** AutoAttack's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const AUTOATTACK_OPTIONS = {
  eps: COMMON_SPECS.eps,
  norm: {
    ...COMMON_SPECS.norm,
    doc: 'norm of the ball; l2 only with APGD and square parts (fab is linf only here)',
  },
  aaPreset: {
    type: 'choice',
    choices: ['standard', 'plus', 'rand'],
    default: 'standard',
    doc: "the reference's attack lists (its `version`): standard, plus or rand",
  },
  parts: {
    type: 'value',
    expects: `a list of distinct names from ${PART_NAMES.join(', ')}`,
    check: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      new Set(v).size === v.length &&
      v.every((a) => typeof a === 'string' && PART_NAMES.includes(a)),
    parse: (t) =>
      t
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    doc: "run these attacks in order instead of the preset's",
    metavar: 'list',
  },
  steps: { ...COMMON_SPECS.steps, default: 100, doc: 'iterations of the APGD and FAB parts' },
  queries: {
    type: 'number',
    integer: true,
    min: 0,
    default: 5000,
    doc: 'model queries of the square part',
    metavar: 'n',
  },
  nTargetClasses: {
    type: 'number',
    integer: true,
    min: 1,
    default: 9,
    doc: 'target classes of the apgd-t and fab-t parts',
    metavar: 'n',
  },
  seed: { ...COMMON_SPECS.seed, doc: 'seed given to every part, as the reference does' },
  target: refused('autoattack is untargeted'),
} satisfies OptionSpecs<AutoAttackOptions>;

/** The registry's facts about `autoattack`. */
export const AUTOATTACK_FACTS = {
  norm: 'linf',
  iterative: true,
  targeted: false,
  exampleEps: '0.3',
} as const;

/** One stage of a version: an attack and its settings beyond eps, norm and seed. */
export interface AutoAttackStage {
  name: string;
  options: Record<string, unknown>;
}

/** Each preset's stages, as the reference's set_version (restarts = its n_restarts - 1). */
export function autoAttackStages(
  version: AutoAttackPreset,
  o: Pick<AutoAttackOptions, 'steps' | 'nTargetClasses' | 'queries'> = {},
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
      throw new UserError(`unknown AutoAttack preset '${version as string}'; use standard, plus or rand`);
  }
}

/** RobustBench-style summary of one AutoAttack evaluation. */
export interface AutoAttackSummary {
  preset: AutoAttackPreset | 'custom';
  eps: number;
  norm: 'linf' | 'l2';
  examples: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Per stage, in order: how many points it broke, the robust accuracy after it, its seconds (per call only). */
  stages: { attack: string; broken: number; robustAccuracyAfter: number; seconds?: number }[];
  /** AutoAttack's flags (zero gradients, Square stronger than the white-box attacks, randomness, softmax outputs). */
  warnings: string[];
}

function maxNorm(d: Float32Array, per: number, i: number, norm: 'linf' | 'l2'): number {
  let m = 0;
  for (let q = i * per; q < (i + 1) * per; q++)
    m = norm === 'linf' ? Math.max(m, Math.abs(d[q])) : m + d[q] * d[q];
  return norm === 'linf' ? m : Math.sqrt(m);
}

function runAutoAttack(
  model: Classifier,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  o: Resolved<AutoAttackOptions, typeof AUTOATTACK_OPTIONS>,
) {
  const { norm, seed } = o;
  const version = o.aaPreset;
  const stages = o.parts
    ? o.parts.map((a) =>
        [...autoAttackStages('plus', o), ...autoAttackStages('standard', o)].find((s) => s.name === a)!,
      )
    : autoAttackStages(version, o);
  if (norm === 'l2') {
    const bad = stages.filter((s) => !s.name.startsWith('apgd') && s.name !== 'square').map((s) => s.name);
    if (bad.length)
      throw new UserError(
        `attack 'autoattack': ${bad.join(', ')} support linf only here; use norm linf or parts apgd-ce, apgd-dlr, apgd-t, square`,
      );
  }
  const x = batch.x;
  const n = x.shape[0];
  const per = x.size / n;
  const y = Array.from(batch.y.dataSync());
  const xs = x.dataSync() as Float32Array;
  const out = Float32Array.from(xs);
  const warnings: string[] = [];
  const zeroGradient = new Array<number>(n).fill(0);
  const robustAfter: Record<string, number[]> = {};

  // The reference's checks on the model: randomness, softmax outputs.
  const [z1, z2] = tf.tidy(() => [model.logits(x).arraySync(), model.logits(x).arraySync()]);
  if (
    version !== 'rand' &&
    z1.some((r, i) => r.some((v, k) => Math.abs(v - z2[i][k]) > 1e-4 * (Math.abs(v) + 1)))
  )
    warnings.push(
      'the model gives different outputs for the same input: it seems randomised; use aaPreset rand',
    );
  if (
    z1.length > 0 &&
    z1.every(
      (r) => r.every((v) => v > -1e-5 && v < 1 + 1e-5) && Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-5,
    )
  )
    warnings.push('the outputs look like probabilities (they sum to one): the attacks need logits');
  const modelWarnings = warnings.slice();

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
      zero?.forEach((v, j) => v === 1 && (zeroGradient[idx[j]] = 1));
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
    robustAfter[`robustAfter:${stage.name}`] = brokenBy.map((v) => (Number.isNaN(v) ? 1 : 0));
    report.push({
      attack: stage.name,
      broken,
      robustAccuracyAfter: brokenBy.filter((v) => Number.isNaN(v)).length / n,
      seconds: (Date.now() - t0) / 1000,
    });
  });
  warnings.push(...squareWarning(report));
  const robustAccuracy = brokenBy.filter((v) => Number.isNaN(v)).length / n;
  const summary: AutoAttackSummary = {
    preset: o.parts ? 'custom' : version,
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
      aaPreset: summary.preset,
      parts: stages.map((s) => s.name),
      stages,
      seed,
      steps: o.steps,
      queries: o.queries,
      nTargetClasses: o.nTargetClasses,
      summary,
      modelWarnings,
    },
    metrics: { brokenBy, ...robustAfter, zeroGradient },
  };
}

/** AutoAttack (Croce & Hein, ICML 2020) as a registry record: its function, option specs and facts. */
export const autoattackAttack = defineAttack<AutoAttackOptions, typeof AUTOATTACK_OPTIONS>({
  name: 'autoattack',
  summary:
    'AutoAttack (Croce and Hein, ICML 2020): apgd-ce, apgd-t, fab-t and square in turn, worst case per example',
  options: AUTOATTACK_OPTIONS,
  facts: AUTOATTACK_FACTS,
  attack: runAutoAttack,
});

/** AutoAttack (see the file's header); validates its options (a UserError naming a bad one). */
export const autoattack = autoattackAttack.run;

/**
 * The RobustBench-style summary of a whole evaluation's autoattack row (its batches merged): the
 * per-stage robust accuracies are the means of the `robustAfter:NAME` metrics over every example,
 * the zero-gradient count their sum; the model-level flags (randomness, softmax outputs) are those
 * the first batch raised. `cleanAccuracy` is the evaluation's.
 */
export function autoAttackRowSummary(row: RobustRow, cleanAccuracy: number): AutoAttackSummary {
  const o = row.options;
  const names = (o.parts as string[] | undefined) ?? [];
  const n = row.examples;
  let left = Math.round(cleanAccuracy * n);
  const stages = names.map((attack) => {
    const after = row.metrics?.[`robustAfter:${attack}`]?.mean ?? NaN;
    const kept = Math.round(after * n);
    const broken = left - kept;
    left = kept;
    return { attack, broken, robustAccuracyAfter: after };
  });
  const warnings = [...((o.modelWarnings as string[] | undefined) ?? [])];
  const zero = row.metrics?.zeroGradient;
  if (zero && zero.mean > 0)
    warnings.push(
      `${Math.round(zero.mean * zero.examples)} point(s) with zero gradient; gradient-based attacks may be unreliable there`,
    );
  warnings.push(...squareWarning(stages));
  return {
    preset: (o.aaPreset as AutoAttackSummary['preset']) ?? 'custom',
    eps: row.eps,
    norm: (o.norm as 'linf' | 'l2') ?? 'linf',
    examples: n,
    cleanAccuracy,
    robustAccuracy: row.accuracy,
    stages,
    warnings,
  };
}

/** The reference's check_square_sr: Square breaking more than the white-box attacks hints at masking. */
function squareWarning(stages: AutoAttackSummary['stages']): string[] {
  const sq = stages.findIndex((s) => s.attack === 'square');
  if (sq <= 0) return [];
  const before = stages[sq - 1].robustAccuracyAfter;
  const after = stages[sq].robustAccuracyAfter;
  return after < before - 0.002
    ? [
        `square lowered the robust accuracy by ${((before - after) * 100).toFixed(2)} points after the gradient attacks: the model may mask gradients`,
      ]
    : [];
}
