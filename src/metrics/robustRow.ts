/**
 * A merged run as a row of the robustness table: accuracy = correct / n, success rate = successes /
 * examples that count, mean norms = sums / n, and the mean of each measurement over where it is defined.
 */
import type { RunSpec } from './attackRun.ts';
import type { RunOut } from './mergeRun.ts';
import type { RobustRow } from './robustTypes.ts';

/** The {@link RobustRow} of run `s` (over all `s.n` examples) from its merged outcome `r`. */
export function robustRow(s: RunSpec, r: RunOut): RobustRow {
  const n = s.n;
  const metrics = Object.entries(r.metricSums).map(([k, v]) => [
    k,
    { mean: v.n ? v.sum / v.n : NaN, examples: v.n },
  ]);
  return {
    attack: s.name,
    eps: s.eps,
    examples: n,
    correct: r.correct,
    accuracy: r.correct / n,
    successRate: r.successOf ? r.success / r.successOf : NaN,
    meanLinf: r.linf / n,
    meanL2: r.l2 / n,
    meanL1: r.l1 / n,
    seconds: r.seconds,
    options: r.options,
    ...(metrics.length ? { metrics: Object.fromEntries(metrics) } : {}),
  };
}
