/**
 * The extra measurements Table 1's sanity checks need beside a member's PGD-200 numbers, the same
 * checks `advlens eval` runs (Carlini et al., "On Evaluating Adversarial Robustness", 2019;
 * src/metrics/sanity.ts): at each budget, the accuracy under FGSM (one signed gradient step of eps,
 * which PGD must not be weaker than) and under random L-inf noise of size eps (random signs, which PGD
 * must beat), both on every image of the table; and once per member, the accuracy under the same PGD
 * at a budget that reaches every image (eps 1, step 2.5 / steps, no random start) on the first
 * `unboundedExamples` images, which must be near 0. FGSM and noise cost one pass each per budget;
 * the unbounded run costs a PGD-200 run on fewer images. No Node imports; leaves no tensors behind.
 *
 *   const m = await measureSanity(model, data, { eps: [0.1, 0.3], attack: PGD200, unbounded: true });
 *   m.fgsm; m.noise; m.unbounded!.accuracy; // [0.7, 0.1], [0.98, 0.95], 0
 */
import type { Classifier } from '../models/classifier.ts';
import { take, type Dataset } from '../data/dataset.ts';
import { robustnessAsync, type AttackRunner } from '../metrics/robustness.ts';
import { evaluate } from '../metrics/accuracy.ts';
import { noiseAccuracy } from '../metrics/noiseAccuracy.ts';
import { UserError } from '../errors.ts';
import type { RobustAttackSettings } from './robustRecord.ts';

/** What the extra runs are measured with (recorded; a record is reused only for the same settings). */
export interface SanitySettings {
  /** The single-step attack PGD is compared with. */
  singleStep: 'fgsm';
  /** Random noise: eps times random signs (L-inf), clipped to [0, 1]. */
  noise: 'linf-sign';
  /** Seed of the noise (batch b of `batchSize` images draws its own from it). */
  seed: number;
  /** Images per pass (the noise of an image depends on it). */
  batchSize: number;
  /** Images the unbounded run attacks (the first of the set; fewer when the set is smaller). */
  unboundedExamples: number;
}

/** The default settings: FGSM, sign noise of seed 0, 100 images per pass, 200 images for the unbounded run (as eval). */
export const SANITY_DEFAULTS: Readonly<SanitySettings> = {
  singleStep: 'fgsm',
  noise: 'linf-sign',
  seed: 0,
  batchSize: 100,
  unboundedExamples: 200,
};

/** The unbounded run's budget and step for `attack`: eps 1 reaches any image in [0, 1]; step 2.5 / steps. */
export function unboundedAttack(attack: RobustAttackSettings): { eps: number; stepSize: number } {
  return { eps: 1, stepSize: 2.5 / Math.max(1, attack.steps) };
}

/** The outcome of the unbounded run. */
export interface UnboundedMeasurement {
  eps: number;
  steps: number;
  stepSize: number;
  /** Images attacked (the first of the set). */
  examples: number;
  accuracy: number;
  seconds: number;
}

/** The extra measurements of one member. */
export interface SanityMeasurement {
  /** Clean accuracy on the set (identifies the weights). */
  accuracy: number;
  examples: number;
  /** Budgets measured (> 0, increasing) and the accuracy under FGSM and noise at each. */
  eps: number[];
  fgsm: number[];
  noise: number[];
  /** FGSM's options with defaults filled in (empty when no budget was measured). */
  fgsmOptions: Record<string, unknown>;
  unbounded: UnboundedMeasurement | null;
  /** Seconds of the FGSM and noise runs (the unbounded run counts its own). */
  seconds: number;
}

/** Options of {@link measureSanity}. */
export interface MeasureSanityOptions {
  /** Budgets > 0 to measure FGSM and noise at (may be empty). */
  eps: number[];
  /** The attack whose numbers are checked (its steps and loss make the unbounded run). */
  attack: RobustAttackSettings;
  /** Run the unbounded check. */
  unbounded: boolean;
  settings?: SanitySettings;
  runner?: AttackRunner;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** FGSM and noise at each budget of `o.eps` on all of `data`, and the unbounded run when asked (see the file's comment). */
export async function measureSanity(
  model: Classifier,
  data: Dataset,
  o: MeasureSanityOptions,
): Promise<SanityMeasurement> {
  const s = o.settings ?? SANITY_DEFAULTS;
  for (const e of o.eps)
    if (!Number.isFinite(e) || e <= 0) throw new UserError(`a sanity budget must be a number > 0 (got ${e})`);
  const eps = [...o.eps].sort((a, b) => a - b);
  const t0 = performance.now();
  let accuracy: number | null = null;
  let fgsm: number[] = [];
  let fgsmOptions: Record<string, unknown> = {};
  if (eps.length) {
    const r = await robustnessAsync(model, data, {
      attacks: [s.singleStep],
      eps,
      attack: { loss: o.attack.loss },
      batchSize: s.batchSize,
      sanity: false,
      runner: o.runner,
      onProgress: (d, t) => o.onProgress?.(d, t, 'fgsm'),
    });
    accuracy = r.clean.accuracy;
    fgsm = eps.map((e) => r.rows.find((row) => row.eps === e)!.accuracy);
    fgsmOptions = r.rows[0].options;
  }
  const noise = eps.map((e, i) => {
    o.onProgress?.(i, eps.length, 'noise');
    return noiseAccuracy(model, data, e, 'linf', s.batchSize, s.seed);
  });
  const seconds = (performance.now() - t0) / 1000;
  let unbounded: UnboundedMeasurement | null = null;
  if (o.unbounded) {
    const t1 = performance.now();
    const few = take(data, Math.min(s.unboundedExamples, data.size));
    const { eps: big, stepSize } = unboundedAttack(o.attack);
    const r = await robustnessAsync(model, few, {
      attacks: [o.attack.name],
      eps: [big],
      attack: { steps: o.attack.steps, stepSize, randomStart: false, loss: o.attack.loss },
      batchSize: s.batchSize,
      sanity: false,
      runner: o.runner,
      onProgress: (d, t) => o.onProgress?.(d, t, 'unbounded'),
    });
    unbounded = {
      eps: big,
      steps: o.attack.steps,
      stepSize,
      examples: few.size,
      accuracy: r.rows[0].accuracy,
      seconds: (performance.now() - t1) / 1000,
    };
  }
  return {
    accuracy: accuracy ?? evaluate(model, data, { batchSize: s.batchSize }).accuracy,
    examples: data.size,
    eps,
    fgsm,
    noise,
    fgsmOptions,
    unbounded,
    seconds,
  };
}
