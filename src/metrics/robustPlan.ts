/**
 * A robustness evaluation as a plan: clean predictions here, then it yields the attack batches to
 * run (all runs of a phase at once, so a pool can spread them: first every attack at every budget,
 * then the sanity checks' extra runs), receives their outcomes in the same order, merges them in
 * batch order, and returns the result with the sanity checks.
 */
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { attack as attackByName, type AttackOptions } from '../attacks/index.ts';
import { UserError } from '../errors.ts';
import type { AttackBatchOut, AttackItem } from './attackBatch.ts';
import { runItems, runKey, runSpec, type RunSpec } from './attackRun.ts';
import { mergeRun, type MergeContext, type RunOut } from './mergeRun.ts';
import { robustRow } from './robustRow.ts';
import { cleanPredictions } from './cleanPredictions.ts';
import type { Progress } from './robustProgress.ts';
import { boundedNorm, sanityExamples, sanityRuns } from './sanityRuns.ts';
import { sanityChecks, type SanityInputs } from './sanity.ts';
import type { RobustnessOptions, RobustnessResult, SanityCheck } from './robustTypes.ts';

/** A plan's steps: it yields batches to run and is resumed with their outcomes, in the same order. */
export type RobustnessPlan = Generator<AttackItem[], RobustnessResult, AttackBatchOut[]>;

/** Fails with a {@link UserError} before any work when the options cannot be evaluated on `data`. */
function checkOptions(model: Classifier, data: Dataset, o: RobustnessOptions): void {
  if (data.classNames.length !== model.labels.length)
    throw new UserError(
      `the data has ${data.classNames.length} classes but the model predicts ${model.labels.length}; evaluate on the data the model was made for`,
    );
  if (o.attacks.length === 0) throw new UserError('no attack given');
  if (o.eps.length === 0) throw new UserError('no eps given');
  for (const name of o.attacks) attackByName(name); // unknown names fail before any work
}

/** Yields the batches of all `specs` at once; returns their merged outcomes, in the order of `specs`. */
function* runAll(
  specs: RunSpec[],
  common: Omit<AttackOptions, 'eps'>,
  batchSize: number,
  ctx: MergeContext,
): Generator<AttackItem[], RunOut[], AttackBatchOut[]> {
  const items = specs.map((s) => runItems(s, common, batchSize));
  const flat = items.flat();
  if (flat.length === 0) return [];
  const outs = yield flat;
  let k = 0;
  return specs.map((s, i) => mergeRun(s, items[i], outs.slice(k, (k += items[i].length)), ctx));
}

/**
 * The evaluation of `model` on `data` under `o` as a plan (see {@link RobustnessPlan}); `progress`
 * gets its total here and a tick per clean batch (whoever runs the attack batches ticks those).
 */
export function* robustnessPlan(
  model: Classifier,
  data: Dataset,
  o: RobustnessOptions,
  progress: Progress,
): RobustnessPlan {
  checkOptions(model, data, o);
  const bs = o.batchSize ?? 100;
  const sanity = o.sanity ?? true;
  const keep = Math.min(o.keepExamples ?? 0, data.size);
  const common = o.attack ?? {};
  const eps = [...o.eps].sort((a, b) => a - b);
  const plan = {
    attacks: o.attacks,
    eps,
    common,
    targeted: common.target !== undefined,
    nSanity: Math.min(o.sanityExamples ?? 200, data.size),
    data,
  };

  // Progress in units of examples attacked (attack runs dominate the time); the norms the sanity
  // runs depend on are foreseen from the common options.
  progress.total =
    data.size * (1 + o.attacks.length * eps.length) +
    (sanity ? sanityExamples({ ...plan, norm: (name) => boundedNorm(name, common) }) : 0);

  const clean = cleanPredictions(model, data, bs, (n) => progress.tick(n, 'clean'));
  const cleanCorrect = clean.reduce((s, p, i) => s + (p === data.labels[i] ? 1 : 0), 0);
  const ctx: MergeContext = { labels: data.labels, clean, targeted: plan.targeted };

  // Every attack at every budget.
  const grid = o.attacks.flatMap((name) => eps.map((e) => runSpec(name, e, data.size, {}, keep)));
  const gridOuts = yield* runAll(grid, common, bs, ctx);
  const results = new Map(grid.map((s, i) => [runKey(s), gridOuts[i]]));
  const mainRun = (name: string, e: number) => results.get(runKey(runSpec(name, e, data.size)))!;
  const rows = grid.map((s, i) => robustRow(s, gridOuts[i]));

  const checks: SanityCheck[] = [];
  if (sanity) {
    const inputs: SanityInputs = {
      ...plan,
      model,
      batchSize: bs,
      clean,
      rows,
      mainRun,
      norm: (name) => boundedNorm(name, mainRun(name, eps[0]).options),
    };
    const specs = sanityRuns(inputs);
    (yield* runAll(specs, common, bs, ctx)).forEach((r, i) => results.set(runKey(specs[i]), r));
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
    examples: gridOuts.flatMap((r) => r.examples),
  };
}
