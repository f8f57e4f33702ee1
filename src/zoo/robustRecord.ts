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
import type { MetricRecord, ModelCard } from '../models/card.ts';
import {
  checkBudgets,
  checkImages,
  checkProvenance,
  checkRuns,
  EPS_TOL,
  inList,
  isFrac,
  keepBudgets,
  mergeBudgets,
  readRecord,
  recordError,
  recordObject,
  sameEps,
  type RecordRun,
} from './cardRecord.ts';

export { sameEps };

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
export type RobustRun = RecordRun;

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

/**
 * Checks `value` against the record format and returns it typed; a {@link UserError} naming `where`
 * and the first problem otherwise.
 */
export function parseRobustRecord(value: unknown, where: string): RobustRecord {
  const bad = recordError(
    where,
    'robust-accuracy record',
    'delete that entry or measure that budget again and record it',
  );
  const r = recordObject(value, bad);
  checkImages(r, bad);
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
  checkBudgets(eps as unknown[], bad);
  (acc as unknown[]).forEach((v, i) => {
    if (!isFrac(v)) bad(`robustAccuracy[${i}] must be a number in [0, 1]`);
  });
  const zero = (eps as number[]).findIndex((e) => sameEps(e, 0));
  if (zero >= 0 && Math.abs((acc as number[])[zero] - (r.accuracy as number)) > 1e-12)
    bad('robustAccuracy at eps 0 differs from the clean accuracy');
  checkProvenance(r, bad);
  if (r.runs !== undefined) checkRuns(r.runs, eps as number[], bad);
  return r as RobustRecord;
}

/** The card's record on `data` (validated), or null when it has none. `where` names the card in errors. */
export function readRobustRecord(card: ModelCard, data: string, where: string): RobustRecord | null {
  return readRecord(card, robustKey(data), parseRobustRecord, where);
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
  const m = mergeBudgets(
    { eps: old.eps, values: old.robustAccuracy, runs: recordRuns(old) },
    { eps: add.eps, values: add.robustAccuracy, runs: recordRuns(add) },
  );
  return { ...add, eps: m.eps, robustAccuracy: m.values, seconds: old.seconds + add.seconds, runs: m.runs };
}
