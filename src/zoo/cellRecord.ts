/**
 * The record a model card keeps for one cell of a zoo table other than PGD-200 (which keeps its
 * `pgd200:<data>` record, zoo/robustRecord.ts): the model's accuracy under one condition (an
 * unforeseen attack at its budget, an image transform, a stylised copy of the test set) on the first
 * `examples` images of one dataset, under `metrics['cell:<column>@<data>']`, with what produced it.
 * `advlens zoo table` reads it instead of measuring again when the column, data, number of images
 * and settings are the same, so an interrupted table resumes cell by cell.
 *
 *   const r = readCellRecord(card, 'saturate:8', 'cifar10:test', 'models/cifar10-standard/advlens.json');
 *   cellMatches(r, { column: 'saturate:8', data: 'cifar10:test', examples: 1000, settings }); // true
 */
import { UserError } from '../errors.ts';
import type { MetricRecord, ModelCard } from '../models/card.ts';

/** One measured cell, as stored in a card. */
export interface CellRecord extends MetricRecord {
  /** The column: `gabor`, `jpeg-l1`, `clean`, `saturate:8`, `shuffle:4`, `stylized`, ... */
  column: string;
  /** The cell's value: plain accuracy under the column's condition. */
  accuracy: number;
  /** Clean accuracy on the same images; null when the column reads other images (a stylised copy). */
  clean: number | null;
  /**
   * AT-CNN's second accuracy: of the images the model classifies right when clean, the share it still
   * classifies right under the condition; null when the images are not paired with clean ones.
   */
  conditional: number | null;
  /** What produced the condition (attack options with defaults filled in, transform parameters, seed). */
  settings: Record<string, unknown>;
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  seconds: number;
}

/** The `metrics` key of a cell record. */
export function cellKey(column: string, data: string): string {
  return `cell:${column}@${data}`;
}

/** Whether a `metrics` key holds a cell record (not a clean evaluation). */
export const isCellKey = (key: string): boolean => key.startsWith('cell:');

const isFrac = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;

/** Checks `value` against the cell format; a {@link UserError} naming `where` and the problem otherwise. */
export function parseCellRecord(value: unknown, where: string): CellRecord {
  const bad = (what: string): never => {
    throw new UserError(
      `${where} holds a malformed table cell: ${what}; delete that entry or measure it again with --record --recompute`,
    );
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) bad('not an object');
  const r = value as Record<string, unknown>;
  if (typeof r.column !== 'string' || !r.column) bad('column must be a name');
  if (typeof r.data !== 'string' || !r.data) bad('data must be a dataset spec');
  if (typeof r.source !== 'string') bad('source must be a string');
  if (!Number.isInteger(r.examples) || (r.examples as number) < 1) bad('examples must be a positive integer');
  if (!isFrac(r.accuracy)) bad('accuracy must be a number in [0, 1]');
  if (r.clean !== null && !isFrac(r.clean)) bad('clean must be null or a number in [0, 1]');
  if (r.conditional !== null && !isFrac(r.conditional)) bad('conditional must be null or a number in [0, 1]');
  if (!r.settings || typeof r.settings !== 'object' || Array.isArray(r.settings))
    bad('settings must be an object');
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
  return r as CellRecord;
}

/** The card's cell record for `column` on `data` (validated), or null when it has none. */
export function readCellRecord(
  card: ModelCard,
  column: string,
  data: string,
  where: string,
): CellRecord | null {
  const key = cellKey(column, data);
  const v = card.metrics?.[key];
  return v === undefined ? null : parseCellRecord(v, `${where} (metrics['${key}'])`);
}

/** JSON with object keys sorted, so settings compare by content. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** What makes a record answer a cell: the same column, data, number of images and settings. */
export interface CellSetting {
  column: string;
  data: string;
  examples: number;
  settings: Record<string, unknown>;
}

/** Whether record `r` was measured in setting `s`. */
export function cellMatches(r: CellRecord | null, s: CellSetting): r is CellRecord {
  return (
    !!r &&
    r.column === s.column &&
    r.data === s.data &&
    r.examples === s.examples &&
    canonicalJson(r.settings) === canonicalJson(s.settings)
  );
}
