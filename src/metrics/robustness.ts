/**
 * Robust accuracy: a model's accuracy under one or more attacks at several budgets, with the norms of
 * the perturbations, example images, and the sanity checks of Carlini et al., "On Evaluating
 * Adversarial Robustness" (2019) run alongside (src/metrics/sanity.ts), so a broken attack or
 * gradient masking shows. A failed check is returned as a warning; it is never dropped. No Node
 * imports (browser-ready).
 *
 *   const r = robustness(model, data, { attacks: ['fgsm', 'pgd-linf'], eps: [0, 0.1, 0.3] });
 *   r.rows; // [{ attack: 'fgsm', eps: 0, accuracy: 0.985, ... }, ...]
 *   r.checks.filter((c) => !c.passed); // warnings
 *
 * The work is a plan (src/metrics/robustPlan.ts) of independent batches (batch b of a run has the
 * seed `seed + 1000003 b`): `robustness` runs them here, `robustnessAsync` hands them to a runner (a
 * pool of worker threads, src/node/poolWorkerTasks.ts) and merges them in batch order, so its result
 * is the same as `robustness`'s, timings aside.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { getBatch, type Batch, type Dataset } from '../data/dataset.ts';
import { attackBatch, type AttackBatchOut, type AttackItem } from './attackBatch.ts';
import { robustnessPlan, type RobustnessPlan } from './robustPlan.ts';
import { itemLabel, progressOf } from './robustProgress.ts';
import type { AttackRunner, RobustnessOptions, RobustnessResult } from './robustTypes.ts';

export { perturbationNorms, type Norms } from './attackBatch.ts';
export type { AttackItem, AttackBatchOut } from './attackBatch.ts';
export type {
  AttackRunner,
  RobustExample,
  RobustnessOptions,
  RobustnessResult,
  RobustRow,
  SanityCheck,
} from './robustTypes.ts';

/** The examples `item` attacks, as a batch the caller owns. */
export function itemBatch(data: Dataset, item: Pick<AttackItem, 'start' | 'count'>): Batch {
  return getBatch(
    data,
    Array.from({ length: item.count }, (_, i) => item.start + i),
  );
}

/** Runs one item in this thread; leaves no tensors behind. */
function runLocal(model: Classifier, data: Dataset, item: AttackItem): AttackBatchOut {
  const batch = itemBatch(data, item);
  try {
    return attackBatch(model, batch, item);
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
}

/** An {@link AttackRunner} that attacks in this thread, one item after another. */
export function localAttackRunner(model: Classifier): AttackRunner {
  return async (items, data, done) =>
    items.map((item) => {
      const out = runLocal(model, data, item);
      done(item);
      return out;
    });
}

/** Steps `plan` to its end, running each step's batches with `run`. */
function drive(plan: RobustnessPlan, run: (items: AttackItem[]) => AttackBatchOut[]): RobustnessResult {
  let step = plan.next();
  while (!step.done) step = plan.next(run(step.value));
  return step.value;
}

/**
 * Robust accuracy of `model` on `data` under each attack at each budget, with the sanity checks,
 * attacking batch after batch in this thread. Batch b of a run uses the seed `seed + 1000003 b`, so
 * batches are independent and {@link robustnessAsync} (in parallel) gives the same result.
 */
export function robustness(model: Classifier, data: Dataset, o: RobustnessOptions): RobustnessResult {
  const progress = progressOf(o.onProgress);
  return drive(robustnessPlan(model, data, o, progress), (items) =>
    items.map((item) => {
      const out = runLocal(model, data, item);
      progress.tick(item.count, itemLabel(item));
      return out;
    }),
  );
}

/**
 * {@link robustness} with the attack batches run by `runner` (for example on a pool of worker
 * threads: `poolAttackRunner` in src/node/poolWorkerTasks.ts); clean predictions, the noise check
 * and the merging stay in this thread. The batches are merged in batch order, so the result equals
 * {@link robustness}'s (timings aside) whatever runs them.
 */
export async function robustnessAsync(
  model: Classifier,
  data: Dataset,
  o: RobustnessOptions & { runner?: AttackRunner },
): Promise<RobustnessResult> {
  const progress = progressOf(o.onProgress);
  const runner = o.runner ?? localAttackRunner(model);
  const plan = robustnessPlan(model, data, o, progress);
  let step = plan.next();
  while (!step.done) {
    const items = step.value;
    const outs = await runner(items, data, (item) => progress.tick(item.count, itemLabel(item)));
    if (outs.length !== items.length)
      throw new Error(`the attack runner answered ${outs.length} of ${items.length} batches`);
    step = plan.next(outs);
  }
  return step.value;
}
