/** Progress of a robustness evaluation, in examples attacked (attack runs dominate the time). */
import type { AttackItem } from './attackBatch.ts';
import { fmt } from './format.ts';

/** Progress in examples attacked; the plan sets the total, whoever runs an item ticks it. */
export interface Progress {
  total: number;
  tick(n: number, what: string): void;
}

/** A {@link Progress} that reports each tick's running count to `onProgress`. */
export function progressOf(onProgress?: (done: number, total: number, what: string) => void): Progress {
  let done = 0;
  const p: Progress = {
    total: 0,
    tick: (n, what) => {
      done += n;
      onProgress?.(done, p.total, what);
    },
  };
  return p;
}

/** What progress shows while `it` runs: "pgd-linf eps 0.3". */
export const itemLabel = (it: AttackItem): string => `${it.attack} eps ${fmt(it.options.eps)}`;
