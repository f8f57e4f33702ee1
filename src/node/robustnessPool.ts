/**
 * {@link robustnessAsync} with its attack batches on a pool of worker threads, each loading the
 * model from its folder; batches are independent (each has its own seed) and merged in order, so
 * any number of workers gives the result of one.
 */
import type { Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import {
  localAttackRunner,
  robustnessAsync,
  type RobustnessOptions,
  type RobustnessResult,
} from '../metrics/robustness.ts';
import { checkWorkers, withPool, type WorkerPool } from './pool.ts';
import type { AttackRunner } from '../metrics/robustTypes.ts';
import { poolAttackRunner, type ModelSource } from './poolWorkerTasks.ts';
import { journalRunner, type JournalOptions } from './batchJournal.ts';

/** Options of {@link robustnessOnPool}. */
export interface RobustnessPoolOptions extends RobustnessOptions {
  /** Where the workers load the model from. */
  source: ModelSource;
  /** Worker threads (default: the number of cores), at most `maxWorkers`; 1 runs in this thread. */
  workers?: number;
  /** No more threads than there are batches to attack (the caller knows how many). */
  maxWorkers?: number;
  /**
   * Keep each batch's outcome in this journal as it finishes and answer batches already there
   * (node/batchJournal.ts): a run stopped part way resumes, with the numbers of an uninterrupted one.
   */
  journal?: Omit<JournalOptions, 'model' | 'concurrency'>;
}

/** Runs the robustness evaluation on a pool; answers its result and the number of workers used. */
export async function robustnessOnPool(
  model: Classifier,
  data: Dataset,
  o: RobustnessPoolOptions,
): Promise<{ result: RobustnessResult; workers: number }> {
  const { source, workers: asked, maxWorkers, journal, ...options } = o;
  const workers = Math.max(1, Math.min(checkWorkers(asked), maxWorkers ?? Infinity));
  const result = await withPool(workers, async (pool) =>
    robustnessAsync(model, data, { ...options, runner: await attackRunnerFor(model, pool, source, journal) }),
  );
  return { result, workers };
}

/**
 * The runner of a robustness evaluation: on `pool` (each worker loading the model from `source`) or,
 * without one, in this thread; with `journal`, each batch kept there as it finishes and read back on
 * a later run (node/batchJournal.ts), as many at once as the pool runs.
 */
export async function attackRunnerFor(
  model: Classifier,
  pool: WorkerPool | null,
  source: ModelSource,
  journal?: Omit<JournalOptions, 'model' | 'concurrency'>,
): Promise<AttackRunner> {
  const inner = pool ? poolAttackRunner(pool, source) : localAttackRunner(model);
  return journal
    ? journalRunner(inner, { ...journal, model: source.dir, concurrency: pool ? 2 * pool.size : 1 })
    : inner;
}
