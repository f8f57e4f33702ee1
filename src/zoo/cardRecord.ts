/**
 * What the records a model card keeps for zoo-table cells share: reading one from `metrics[key]`
 * (checked by its own parser, a malformed one tolerated where it is about to be measured again),
 * the checks of their common fields (images, provenance, `runs`), merging budget-keyed values and
 * their runs, and merging a record into a card. The PGD-200 record (robustRecord.ts), the AAI record
 * of Table 3 (aaiRecord.ts) and the cell records of the CIFAR-10 tables and the AutoAttack column
 * (cellRecord.ts) are built on it; src/node/models.ts writes a card with {@link mergeIntoCard}.
 *
 *   const r = readRecord(card, robustKey('mnist:test'), parseRobustRecord, 'models/mnist-int/advlens.json');
 *   const place = { key: robustKey('mnist:test'), parse: parseRobustRecord, where: 'models/mnist-int/advlens.json' };
 *   const next = mergeIntoCard(card, place, (old) => mergeRobustRecord(old, add));
 */
import { UserError } from '../errors.ts';
import type { MetricRecord, ModelCard } from '../models/card.ts';

/** Two budgets closer than this are the same (parsed fractions like 8/255 compare equal). */
export const EPS_TOL = 1e-9;

/** Whether two budgets are the same (parsed fractions like 8/255 compare equal). */
export function sameEps(a: number, b: number): boolean {
  return Math.abs(a - b) < EPS_TOL;
}

/** One measurement that a record's values come from: its budgets and what produced them. */
export interface RecordRun {
  /** The budgets whose values in the record this run measured (0: the clean accuracy). */
  eps: number[];
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  seconds: number;
}

/** Reports a record's first problem: throws. */
export type Bad = (what: string) => never;

/** The {@link Bad} of a `kind` of record in `where`: a one-line {@link UserError} ending in `fix`. */
export function recordError(where: string, kind: string, fix: string): Bad {
  return (what: string): never => {
    throw new UserError(`${where} holds a malformed ${kind}: ${what}; ${fix}`);
  };
}

/** A number in [0, 1]. */
export const isFrac = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;

/** `value` as an object (not a list), or `bad`. */
export function recordObject(value: unknown, bad: Bad): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) bad('not an object');
  return value as Record<string, unknown>;
}

/** Checks what every record says of its images: `data`, `source`, `examples` and clean `accuracy`. */
export function checkImages(r: Record<string, unknown>, bad: Bad): void {
  if (typeof r.data !== 'string' || !r.data) bad('data must be a dataset spec');
  if (typeof r.source !== 'string') bad('source must be a string');
  if (!Number.isInteger(r.examples) || (r.examples as number) < 1) bad('examples must be a positive integer');
  if (!isFrac(r.accuracy)) bad('accuracy must be a number in [0, 1]');
}

/** Checks each budget of `eps` (a list) is a number >= 0 (> 0 with `positive`), strictly increasing. */
export function checkBudgets(eps: unknown[], bad: Bad, positive = false): void {
  eps.forEach((e, i) => {
    if (positive) {
      if (typeof e !== 'number' || !Number.isFinite(e) || !(e > 0)) bad(`eps[${i}] must be a number > 0`);
    } else if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) bad(`eps[${i}] must be a number >= 0`);
    if (i > 0 && !((e as number) > (eps[i - 1] as number) + EPS_TOL)) bad('eps must be strictly increasing');
  });
}

/**
 * Checks a record's provenance: `measuredAt`, `command`, `versions` (names to version strings;
 * with `anyVersions` any object, as the AAI record has always accepted) and `seconds`.
 */
export function checkProvenance(r: Record<string, unknown>, bad: Bad, anyVersions = false): void {
  if (typeof r.measuredAt !== 'string' || Number.isNaN(Date.parse(r.measuredAt)))
    bad('measuredAt must be an ISO date');
  if (typeof r.command !== 'string') bad('command must be a string');
  if (
    !r.versions ||
    typeof r.versions !== 'object' ||
    (!anyVersions && !Object.values(r.versions).every((v) => typeof v === 'string'))
  )
    bad('versions must map names to version strings');
  if (typeof r.seconds !== 'number' || !(r.seconds >= 0)) bad('seconds must be a number >= 0');
}

/** Checks `runs`: a non-empty list of runs that cover each budget of `eps` exactly once. */
export function checkRuns(runs: unknown, eps: number[], bad: Bad): void {
  if (!Array.isArray(runs) || runs.length === 0) bad('runs must be a non-empty list');
  const covered: number[] = [];
  (runs as unknown[]).forEach((u, i) => {
    const run = u as Record<string, unknown>;
    if (!run || typeof run !== 'object') bad(`runs[${i}] must be an object`);
    if (!Array.isArray(run.eps) || run.eps.length === 0) bad(`runs[${i}].eps must be a non-empty list`);
    for (const e of run.eps as unknown[]) {
      if (typeof e !== 'number' || !eps.some((x) => sameEps(x, e)))
        bad(`runs[${i}].eps holds a budget the record has no value for`);
      if (covered.some((x) => sameEps(x, e as number)))
        bad(`runs[${i}].eps repeats a budget of an earlier run`);
      covered.push(e as number);
    }
    if (typeof run.measuredAt !== 'string' || Number.isNaN(Date.parse(run.measuredAt)))
      bad(`runs[${i}].measuredAt must be an ISO date`);
    if (typeof run.command !== 'string') bad(`runs[${i}].command must be a string`);
    if (!run.versions || typeof run.versions !== 'object') bad(`runs[${i}].versions must be an object`);
    if (typeof run.seconds !== 'number' || !(run.seconds >= 0))
      bad(`runs[${i}].seconds must be a number >= 0`);
  });
  if (covered.length !== eps.length) bad('runs must cover every budget of eps');
}

/** Checks a record: `value` and where it stands (named in errors); a {@link UserError} if malformed. */
export type RecordParser<R> = (value: unknown, where: string) => R;

/** The card's record under `metrics[key]`, checked by `parse`, or null when it has none. `where` names the card. */
export function readRecord<R>(card: ModelCard, key: string, parse: RecordParser<R>, where: string): R | null {
  const v = card.metrics?.[key];
  return v === undefined ? null : parse(v, `${where} (metrics['${key}'])`);
}

/**
 * `read()`, except that with `recompute` a malformed record (a {@link UserError}) reads as none: it is
 * about to be measured again and replaced.
 */
export function readOrRecompute<R>(read: () => R | null, recompute: boolean | undefined): R | null {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof UserError) || !recompute) throw err;
    return null;
  }
}

/** Where a record stands in a card and how it reads: its key, its parser, the card's name for errors. */
export interface RecordPlace<R> {
  key: string;
  parse: RecordParser<R>;
  where: string;
  /** A malformed record reads as none (it is being measured again): see {@link readOrRecompute}. */
  recompute?: boolean;
}

/**
 * `card` with its record at `place` replaced by what `merge` makes of it (null: none, or malformed
 * with `recompute`); `merge` returning its argument's replacement whole is a plain write.
 */
export function mergeIntoCard<R>(
  card: ModelCard,
  place: RecordPlace<R>,
  merge: (old: R | null) => MetricRecord,
): ModelCard {
  const old = readOrRecompute(() => readRecord(card, place.key, place.parse, place.where), place.recompute);
  return { ...card, metrics: { ...(card.metrics ?? {}), [place.key]: merge(old) } };
}

/** `runs` with only the budgets `keep` accepts (runs left with none are dropped). */
export function keepBudgets(runs: readonly RecordRun[], keep: (e: number) => boolean): RecordRun[] {
  return runs.map((run) => ({ ...run, eps: run.eps.filter(keep) })).filter((run) => run.eps.length > 0);
}

/** Whether a budget is one of `list`. */
export const inList = (list: readonly number[]) => (e: number) => list.some((x) => sameEps(x, e));

/** The run of `runs` that measured `eps`, as a run of that budget alone; null when none did. */
export function runOf(runs: readonly RecordRun[], eps: number): RecordRun | null {
  const run = runs.find((u) => u.eps.some((x) => sameEps(x, eps)));
  return run ? { ...run, eps: [eps] } : null;
}

/**
 * Budget-keyed values merged: the budgets of `old` and `add` united in increasing order, `add`'s
 * value winning where both have one; `runs` are `old`'s runs less the budgets `add` measured again,
 * then `add`'s.
 */
export function mergeBudgets<T>(
  old: { eps: readonly number[]; values: readonly T[]; runs: readonly RecordRun[] } | null,
  add: { eps: readonly number[]; values: readonly T[]; runs: readonly RecordRun[] },
): { eps: number[]; values: T[]; runs: RecordRun[] } {
  const byEps = new Map<number, T>();
  old?.eps.forEach((e, i) => byEps.set(e, old.values[i]));
  add.eps.forEach((e, i) => {
    for (const k of byEps.keys()) if (sameEps(k, e)) byEps.delete(k);
    byEps.set(e, add.values[i]);
  });
  const eps = [...byEps.keys()].sort((a, b) => a - b);
  const kept = old ? keepBudgets(old.runs, (e) => !inList(add.eps)(e)) : [];
  return { eps, values: eps.map((e) => byEps.get(e)!), runs: [...kept, ...add.runs] };
}
