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
import type { MetricRecord, ModelCard } from '../models/card.ts';
import { checkImages, checkProvenance, isFrac, readRecord, recordError, recordObject } from './cardRecord.ts';

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

/** Checks `value` against the cell format; a {@link UserError} naming `where` and the problem otherwise. */
export function parseCellRecord(value: unknown, where: string): CellRecord {
  const bad = recordError(
    where,
    'table cell',
    'delete that entry or measure it again with --record --recompute',
  );
  const r = recordObject(value, bad);
  if (typeof r.column !== 'string' || !r.column) bad('column must be a name');
  checkImages(r, bad);
  if (r.clean !== null && !isFrac(r.clean)) bad('clean must be null or a number in [0, 1]');
  if (r.conditional !== null && !isFrac(r.conditional)) bad('conditional must be null or a number in [0, 1]');
  if (!r.settings || typeof r.settings !== 'object' || Array.isArray(r.settings))
    bad('settings must be an object');
  checkProvenance(r, bad);
  return r as CellRecord;
}

/** The card's cell record for `column` on `data` (validated), or null when it has none. */
export function readCellRecord(
  card: ModelCard,
  column: string,
  data: string,
  where: string,
): CellRecord | null {
  return readRecord(card, cellKey(column, data), parseCellRecord, where);
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
