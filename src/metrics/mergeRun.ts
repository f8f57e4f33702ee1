/**
 * A run's batch outcomes merged, in batch order, into counts and sums over its examples (correct,
 * successes, perturbation norms, the attack's measurements) and the example images it kept.
 */
import type { AttackBatchOut, AttackItem } from './attackBatch.ts';
import type { RunSpec } from './attackRun.ts';
import type { RobustExample } from './robustTypes.ts';

/** A run's outcome, merged from its batches in batch order. */
export interface RunOut {
  /** Sum and count of each per-example measurement, over the examples where it is defined (not NaN). */
  metricSums: Record<string, { sum: number; n: number }>;
  correct: number;
  /** Successful examples among the `successOf` that count (all when targeted, else the clean-correct). */
  success: number;
  successOf: number;
  /** Sums of the per-example norms of x' - x. */
  linf: number;
  l2: number;
  l1: number;
  /** The attack's options with defaults filled in, from the first batch. */
  options: Record<string, unknown>;
  /** Prediction of each of the run's examples under the attack. */
  predictions: Int32Array;
  seconds: number;
  /** The images the run kept (its `keep` first examples). */
  examples: RobustExample[];
}

/** What merging needs of the evaluation: true labels, clean predictions, and whether attacks are targeted. */
export interface MergeContext {
  labels: Int32Array;
  clean: Int32Array;
  targeted: boolean;
}

/** Merges the outcomes `outs` of run `s`'s batches `items` (the same order) into one {@link RunOut}. */
export function mergeRun(s: RunSpec, items: AttackItem[], outs: AttackBatchOut[], ctx: MergeContext): RunOut {
  const { labels, clean, targeted } = ctx;
  const out: RunOut = {
    correct: 0,
    success: 0,
    successOf: 0,
    linf: 0,
    l2: 0,
    l1: 0,
    options: {},
    predictions: new Int32Array(s.n),
    metricSums: {},
    seconds: 0,
    examples: [],
  };
  items.forEach((item, b) => {
    const r = outs[b];
    if (b === 0) out.options = r.options;
    for (const [k, vs] of Object.entries(r.metrics)) {
      const acc = (out.metricSums[k] ??= { sum: 0, n: 0 });
      for (const v of vs) if (!Number.isNaN(v)) ((acc.sum += v), acc.n++);
    }
    for (let i = 0; i < item.count; i++) {
      const j = item.start + i;
      out.predictions[j] = r.predictions[i];
      if (r.predictions[i] === labels[j]) out.correct++;
      if (targeted || clean[j] === labels[j]) {
        out.successOf++;
        if (r.success[i]) out.success++;
      }
      out.linf += r.linf[i];
      out.l2 += r.l2[i];
      out.l1 += r.l1[i];
    }
    r.kept.forEach((k, i) => {
      const j = item.start + i;
      out.examples.push({
        attack: s.name,
        eps: s.eps,
        index: j,
        label: labels[j],
        cleanPrediction: clean[j],
        prediction: r.predictions[i],
        image: k.image,
        delta: k.delta,
      });
    });
    out.seconds += r.seconds;
  });
  return out;
}
