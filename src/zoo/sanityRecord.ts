/**
 * The record a model card keeps of Table 1's sanity-check measurements (zoo/measureSanity.ts) under
 * `metrics['sanity:pgd200@<data spec>']`: the accuracy under FGSM and under random L-inf noise at each
 * budget, on the same images as the `pgd200:<data>` record they check, and the accuracy under the same
 * PGD at an unbounded budget on the first images, each with the run that measured it. `advlens zoo
 * table` reads it instead of measuring again when the images, the attack checked, the settings and the
 * clean accuracy (the weights) are the same, and measures only the budgets it lacks. The checks
 * themselves are computed from these numbers and the PGD-200 ones (zoo/sanityCells.ts).
 *
 *   const r = readSanityRecord(card, 'mnist:test', 'models/mnist-int2/advlens.json');
 *   sanityValues(r, setting, 0.96, [0, 0.4]); // { cells: [null, { fgsm: 0.13, noise: 0.95 }], unbounded: {...} }
 */
import type { MetricRecord, ModelCard } from '../models/card.ts';
import {
  checkBudgets,
  checkImages,
  checkProvenance,
  checkRuns,
  isFrac,
  mergeBudgets,
  readRecord,
  recordError,
  recordObject,
  sameEps,
  type RecordRun,
} from './cardRecord.ts';
import { canonicalJson } from './cellRecord.ts';
import { sameSetting, type RobustAttackSettings } from './robustRecord.ts';
import { unboundedAttack, type SanitySettings } from './measureSanity.ts';

/** The unbounded run as stored: its budget and step, images, accuracy and provenance. */
export interface UnboundedRecord {
  eps: number;
  steps: number;
  stepSize: number;
  examples: number;
  accuracy: number;
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  seconds: number;
}

/** The sanity-check measurements of one member, as stored in a card. */
export interface SanityRecord extends MetricRecord {
  data: string;
  source: string;
  /** Images FGSM and noise ran on: the first `examples` of `data` (those of the PGD-200 record). */
  examples: number;
  /** Clean accuracy on those images. */
  accuracy: number;
  /** The attack whose numbers are checked. */
  attack: RobustAttackSettings;
  settings: SanitySettings;
  /** FGSM's options with defaults filled in. */
  fgsmOptions: Record<string, unknown>;
  /** Budgets (> 0, increasing) and the accuracy under FGSM and noise at each. */
  eps: number[];
  fgsm: number[];
  noise: number[];
  /** Which run measured which budgets, oldest first. */
  runs: RecordRun[];
  unbounded: UnboundedRecord | null;
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  seconds: number;
}

/** The `metrics` key of the record on `data`. */
export function sanityKey(data: string): string {
  return `sanity:pgd200@${data}`;
}

/** Whether a `metrics` key holds a sanity record (not a clean evaluation). */
export const isSanityKey = (key: string): boolean => key.startsWith('sanity:');

/** Checks `value` against the record format; a {@link UserError} naming `where` and the problem otherwise. */
export function parseSanityRecord(value: unknown, where: string): SanityRecord {
  const bad = recordError(
    where,
    'sanity-check record',
    'delete that entry or measure it again with --recompute',
  );
  const r = recordObject(value, bad);
  checkImages(r, bad);
  const a = r.attack as Record<string, unknown> | undefined;
  if (!a || typeof a !== 'object' || typeof a.name !== 'string' || !Number.isInteger(a.steps))
    bad('attack must name the attack checked and its steps');
  const s = r.settings as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || !Number.isInteger(s.batchSize) || !Number.isInteger(s.unboundedExamples))
    bad('settings must give batchSize and unboundedExamples');
  if (!r.fgsmOptions || typeof r.fgsmOptions !== 'object') bad('fgsmOptions must be an object');
  if (!Array.isArray(r.eps)) bad('eps must be a list');
  const eps = r.eps as unknown[];
  checkBudgets(eps, bad, true);
  for (const k of ['fgsm', 'noise'] as const) {
    const v = r[k];
    if (!Array.isArray(v) || v.length !== eps.length) bad(`${k} must have one value per eps`);
    (v as unknown[]).forEach((x, i) => isFrac(x) || bad(`${k}[${i}] must be a number in [0, 1]`));
  }
  if (eps.length) checkRuns(r.runs, eps as number[], bad);
  else if (!Array.isArray(r.runs) || r.runs.length) bad('runs must be empty when eps is');
  const u = r.unbounded as Record<string, unknown> | null | undefined;
  if (u !== null) {
    if (!u || typeof u !== 'object') bad('unbounded must be null or an object');
    if (typeof u!.eps !== 'number' || !(u!.eps > 0)) bad('unbounded.eps must be a number > 0');
    if (!Number.isInteger(u!.examples) || (u!.examples as number) < 1)
      bad('unbounded.examples must be a positive integer');
    if (!isFrac(u!.accuracy)) bad('unbounded.accuracy must be a number in [0, 1]');
    if (!Number.isInteger(u!.steps) || typeof u!.stepSize !== 'number')
      bad('unbounded.steps must be an integer and unbounded.stepSize a number');
    checkProvenance(u!, (w) => bad(`unbounded: ${w}`));
  }
  checkProvenance(r, bad);
  return r as SanityRecord;
}

/** The card's record on `data` (validated), or null when it has none. */
export function readSanityRecord(card: ModelCard, data: string, where: string): SanityRecord | null {
  return readRecord(card, sanityKey(data), parseSanityRecord, where);
}

/** What makes a record answer: the same images, attack checked and settings, and the same weights. */
export interface SanitySetting {
  data: string;
  examples: number;
  attack: RobustAttackSettings;
  settings: SanitySettings;
  /** Clean accuracy on the images (the weights' fingerprint). */
  accuracy: number;
}

/** Settings less the unbounded run's images (which its own `examples` say). */
const fgsmNoiseSettings = (s: SanitySettings) => canonicalJson({ ...s, unboundedExamples: null });

/** Whether record `r`'s FGSM and noise numbers were measured in setting `s` (the unbounded run matches on its own). */
export function sanityMatches(r: SanityRecord | null, s: SanitySetting): r is SanityRecord {
  return (
    !!r &&
    sameSetting(r, s) &&
    fgsmNoiseSettings(r.settings) === fgsmNoiseSettings(s.settings) &&
    Math.abs(r.accuracy - s.accuracy) < 1e-12
  );
}

/** Whether the unbounded run `u` answers setting `s`: the attack's steps and the number of images asked for. */
function unboundedMatches(u: UnboundedRecord | null, s: SanitySetting): u is UnboundedRecord {
  return (
    !!u &&
    u.steps === s.attack.steps &&
    u.examples === Math.min(s.settings.unboundedExamples, s.examples) &&
    Math.abs(u.stepSize - unboundedAttack(s.attack).stepSize) < 1e-12
  );
}

/** FGSM and noise accuracy at one budget. */
export interface SanityPair {
  fgsm: number;
  noise: number;
}

/** The record's numbers at each budget of `eps` (null at eps 0 and where it has none) and its unbounded run; all null when it does not match. */
export function sanityValues(
  r: SanityRecord | null,
  s: SanitySetting,
  eps: number[],
): { cells: (SanityPair | null)[]; unbounded: UnboundedRecord | null } {
  if (!sanityMatches(r, s)) return { cells: eps.map(() => null), unbounded: null };
  return {
    cells: eps.map((e) => {
      const j = r.eps.findIndex((x) => sameEps(x, e));
      return j < 0 ? null : { fgsm: r.fgsm[j], noise: r.noise[j] };
    }),
    unbounded: unboundedMatches(r.unbounded, s) ? r.unbounded : null,
  };
}

/**
 * Merges a new record into the card's: in the same setting the budgets are united (the new values
 * winning), the unbounded run kept unless the new one has one, `runs` say which run measured which
 * budget; otherwise `add` replaces `old`.
 */
export function mergeSanityRecord(old: SanityRecord | null, add: SanityRecord): SanityRecord {
  if (!sanityMatches(old, add)) return add;
  const pairs = (r: SanityRecord) => r.eps.map((_, i) => [r.fgsm[i], r.noise[i]] as const);
  const m = mergeBudgets(
    { eps: old.eps, values: pairs(old), runs: old.runs },
    { eps: add.eps, values: pairs(add), runs: add.runs },
  );
  return {
    ...add,
    eps: m.eps,
    fgsm: m.values.map((v) => v[0]),
    noise: m.values.map((v) => v[1]),
    runs: m.runs,
    fgsmOptions: add.eps.length ? add.fgsmOptions : old.fgsmOptions,
    unbounded: add.unbounded ?? old.unbounded,
    seconds: old.seconds + add.seconds,
  };
}
