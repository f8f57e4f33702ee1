/**
 * Measures a zoo model's robust accuracy for Table 1 of Boopathy et al. (ICML 2020): accuracy under
 * L-inf PGD (Madry et al., ICLR 2018; by default 200 steps of 0.01 from x itself, cross-entropy) at
 * each budget, through {@link robustness} with its sanity checks off (the table is a measurement of
 * the zoo, not of the attack; `advlens eval --attack` runs them). eps 0 is the clean accuracy and
 * needs no attack. No Node imports.
 *
 *   const m = await measureRobust(model, data, { eps: [0, 0.1, 0.3] });
 *   m.robustAccuracy; // [0.985, 0.62, 0.01]
 */
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { evaluate } from '../metrics/accuracy.ts';
import { robustnessAsync, type AttackRunner } from '../metrics/robustness.ts';
import { UserError } from '../errors.ts';
import { PGD200, sameEps, type RobustAttackSettings } from './robustRecord.ts';

/** Options of a zoo measurement: the attack's budgets and steps, the data and the number of images. */
export interface MeasureOptions {
  /** Budgets (L-inf, pixels in [0, 1]); 0 is the clean accuracy. */
  eps: number[];
  /** The attack (default {@link PGD200}). */
  attack?: RobustAttackSettings;
  /** Images per pass (default 100). */
  batchSize?: number;
  onProgress?: (done: number, total: number, what: string) => void;
  /** Runs the attack's batches elsewhere (a worker pool: src/node/poolWorkerTasks.ts); default in process. */
  runner?: AttackRunner;
}

/** One member's measured robust accuracies per budget, with the provenance of the run. */
export interface Measurement {
  /** Clean accuracy on `data`. */
  accuracy: number;
  examples: number;
  /** The requested budgets, sorted, without repeats. */
  eps: number[];
  robustAccuracy: number[];
  seconds: number;
}

/** Accuracy of `model` on every image of `data`, clean and under the attack at each budget. */
export async function measureRobust(
  model: Classifier,
  data: Dataset,
  o: MeasureOptions,
): Promise<Measurement> {
  const a = o.attack ?? PGD200;
  if (o.eps.length === 0) throw new UserError('no eps given');
  for (const e of o.eps)
    if (!Number.isFinite(e) || e < 0) throw new UserError(`eps must be a number >= 0 (got ${e})`);
  const eps = [...o.eps].sort((x, y) => x - y).filter((e, i, s) => i === 0 || !sameEps(e, s[i - 1]));
  const positive = eps.filter((e) => !sameEps(e, 0));
  const t0 = performance.now();
  let accuracy: number;
  const robust = new Map<number, number>();
  if (positive.length === 0) {
    const ev = evaluate(model, data, {
      batchSize: o.batchSize ?? 100,
      onProgress: (d, t) => o.onProgress?.(d, t, 'clean'),
    });
    accuracy = ev.accuracy;
  } else {
    const r = await robustnessAsync(model, data, {
      attacks: [a.name],
      eps: positive,
      attack: { steps: a.steps, stepSize: a.stepSize, randomStart: a.randomStart, loss: a.loss },
      batchSize: o.batchSize ?? 100,
      sanity: false,
      onProgress: o.onProgress,
      runner: o.runner,
    });
    accuracy = r.clean.accuracy;
    for (const row of r.rows) robust.set(row.eps, row.accuracy);
  }
  return {
    accuracy,
    examples: data.size,
    eps,
    robustAccuracy: eps.map((e) => (sameEps(e, 0) ? accuracy : robust.get(e)!)),
    seconds: (performance.now() - t0) / 1000,
  };
}
