/**
 * Runs a sweep plan: for each model, one robustness evaluation per group of attacks that share
 * options ({@link sweepGroups}), all at once, their attack batches (the sweep's jobs, one per model,
 * attack, eps and shard) handed to each model's runner: in process, a worker pool, or a distributed
 * queue. Each evaluation is `robustnessAsync`, which merges batches in batch order, so the numbers are
 * a local `robustness()` run's whatever runs the jobs. No Node imports (browser-ready).
 */
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { robustnessAsync } from '../metrics/robustness.ts';
import type { AttackRunner, RobustRow, SanityCheck } from '../metrics/robustTypes.ts';
import { sweepGroups, type SweepPlan } from './plan.ts';

/** One model of a sweep, ready to evaluate: the classifier, its data, and who runs its jobs. */
export interface SweepTarget {
  model: Classifier;
  data: Dataset;
  /** Runs the model's attack batches (default: in this thread). */
  runner?: AttackRunner;
  /** What the result records about the model (path, card, weights hash, ...). */
  info: Record<string, unknown>;
}

/** The sweep's outcome for one model: clean accuracy, a row per (attack, eps), the sanity checks. */
export interface SweepModelResult {
  model: Record<string, unknown>;
  data: { spec: string; source: string; examples: number; limit: number | null };
  clean: { accuracy: number; correct: number; examples: number };
  /** Rows in the plan's attack order, each attack's budgets ascending. */
  rows: RobustRow[];
  checks: SanityCheck[];
  /** The failed checks, one line each. */
  warnings: string[];
}

/**
 * Evaluates every target under the plan; `onProgress` gets the whole sweep's progress in examples
 * attacked (all models and groups together) and what was done last.
 */
export async function runSweep(
  plan: SweepPlan,
  targets: SweepTarget[],
  onProgress?: (done: number, total: number, what: string) => void,
): Promise<SweepModelResult[]> {
  const groups = sweepGroups(plan);
  const state = new Map<string, { done: number; total: number }>();
  const report = (key: string, done: number, total: number, what: string) => {
    state.set(key, { done, total });
    let d = 0;
    let t = 0;
    for (const s of state.values()) ((d += s.done), (t += s.total));
    onProgress?.(d, t, what);
  };
  return Promise.all(
    targets.map(async (t, m) => {
      const outs = await Promise.all(
        groups.map((g, k) =>
          robustnessAsync(t.model, t.data, {
            attacks: g.attacks,
            eps: plan.eps,
            attack: g.options,
            batchSize: plan.shardSize,
            sanity: plan.sanity,
            sanityExamples: plan.sanityExamples,
            runner: t.runner,
            onProgress: (done, total, what) =>
              report(`${m}/${k}`, done, total, `${t.model.card.name}: ${what}`),
          }),
        ),
      );
      // Rows in the plan's attack order (a group holds attacks from anywhere in the plan); an
      // attack listed twice with the same options was evaluated once and is shown once.
      const seen = new Set<RobustRow>();
      const rows = plan.attacks.flatMap((a, i) => {
        const k = groups.findIndex((g) => g.members.includes(i));
        return outs[k].rows.filter((r) => r.attack === a.name && !seen.has(r) && seen.add(r));
      });
      const checks = outs.flatMap((o) => o.checks);
      const c = outs[0].clean;
      return {
        model: t.info,
        data: {
          spec: plan.data.spec,
          source: t.data.source,
          examples: t.data.size,
          limit: plan.data.limit ?? null,
        },
        clean: { accuracy: c.accuracy, correct: c.correct, examples: c.examples },
        rows,
        checks,
        warnings: checks.filter((x) => !x.passed).map((x) => `${x.attack}: ${x.name}: ${x.detail}`),
      };
    }),
  );
}
