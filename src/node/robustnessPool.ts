/**
 * {@link robustnessAsync} with its attack batches on a pool of worker threads, each loading the
 * model from its folder; batches are independent (each has its own seed) and merged in order, so
 * any number of workers gives the result of one.
 */
import type { Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import { robustnessAsync, type RobustnessOptions, type RobustnessResult } from '../metrics/robustness.ts';
import { checkWorkers, withPool } from './pool.ts';
import { poolAttackRunner, type ModelSource } from './poolWorkerTasks.ts';

/** Options of {@link robustnessOnPool}. */
export interface RobustnessPoolOptions extends RobustnessOptions {
  /** Where the workers load the model from. */
  source: ModelSource;
  /** Worker threads (default: the number of cores), at most `maxWorkers`; 1 runs in this thread. */
  workers?: number;
  /** No more threads than there are batches to attack (the caller knows how many). */
  maxWorkers?: number;
}

/** Runs the robustness evaluation on a pool; answers its result and the number of workers used. */
export async function robustnessOnPool(
  model: Classifier,
  data: Dataset,
  o: RobustnessPoolOptions,
): Promise<{ result: RobustnessResult; workers: number }> {
  const { source, workers: asked, maxWorkers, ...options } = o;
  const workers = Math.max(1, Math.min(checkWorkers(asked), maxWorkers ?? Infinity));
  const result = await withPool(workers, (pool) =>
    robustnessAsync(model, data, {
      ...options,
      runner: pool ? poolAttackRunner(pool, source) : undefined,
    }),
  );
  return { result, workers };
}
