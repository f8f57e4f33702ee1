/**
 * Robust accuracy: a model's accuracy under one or more attacks at several budgets, with the norms of
 * the perturbations, example images, and the sanity checks of Carlini et al., "On Evaluating
 * Adversarial Robustness" (2019), run alongside so a broken attack or gradient masking shows:
 * 1. eps = 0 gives the clean accuracy;
 * 2. accuracy does not rise with eps;
 * 3. PGD (L-inf) is at least as strong as FGSM at the same eps;
 * 4. a budget that allows any image (L-inf 1, L2 the image diagonal) takes an iterative attack's
 *    accuracy to (near) zero (untargeted; skipped for single-step FGSM);
 * 5. random noise of the same norm is weaker than the attack.
 * A failed check is returned as a warning; it is never dropped. No Node imports (browser-ready).
 *
 *   const r = robustness(model, data, { attacks: ['fgsm', 'pgd-linf'], eps: [0, 0.1, 0.3] });
 *   r.rows; // [{ attack: 'fgsm', eps: 0, accuracy: 0.985, ... }, ...]
 *   r.checks.filter((c) => !c.passed); // warnings
 *
 * Batches are independent (batch b of a run has the seed `seed + 1000003 b`): `robustnessAsync`
 * hands them to a runner (a pool of worker threads, src/node/poolWorkerTasks.ts) and merges them in
 * batch order, so its result is the same as `robustness`'s, timings aside.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch, type Batch } from '../data/dataset.ts';
import { attackBatch, type AttackBatchOut, type AttackItem } from './attackBatch.ts';
import { attack as attackByName, type AttackOptions } from '../attacks/index.ts';
import { UserError } from '../errors.ts';
import {
  fmt,
  runKey,
  runSpec,
  sanityChecks,
  sanityExamples,
  sanityRuns,
  type RunOut,
  type RunSpec,
  type SanityInputs,
} from './sanity.ts';

export { perturbationNorms, type Norms } from './attackBatch.ts';
export type { AttackItem, AttackBatchOut } from './attackBatch.ts';

/** One attack at one budget. */
export interface RobustRow {
  attack: string;
  eps: number;
  examples: number;
  /** Examples still classified correctly under the attack. */
  correct: number;
  accuracy: number;
  /**
   * Untargeted: share of the clean-correct examples the attack turned wrong. Targeted: share of all
   * examples classified as their target.
   */
  successRate: number;
  meanLinf: number;
  meanL2: number;
  meanL1: number;
  /** Time spent attacking: the sum over the run's batches, on whichever thread ran them. */
  seconds: number;
  /** The attack's options with defaults filled in (from its first batch). */
  options: Record<string, unknown>;
  /**
   * Means of the per-example measurements the attack reports (AAI: kendallTau, topKOverlap,
   * kendallTauIG, predictionChanged), over the examples where they are defined; and for min-eps on a
   * model with CAM, the interpretation discrepancy D and proposition 1's bound (ALGORITHMS.md 3).
   */
  metrics?: Record<string, { mean: number; examples: number }>;
}

/** A sanity check's outcome; `passed: false` is a warning to show (gradient masking or a bug). */
export interface SanityCheck {
  name: string;
  attack: string;
  passed: boolean;
  detail: string;
}

/** Example images kept for a report: the first few of the set under each attack and budget. */
export interface RobustExample {
  attack: string;
  eps: number;
  index: number;
  label: number;
  cleanPrediction: number;
  prediction: number;
  /** Adversarial image [H, W, C] in [0, 1] and its perturbation x' - x. */
  image: Float32Array;
  delta: Float32Array;
}

export interface RobustnessOptions {
  attacks: string[];
  eps: number[];
  /** Options passed to every attack (eps excepted). */
  attack?: Omit<AttackOptions, 'eps'>;
  batchSize?: number;
  /** Run the sanity checks (default true). */
  sanity?: boolean;
  /** Examples the checks that need extra attack runs (1 and 4) use, from the start of the set (default 200). */
  sanityExamples?: number;
  /** Example images kept per attack and budget (default 0). */
  keepExamples?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface RobustnessResult {
  clean: { accuracy: number; correct: number; examples: number; predictions: Int32Array };
  rows: RobustRow[];
  checks: SanityCheck[];
  examples: RobustExample[];
}

/**
 * Runs lists of {@link AttackItem}s on `data` and answers their outcomes in the same order; calls
 * `done(item)` as each finishes (in any order). The default runs them in process, one after the
 * other; src/node/poolWorkerTasks.ts has one that spreads them over a worker pool.
 */
export type AttackRunner = (
  items: AttackItem[],
  data: Dataset,
  done: (item: AttackItem) => void,
) => Promise<AttackBatchOut[]>;

/** The examples `item` attacks, as a batch the caller owns. */
export function itemBatch(data: Dataset, item: Pick<AttackItem, 'start' | 'count'>): Batch {
  return getBatch(
    data,
    Array.from({ length: item.count }, (_, i) => item.start + i),
  );
}

/** Runs one item in this thread. */
function runLocal(model: Classifier, data: Dataset, item: AttackItem): AttackBatchOut {
  const batch = itemBatch(data, item);
  try {
    return attackBatch(model, batch, item);
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
}

/** Progress in examples attacked; the plan sets the total, whoever runs an item ticks it. */
interface Progress {
  total: number;
  tick(n: number, what: string): void;
}

function progressOf(o: RobustnessOptions): Progress {
  let done = 0;
  const p: Progress = {
    total: 0,
    tick: (n, what) => {
      done += n;
      o.onProgress?.(done, p.total, what);
    },
  };
  return p;
}

const itemLabel = (it: AttackItem) => `${it.attack} eps ${fmt(it.options.eps)}`;

/**
 * Robust accuracy of `model` on `data` under each attack at each budget, with the sanity checks,
 * attacking batch after batch in this thread. Batch b of a run uses the seed `seed + 1000003 b`, so
 * batches are independent and {@link robustnessAsync} (in parallel) gives the same result.
 */
export function robustness(model: Classifier, data: Dataset, o: RobustnessOptions): RobustnessResult {
  const progress = progressOf(o);
  const plan = robustnessPlan(model, data, o, progress);
  let step = plan.next();
  while (!step.done) {
    const outs = step.value.map((item) => {
      const out = runLocal(model, data, item);
      progress.tick(item.count, itemLabel(item));
      return out;
    });
    step = plan.next(outs);
  }
  return step.value;
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
  const progress = progressOf(o);
  const runner: AttackRunner =
    o.runner ??
    (async (items, d, done) =>
      items.map((item) => {
        const out = runLocal(model, d, item);
        done(item);
        return out;
      }));
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

/**
 * The evaluation as a plan: clean predictions here, then it yields the attack batches to run (all
 * runs of a phase at once, so a pool can spread them) and receives their outcomes in the same order,
 * merges them in batch order, and finally returns the result with the sanity checks.
 */
function* robustnessPlan(
  model: Classifier,
  data: Dataset,
  o: RobustnessOptions,
  progress: Progress,
): Generator<AttackItem[], RobustnessResult, AttackBatchOut[]> {
  if (data.classNames.length !== model.labels.length)
    throw new UserError(
      `the data has ${data.classNames.length} classes but the model predicts ${model.labels.length}; evaluate on the data the model was made for`,
    );
  if (o.attacks.length === 0) throw new UserError('no attack given');
  if (o.eps.length === 0) throw new UserError('no eps given');
  for (const name of o.attacks) attackByName(name); // unknown names fail before any work
  const bs = o.batchSize ?? 100;
  const sanity = o.sanity ?? true;
  const keep = Math.min(o.keepExamples ?? 0, data.size);
  const common = o.attack ?? {};
  const targeted = common.target !== undefined;
  const nSanity = Math.min(o.sanityExamples ?? 200, data.size);
  const eps = [...o.eps].sort((a, b) => a - b);

  // Progress in units of examples attacked (attack runs dominate the time).
  const pgdLinf = o.attacks.filter((a) => a === 'pgd' || a === 'pgd-linf');
  const extraFgsm = pgdLinf.length && !o.attacks.includes('fgsm') && sanity ? 1 : 0;
  const positive = eps.filter((e) => e > 0).length;
  progress.total =
    data.size * (1 + o.attacks.length * eps.length + extraFgsm * positive) +
    (sanity ? sanityExamples(o.attacks, eps, nSanity, targeted) : 0);

  // Clean predictions.
  const clean = new Int32Array(data.size);
  for (const idx of batchIndices(data.size, bs)) {
    const { x, y } = getBatch(data, idx);
    const p = tf.tidy(() => tf.argMax(model.logits(x), 1).dataSync());
    tf.dispose([x, y]);
    idx.forEach((j, i) => (clean[j] = p[i]));
    progress.tick(idx.length, 'clean');
  }
  const cleanCorrect = clean.reduce((s, p, i) => s + (p === data.labels[i] ? 1 : 0), 0);
  const examples: RobustExample[] = [];

  /** The batches of a run: batch b attacks examples b*bs .. with the seed seed + 1000003 b. */
  const itemsOf = (s: RunSpec): AttackItem[] =>
    batchIndices(s.n, bs).map((idx, b) => ({
      attack: s.name,
      options: { ...common, ...s.extra, eps: s.eps, seed: (common.seed ?? 0) + 1000003 * b },
      start: idx[0],
      count: idx.length,
      keepBelow: s.keep,
    }));
  /** Merges a run's batch outcomes, in batch order. */
  const merge = (s: RunSpec, items: AttackItem[], outs: AttackBatchOut[]): RunOut => {
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
        if (r.predictions[i] === data.labels[j]) out.correct++;
        if (targeted || clean[j] === data.labels[j]) {
          out.successOf++;
          if (r.success[i]) out.success++;
        }
        out.linf += r.linf[i];
        out.l2 += r.l2[i];
        out.l1 += r.l1[i];
      }
      r.kept.forEach((k, i) => {
        const j = item.start + i;
        examples.push({
          attack: s.name,
          eps: s.eps,
          index: j,
          label: data.labels[j],
          cleanPrediction: clean[j],
          prediction: r.predictions[i],
          image: k.image,
          delta: k.delta,
        });
      });
      out.seconds += r.seconds;
    });
    return out;
  };
  /** Yields the batches of all `specs` at once; returns their merged outcomes. */
  function* runAll(specs: RunSpec[]): Generator<AttackItem[], RunOut[], AttackBatchOut[]> {
    const items = specs.map(itemsOf);
    const flat = items.flat();
    if (flat.length === 0) return [];
    const outs = yield flat;
    let k = 0;
    return specs.map((s, i) => merge(s, items[i], outs.slice(k, (k += items[i].length))));
  }

  // Every attack at every budget.
  const results = new Map<string, RunOut>();
  const grid = o.attacks.flatMap((name) => eps.map((e) => runSpec(name, e, data.size, {}, keep)));
  (yield* runAll(grid)).forEach((r, i) => results.set(`${grid[i].name}@${grid[i].eps}`, r));
  const rows: RobustRow[] = grid.map((s) => {
    const r = results.get(`${s.name}@${s.eps}`)!;
    return {
      attack: s.name,
      eps: s.eps,
      examples: data.size,
      correct: r.correct,
      accuracy: r.correct / data.size,
      successRate: r.successOf ? r.success / r.successOf : NaN,
      meanLinf: r.linf / data.size,
      meanL2: r.l2 / data.size,
      meanL1: r.l1 / data.size,
      seconds: r.seconds,
      options: r.options,
      ...(Object.keys(r.metricSums).length
        ? {
            metrics: Object.fromEntries(
              Object.entries(r.metricSums).map(([k, v]) => [
                k,
                { mean: v.n ? v.sum / v.n : NaN, examples: v.n },
              ]),
            ),
          }
        : {}),
    };
  });

  const checks: SanityCheck[] = [];
  if (sanity) {
    const inputs: SanityInputs = {
      model,
      data,
      attacks: o.attacks,
      eps,
      common,
      targeted,
      nSanity,
      batchSize: bs,
      clean,
      rows,
      mainRun: (name, e) => results.get(`${name}@${e}`)!,
    };
    const specs = sanityRuns(inputs);
    (yield* runAll(specs)).forEach((r, i) => results.set(runKey(specs[i]), r));
    checks.push(...sanityChecks(inputs, (s) => results.get(runKey(s))!));
  }
  o.onProgress?.(progress.total, progress.total, 'done');
  return {
    clean: {
      accuracy: cleanCorrect / data.size,
      correct: cleanCorrect,
      examples: data.size,
      predictions: clean,
    },
    rows,
    checks,
    examples,
  };
}
