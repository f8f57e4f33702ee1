/**
 * Table 1's AutoAttack column (Croce and Hein, ICML 2020; src/attacks/autoattack.ts): per member and
 * budget, the accuracy under L-inf AutoAttack (the `standard` preset unless a test asks for a cheaper
 * list of parts or fewer steps) on the first `examples` test images, kept in the card as one
 * `cell:autoattack-linf:<eps>@<data>` record per budget (zoo/cellRecord.ts), written as soon as the
 * cell is measured, so an interrupted `advlens zoo table --autoattack --record` resumes cell by cell.
 * A cell is reused only for the same weights (its clean accuracy on those images), number of images
 * and settings (preset, parts, steps, queries, target classes, seed and images per batch: batch b has
 * seed + 1000003 b). Beside AutoAttack's accuracy the cell keeps PGD-200's (the table's PGD settings) on
 * exactly the same images (`pgd200SameImages`), which the table's checks compare it with. No Node imports.
 *
 *   aaColumn(0.3); // 'autoattack-linf:0.3'
 *   overstates(0.46, 0.13); // true: AutoAttack more than 5 points below PGD-200
 */
import type { AutoAttackPreset } from '../attacks/autoattack.ts';
import { UserError } from '../errors.ts';
import { canonicalJson, type CellRecord } from './cellRecord.ts';
import type { RobustAttackSettings } from './robustRecord.ts';

/** The AutoAttack settings a cell is measured with (recorded as the cell's `settings`). */
export interface AutoAttackCellSettings {
  aaPreset: AutoAttackPreset;
  /** A custom list of parts replacing the preset's (tests: a cheap setting); null for the preset's. */
  parts: string[] | null;
  /** APGD and FAB iterations. */
  steps: number;
  /** Square's queries. */
  queries: number;
  nTargetClasses: number;
  seed: number;
  /** Images per attack batch (batch b has seed + 1000003 b, so the numbers depend on it). */
  batchSize: number;
}

/** The reference's standard evaluation: apgd-ce, apgd-t, fab-t, square with their published settings. */
export const AA_STANDARD: Readonly<AutoAttackCellSettings> = {
  aaPreset: 'standard',
  parts: null,
  steps: 100,
  queries: 5000,
  nTargetClasses: 9,
  seed: 0,
  batchSize: 100,
};

/** Default number of test images AutoAttack is run on (the first N): 200, the least issue 17 asks of the zoo table. */
export const AA_LIMIT = 200;

/** How far (in accuracy, 0.05 = 5 points) AutoAttack may fall below PGD-200 before the cell is flagged. */
export const OVERSTATE_MARGIN = 0.05;

/** The cell's column name (the card key is `cell:<column>@<data>`). */
export function aaColumn(eps: number): string {
  return `autoattack-linf:${Number(eps.toPrecision(6))}`;
}

/** The options attack 'autoattack' is called with (eps and each batch's seed are added by the run). */
export function aaAttackOptions(s: AutoAttackCellSettings): Record<string, unknown> {
  return {
    aaPreset: s.aaPreset,
    ...(s.parts ? { parts: [...s.parts] } : {}),
    steps: s.steps,
    queries: s.queries,
    nTargetClasses: s.nTargetClasses,
    seed: s.seed,
    norm: 'linf',
  };
}

/** The settings as recorded in the cell (plain JSON; compared by content). */
export function aaSettingsRecord(s: AutoAttackCellSettings): Record<string, unknown> {
  return { ...s, parts: s.parts ? [...s.parts] : null, norm: 'linf' };
}

/** Whether PGD-200 overstates robustness: AutoAttack's accuracy more than {@link OVERSTATE_MARGIN} below it. */
export function overstates(pgd: number | null, aa: number | null): boolean {
  return pgd !== null && aa !== null && aa < pgd - OVERSTATE_MARGIN - 1e-12;
}

/**
 * Whether AutoAttack leaves more images correct than PGD-200 on the same images (it never should: it
 * is the stronger evaluation); equal within float noise is not more.
 */
export function aboveSameImages(pgd: number, aa: number): boolean {
  return aa > pgd + 1e-12;
}

/** PGD-200 on exactly an AutoAttack cell's images, kept in the cell record as `pgd200SameImages`. */
export interface Pgd200SameImages {
  accuracy: number;
  /** The cell's images (the first `examples`). */
  examples: number;
  /** The PGD settings (the table's: PGD200 unless a test asks for fewer steps). */
  attack: RobustAttackSettings;
  measuredAt: string;
  command: string;
  seconds: number;
}

/**
 * The cell's PGD-200 accuracy on its own images when it holds one measured with `attack`; null when it
 * holds none (a cell recorded before the number was kept) or one with other settings. A malformed
 * entry is a {@link UserError} naming `where`.
 */
export function pgdSameImages(r: CellRecord, attack: RobustAttackSettings, where: string): number | null {
  const p = (r as unknown as { pgd200SameImages?: unknown }).pgd200SameImages;
  if (p === undefined) return null;
  const q = p as Partial<Pgd200SameImages> | null;
  if (
    !q ||
    typeof q !== 'object' ||
    typeof q.accuracy !== 'number' ||
    !(q.accuracy >= 0 && q.accuracy <= 1) ||
    q.examples !== r.examples ||
    !q.attack ||
    typeof q.attack !== 'object'
  )
    throw new UserError(
      `${where} holds a malformed pgd200SameImages in ${r.column}: it needs accuracy in [0, 1], examples ${r.examples} and attack; delete it or measure again with --record --recompute`,
    );
  return canonicalJson(q.attack) === canonicalJson(attack) ? q.accuracy : null;
}
