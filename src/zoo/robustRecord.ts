/**
 * The robust-accuracy record a model card keeps under `metrics['pgd200:<data spec>']`: accuracy of
 * the model under L-inf PGD (Madry et al., ICLR 2018) with the settings of Boopathy et al. (ICML
 * 2020) Table 1 (200 steps of 0.01, no random start, cross-entropy) at several budgets, on the first
 * `examples` images of one dataset, with what produced it. `advlens zoo table` reads it instead of
 * attacking again when it covers the requested budgets, and merges new budgets into it.
 *
 *   const r = readRobustRecord(card, 'mnist:test', 'models/mnist-int2/advlens.json');
 *   robustValues(r, { data: 'mnist:test', examples: 200, attack: PGD200 }, [0, 0.3]); // [0.95, 0.84]
 */
import { UserError } from '../errors.ts';
import type { MetricRecord, ModelCard } from '../models/card.ts';

/** The attack a record was measured with. */
export interface RobustAttackSettings {
  name: 'pgd-linf';
  steps: number;
  stepSize: number;
  randomStart: boolean;
  loss: 'ce' | 'cw';
}

/** The settings of Table 1: 200 steps of 0.01, no random start, cross-entropy. */
export const PGD200: Readonly<RobustAttackSettings> = {
  name: 'pgd-linf',
  steps: 200,
  stepSize: 0.01,
  randomStart: false,
  loss: 'ce',
};

/** One measurement that a record's values come from: its budgets and what produced them. */
export interface RobustRun {
  /** The budgets whose values in the record this run measured (0: the clean accuracy). */
  eps: number[];
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  seconds: number;
}

/** Robust accuracy at several budgets, as stored in a card. */
export interface RobustRecord extends MetricRecord {
  data: string;
  source: string;
  /** Images measured on: the first `examples` of `data`. */
  examples: number;
  /** Clean accuracy on those images. */
  accuracy: number;
  attack: RobustAttackSettings;
  /** Budgets (L-inf, pixels in [0, 1]), strictly increasing; 0 is the clean accuracy. */
  eps: number[];
  /** Accuracy under the attack at each budget of `eps`. */
  robustAccuracy: number[];
  /** When the newest values were measured. */
  measuredAt: string;
  /** The command that measured the newest values. */
  command: string;
  versions: Record<string, string>;
  /** Seconds spent measuring the values in the record (summed over merged runs). */
  seconds: number;
  /**
   * Which run measured which budgets, oldest first, when runs were merged (records written before
   * runs existed have none: their top-level provenance is their only run; see {@link recordRuns}).
   */
  runs?: RobustRun[];
}

/** The `metrics` key of a record on `data`. */
export function robustKey(data: string): string {
  return `pgd200:${data}`;
}

const EPS_TOL = 1e-9;

/** Whether two budgets are the same (parsed fractions like 8/255 compare equal). */
export function sameEps(a: number, b: number): boolean {
  return Math.abs(a - b) < EPS_TOL;
}

const isFrac = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;

/**
 * Checks `value` against the record format and returns it typed; a {@link UserError} naming `where`
 * and the first problem otherwise.
 */
export function parseRobustRecord(value: unknown, where: string): RobustRecord {
  const bad = (what: string): never => {
    throw new UserError(
      `${where} holds a malformed robust-accuracy record: ${what}; delete that entry or measure that budget again and record it`,
    );
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) bad('not an object');
  const r = value as Record<string, unknown>;
  if (typeof r.data !== 'string' || !r.data) bad('data must be a dataset spec');
  if (typeof r.source !== 'string') bad('source must be a string');
  if (!Number.isInteger(r.examples) || (r.examples as number) < 1) bad('examples must be a positive integer');
  if (!isFrac(r.accuracy)) bad('accuracy must be a number in [0, 1]');
  const a = r.attack as Record<string, unknown> | undefined;
  if (!a || typeof a !== 'object') bad('attack is missing');
  if (a!.name !== 'pgd-linf') bad(`attack.name must be 'pgd-linf' (got ${JSON.stringify(a!.name)})`);
  if (!Number.isInteger(a!.steps) || (a!.steps as number) < 0) bad('attack.steps must be an integer >= 0');
  if (typeof a!.stepSize !== 'number' || !(a!.stepSize >= 0)) bad('attack.stepSize must be a number >= 0');
  if (typeof a!.randomStart !== 'boolean') bad('attack.randomStart must be true or false');
  if (a!.loss !== 'ce' && a!.loss !== 'cw') bad("attack.loss must be 'ce' or 'cw'");
  const eps = r.eps;
  const acc = r.robustAccuracy;
  if (!Array.isArray(eps) || eps.length === 0) bad('eps must be a non-empty list');
  if (!Array.isArray(acc) || acc.length !== (eps as unknown[]).length)
    bad('robustAccuracy must have one value per eps');
  (eps as unknown[]).forEach((e, i) => {
    if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) bad(`eps[${i}] must be a number >= 0`);
    if (i > 0 && !((e as number) > (eps as number[])[i - 1] + EPS_TOL))
      bad('eps must be strictly increasing');
  });
  (acc as unknown[]).forEach((v, i) => {
    if (!isFrac(v)) bad(`robustAccuracy[${i}] must be a number in [0, 1]`);
  });
  const zero = (eps as number[]).findIndex((e) => sameEps(e, 0));
  if (zero >= 0 && Math.abs((acc as number[])[zero] - (r.accuracy as number)) > 1e-12)
    bad('robustAccuracy at eps 0 differs from the clean accuracy');
  if (typeof r.measuredAt !== 'string' || Number.isNaN(Date.parse(r.measuredAt)))
    bad('measuredAt must be an ISO date');
  if (typeof r.command !== 'string') bad('command must be a string');
  if (
    !r.versions ||
    typeof r.versions !== 'object' ||
    !Object.values(r.versions).every((v) => typeof v === 'string')
  )
    bad('versions must map names to version strings');
  if (typeof r.seconds !== 'number' || !(r.seconds >= 0)) bad('seconds must be a number >= 0');
  if (r.runs !== undefined) {
    if (!Array.isArray(r.runs) || r.runs.length === 0) bad('runs must be a non-empty list');
    const covered: number[] = [];
    (r.runs as unknown[]).forEach((u, i) => {
      const run = u as Record<string, unknown>;
      if (!run || typeof run !== 'object') bad(`runs[${i}] must be an object`);
      if (!Array.isArray(run.eps) || run.eps.length === 0) bad(`runs[${i}].eps must be a non-empty list`);
      for (const e of run.eps as unknown[]) {
        if (typeof e !== 'number' || !(eps as number[]).some((x) => sameEps(x, e)))
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
    if (covered.length !== (eps as number[]).length) bad('runs must cover every budget of eps');
  }
  return r as RobustRecord;
}

/** The card's record on `data` (validated), or null when it has none. `where` names the card in errors. */
export function readRobustRecord(card: ModelCard, data: string, where: string): RobustRecord | null {
  const key = robustKey(data);
  const v = card.metrics?.[key];
  return v === undefined ? null : parseRobustRecord(v, `${where} (metrics['${key}'])`);
}

/** What makes two records comparable: the same images and the same attack. */
export interface RobustSetting {
  data: string;
  examples: number;
  attack: RobustAttackSettings;
}

/** Whether a record was measured on the same images with the same attack as `s`. */
export function sameSetting(r: RobustSetting, s: RobustSetting): boolean {
  return (
    r.data === s.data &&
    r.examples === s.examples &&
    r.attack.name === s.attack.name &&
    r.attack.steps === s.attack.steps &&
    Math.abs(r.attack.stepSize - s.attack.stepSize) < EPS_TOL &&
    r.attack.randomStart === s.attack.randomStart &&
    r.attack.loss === s.attack.loss
  );
}

/**
 * The record's accuracy at each requested budget, null where it has none (eps 0 is always its clean
 * accuracy); all null when the record is absent or was measured in another setting.
 */
export function robustValues(r: RobustRecord | null, s: RobustSetting, eps: number[]): (number | null)[] {
  if (!r || !sameSetting(r, s)) return eps.map(() => null);
  return eps.map((e) => {
    if (sameEps(e, 0)) return r.accuracy;
    const j = r.eps.findIndex((x) => sameEps(x, e));
    return j < 0 ? null : r.robustAccuracy[j];
  });
}

/** The runs a record's values come from, oldest first: its `runs`, or its own provenance as one run. */
export function recordRuns(r: RobustRecord): RobustRun[] {
  if (r.runs) return r.runs;
  const { eps, measuredAt, command, versions, seconds } = r;
  return [{ eps, measuredAt, command, versions, seconds }];
}

/** `runs` with only the budgets `keep` accepts (runs left with none are dropped). */
function keepBudgets(runs: RobustRun[], keep: (e: number) => boolean): RobustRun[] {
  return runs.map((run) => ({ ...run, eps: run.eps.filter(keep) })).filter((run) => run.eps.length > 0);
}

const inList = (list: number[]) => (e: number) => list.some((x) => sameEps(x, e));

/** The runs of `r` restricted to the budgets `eps` (runs left with none are dropped). */
export function runsFor(r: RobustRecord | null, eps: number[]): RobustRun[] {
  return r ? keepBudgets(recordRuns(r), inList(eps)) : [];
}

/**
 * Merges a new measurement into the card's record: when both were taken on the same images with the
 * same attack and agree on the clean accuracy (so the model has not changed), the budgets are
 * united, the new values winning where both have one; the top-level provenance is the new run's
 * (seconds summed) and `runs` says which run measured which budget. Otherwise `add` replaces `old`.
 */
export function mergeRobustRecord(old: RobustRecord | null, add: RobustRecord): RobustRecord {
  if (!old || !sameSetting(old, add) || Math.abs(old.accuracy - add.accuracy) > 1e-12) return add;
  const byEps = new Map<number, number>();
  old.eps.forEach((e, i) => byEps.set(e, old.robustAccuracy[i]));
  add.eps.forEach((e, i) => {
    for (const k of byEps.keys()) if (sameEps(k, e)) byEps.delete(k);
    byEps.set(e, add.robustAccuracy[i]);
  });
  const eps = [...byEps.keys()].sort((a, b) => a - b);
  const remeasured = inList(add.eps);
  const kept = keepBudgets(recordRuns(old), (e) => !remeasured(e));
  return {
    ...add,
    eps,
    robustAccuracy: eps.map((e) => byEps.get(e)!),
    seconds: old.seconds + add.seconds,
    runs: [...kept, ...recordRuns(add)],
  };
}
