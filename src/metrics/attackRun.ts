/**
 * One attack run of a robustness evaluation (an attack at one budget over the first `n` examples) and
 * its batches: batch b attacks examples b*bs .. with the seed `seed + 1000003 b`, so batches are
 * independent and may run anywhere, in any order.
 */
import type { AttackOptions } from '../attacks/index.ts';
import { batchIndices } from '../data/dataset.ts';
import type { AttackItem } from './attackBatch.ts';

/** One attack run: an attack at one budget over the first `n` examples, with extra options. */
export interface RunSpec {
  name: string;
  eps: number;
  n: number;
  extra: Partial<AttackOptions>;
  /** Keep the images of the examples below this index (0: none). */
  keep: number;
}

/** A {@link RunSpec} of attack `name` at budget `eps` over the first `n` examples. */
export const runSpec = (
  name: string,
  eps: number,
  n: number,
  extra: Partial<AttackOptions> = {},
  keep = 0,
): RunSpec => ({ name, eps, n, extra, keep });

/** A key identifying a run (attack, budget, examples, extra options). */
export const runKey = (s: RunSpec): string => JSON.stringify([s.name, s.eps, s.n, s.extra]);

/** The seed of batch `b` of a run whose options have seed `seed`: `seed + 1000003 b`. */
export const batchSeed = (seed: number, b: number): number => seed + 1000003 * b;

/**
 * The batches of run `s` as {@link AttackItem}s of `batchSize` examples: the common options, the
 * run's extras, its eps and each batch's own seed.
 */
export function runItems(s: RunSpec, common: Omit<AttackOptions, 'eps'>, batchSize: number): AttackItem[] {
  return batchIndices(s.n, batchSize).map((idx, b) => ({
    attack: s.name,
    options: { ...common, ...s.extra, eps: s.eps, seed: batchSeed(common.seed ?? 0, b) },
    start: idx[0],
    count: idx.length,
    keepBelow: s.keep,
  }));
}
