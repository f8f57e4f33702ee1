/**
 * The attack-against-interpretability record a model card keeps under `metrics['aai200:<data spec>']`
 * for Table 3 of Boopathy et al. (ICML 2020): per L-inf budget, Kendall's tau-b between the clean and
 * the attacked true-class CAM (ALGORITHMS.md sections 1 and 3) under AAI (src/attacks/aai.ts; 200 sign
 * steps of 0.01, random start), over the examples whose prediction the attack did not change: the mean
 * (the paper's statistic) and the median, with how many examples count. Each budget is one cell,
 * measured and recorded on its own, so `advlens zoo table --table 3 --record` resumes where a run
 * stopped; `runs` says which run (time, command, versions, seconds) measured which budgets, exactly as
 * the PGD-200 record (robustRecord.ts) does. `accuracy` (clean, on the same images) identifies the
 * model: a record whose clean accuracy differs was made by other weights and is replaced, not merged.
 *
 *   const r = readAaiRecord(card, 'mnist:test', 'models/mnist-int2/advlens.json');
 *   aaiCell(r, { data: 'mnist:test', examples: 200, accuracy: 0.96, attack: AAI200 }, 0.3)?.tauMean; // 0.91
 */
import type { MetricRecord, ModelCard } from '../models/card.ts';
import {
  checkBudgets,
  checkImages,
  checkProvenance,
  checkRuns,
  mergeBudgets,
  readRecord,
  recordError,
  recordObject,
  runOf,
  sameEps,
  type RecordRun as RobustRun,
} from './cardRecord.ts';

/** The AAI settings a record was measured with (the options passed to attack 'aai'). */
export interface AaiSettings {
  name: 'aai';
  steps: number;
  stepSize: number;
  randomStart: boolean;
  /** Seed of the random start (batch b uses seed + 1000003 b, src/metrics/attackRun.ts). */
  seed: number;
  /** Weight of the term that keeps the prediction. */
  lambda: number;
  objective: 'topk' | 'l1';
  k: number;
  /** Images per attack batch: batch b's random start has seed + 1000003 b, so the numbers depend on it. */
  batchSize: number;
}

/**
 * Table 3's settings: the attack's defaults, which are the original code's (200 sign steps of 0.01,
 * random start, the top-8 objective) with lambda 1 (the original has 0; see src/attacks/aai.ts).
 */
export const AAI200: Readonly<AaiSettings> = {
  name: 'aai',
  steps: 200,
  stepSize: 0.01,
  randomStart: true,
  seed: 0,
  lambda: 1,
  objective: 'topk',
  k: 8,
  batchSize: 100,
};

/** One measured cell: the statistics of tau at one budget. */
export interface AaiCell {
  eps: number;
  /** Mean of tau over the counted examples; null when none counts. */
  tauMean: number | null;
  /** Median of tau over the counted examples; null when none counts. */
  tauMedian: number | null;
  /** Examples counted: prediction unchanged and tau defined (neither map constant). */
  counted: number;
  /** Examples whose prediction the attack changed (left out, as in the paper). */
  changed: number;
}

/** Tau statistics per budget, as stored in a card. */
export interface AaiRecord extends MetricRecord {
  data: string;
  source: string;
  /** Images measured on: the first `examples` of `data`. */
  examples: number;
  /** Clean accuracy on those images (identifies the weights). */
  accuracy: number;
  attack: AaiSettings;
  /** Budgets (L-inf, pixels in [0, 1]), strictly increasing, all > 0. */
  eps: number[];
  tauMean: (number | null)[];
  tauMedian: (number | null)[];
  counted: number[];
  changed: number[];
  /** When, by which command and with which software the newest cell was measured. */
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  /** Seconds spent measuring the cells in the record (the sum over `runs`). */
  seconds: number;
  /** Which run measured which budgets, oldest first; they cover `eps` exactly once. */
  runs: RobustRun[];
}

/** The `metrics` key of a record on `data`. */
export function aaiKey(data: string): string {
  return `aai200:${data}`;
}

/** Mean and median of the finite values of `taus` and how many there are; null statistics when none. */
export function tauStats(taus: readonly number[]): {
  mean: number | null;
  median: number | null;
  counted: number;
} {
  const v = taus.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { mean: null, median: null, counted: 0 };
  const mean = v.reduce((s, t) => s + t, 0) / n;
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return { mean, median, counted: n };
}

const isTau = (v: unknown) => v === null || (typeof v === 'number' && v >= -1 - 1e-9 && v <= 1 + 1e-9);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/**
 * Checks `value` against the record format and returns it typed; a {@link UserError} naming `where`
 * and the first problem otherwise.
 */
export function parseAaiRecord(value: unknown, where: string): AaiRecord {
  const bad = recordError(
    where,
    'AAI record',
    "delete that entry or measure it again with 'advlens zoo table --table 3 --record --recompute'",
  );
  const r = recordObject(value, bad);
  checkImages(r, bad);
  const a = r.attack as Record<string, unknown> | undefined;
  if (!a || typeof a !== 'object') bad('attack is missing');
  if (a!.name !== 'aai') bad(`attack.name must be 'aai' (got ${JSON.stringify(a!.name)})`);
  if (!Number.isInteger(a!.batchSize) || (a!.batchSize as number) < 1)
    bad('attack.batchSize must be a positive integer');
  for (const k of ['steps', 'seed', 'k'] as const)
    if (!Number.isInteger(a![k]) || (a![k] as number) < 0) bad(`attack.${k} must be an integer >= 0`);
  for (const k of ['stepSize', 'lambda'] as const)
    if (typeof a![k] !== 'number' || !((a![k] as number) >= 0)) bad(`attack.${k} must be a number >= 0`);
  if (typeof a!.randomStart !== 'boolean') bad('attack.randomStart must be true or false');
  if (a!.objective !== 'topk' && a!.objective !== 'l1') bad("attack.objective must be 'topk' or 'l1'");
  const eps = r.eps as number[];
  if (!Array.isArray(eps) || eps.length === 0) bad('eps must be a non-empty list');
  checkBudgets(eps, bad, true);
  const lists: [string, (v: unknown) => boolean][] = [
    ['tauMean', isTau],
    ['tauMedian', isTau],
    ['counted', isCount],
    ['changed', isCount],
  ];
  for (const [k, ok] of lists) {
    const l = r[k];
    if (!Array.isArray(l) || l.length !== eps.length) bad(`${k} must have one value per eps`);
    (l as unknown[]).forEach((v, i) => {
      if (!ok(v)) bad(`${k}[${i}] is out of range`);
    });
  }
  eps.forEach((_, i) => {
    const counted = (r.counted as number[])[i];
    if ((counted === 0) !== ((r.tauMean as unknown[])[i] === null))
      bad(`tauMean[${i}] must be null exactly when no example is counted`);
    if (counted + (r.changed as number[])[i] > (r.examples as number))
      bad(`counted[${i}] + changed[${i}] exceeds examples`);
  });
  checkProvenance(r, bad, true);
  checkRuns(r.runs, eps, bad);
  return r as AaiRecord;
}

/** The card's AAI record on `data` (validated), or null when it has none. `where` names the card in errors. */
export function readAaiRecord(card: ModelCard, data: string, where: string): AaiRecord | null {
  return readRecord(card, aaiKey(data), parseAaiRecord, where);
}

/** What makes a record's cells reusable: the same images, the same weights (clean accuracy) and attack. */
export interface AaiSetting {
  data: string;
  examples: number;
  accuracy: number;
  attack: AaiSettings;
}

/** Whether a record was measured in setting `s`. */
export function sameAaiSetting(r: AaiSetting, s: AaiSetting): boolean {
  const a = r.attack;
  const b = s.attack;
  return (
    r.data === s.data &&
    r.examples === s.examples &&
    Math.abs(r.accuracy - s.accuracy) < 1e-12 &&
    a.name === b.name &&
    a.steps === b.steps &&
    Math.abs(a.stepSize - b.stepSize) < 1e-12 &&
    a.randomStart === b.randomStart &&
    a.seed === b.seed &&
    Math.abs(a.lambda - b.lambda) < 1e-12 &&
    a.objective === b.objective &&
    a.k === b.k &&
    a.batchSize === b.batchSize
  );
}

/** The record's cell at `eps` when it was measured in setting `s`; null otherwise. */
export function aaiCell(r: AaiRecord | null, s: AaiSetting, eps: number): AaiCell | null {
  if (!r || !sameAaiSetting(r, s)) return null;
  const j = r.eps.findIndex((x) => sameEps(x, eps));
  if (j < 0) return null;
  return {
    eps: r.eps[j],
    tauMean: r.tauMean[j],
    tauMedian: r.tauMedian[j],
    counted: r.counted[j],
    changed: r.changed[j],
  };
}

/** The run of `r` that measured `eps` (null when `r` has no such budget). */
export function aaiRunOf(r: AaiRecord | null, eps: number): RobustRun | null {
  return r ? runOf(r.runs, eps) : null;
}

/**
 * Adds one measured cell to the card's record: kept cells of `old` stay (when it was measured in
 * the same setting; otherwise it is replaced), the cell at the same budget is replaced, and `run`
 * records what measured the new cell.
 */
export function addAaiCell(
  old: AaiRecord | null,
  base: AaiSetting & { source: string },
  cell: AaiCell,
  run: Omit<RobustRun, 'eps'>,
): AaiRecord {
  const keep = old && sameAaiSetting(old, base) ? old : null;
  const { values: cells, runs } = mergeBudgets(
    keep && { eps: keep.eps, values: keep.eps.map((e) => aaiCell(keep, base, e)!), runs: keep.runs },
    { eps: [cell.eps], values: [cell], runs: [{ ...run, eps: [cell.eps] }] },
  );
  return {
    data: base.data,
    source: base.source,
    examples: base.examples,
    accuracy: base.accuracy,
    attack: { ...base.attack },
    eps: cells.map((c) => c.eps),
    tauMean: cells.map((c) => c.tauMean),
    tauMedian: cells.map((c) => c.tauMedian),
    counted: cells.map((c) => c.counted),
    changed: cells.map((c) => c.changed),
    measuredAt: run.measuredAt,
    command: run.command,
    versions: run.versions,
    seconds: runs.reduce((t, u) => t + u.seconds, 0),
    runs,
  };
}
