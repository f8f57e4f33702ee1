/**
 * {@link explainSet} on a pool of worker threads: items spread over the workers (the maps do not
 * depend on how many), passes submitted ahead to keep them busy, and, when there are fewer items
 * than workers (one photo, say), SmoothGrad's and IG's samples split instead.
 */
import { sampleCount } from '../explain/index.ts';
import {
  explainSet,
  IMAGES_PER_PASS,
  type ExplainSetOptions,
  type ExplainSetResult,
} from '../explain/explainSet.ts';
import { localExplainRunner, splitSamplesRunner } from '../explain/runner.ts';
import { checkWorkers, withPool } from './pool.ts';
import { poolExplainRunner, type ModelSource } from './poolWorkerTasks.ts';

/** Options of {@link explainSetOnPool}: those of {@link explainSet} without the runner. */
export interface ExplainPoolOptions extends Omit<ExplainSetOptions, 'runner' | 'lookahead'> {
  /** Where the workers load each model from (parallel to `models`). */
  sources: ModelSource[];
  /** Worker threads (default: the number of cores; 1 runs in this thread). */
  workers?: number;
}

/** Runs {@link explainSet} on a pool; answers its result and the number of workers used. */
export async function explainSetOnPool(
  o: ExplainPoolOptions,
): Promise<ExplainSetResult & { workers: number }> {
  const asked = checkWorkers(o.workers);
  const items = Math.ceil(o.data.size / IMAGES_PER_PASS) * o.models.length * o.methods.length;
  const split = items < asked && o.methods.some((m) => (sampleCount(m, o.options) ?? 0) > 1);
  const workers = split ? asked : Math.min(asked, items);
  const set = await withPool(workers, (pool) => {
    const one = pool ? poolExplainRunner(pool, o.sources, o.data) : localExplainRunner(o.models, o.data);
    return explainSet({
      ...o,
      runner: pool && split ? splitSamplesRunner(one, pool.size) : one,
      lookahead: pool ? pool.size : 0,
    });
  });
  return { ...set, workers };
}
