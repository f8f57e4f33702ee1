/**
 * The cells of a zoo table for one member (src/node/studyRun.ts runs them): what its card already
 * holds for a cell ({@link knownCell}), or the cell measured and, with `record`, written into the
 * card at once ({@link measureCell}); PGD-200 cells in the `pgd200:<data>` record, merged budget by
 * budget, the others as `cell:<column>@<data>` records.
 */
import { subset, type Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import type { ModelCard } from '../models/card.ts';
import { versions } from '../version.ts';
import { measureRobust } from '../zoo/measure.ts';
import {
  mergeRobustRecord,
  parseRobustRecord,
  PGD200,
  readRobustRecord,
  recordRuns,
  robustKey,
  robustValues,
  sameEps,
} from '../zoo/robustRecord.ts';
import {
  cellKey,
  cellMatches,
  parseCellRecord,
  readCellRecord,
  type CellSetting,
} from '../zoo/cellRecord.ts';
import {
  measureAttackCell,
  measureDataCell,
  measurePairedCell,
  measureTransformCell,
  type CellMeasurement,
} from '../zoo/measureCell.ts';
import { tableTransform } from '../zoo/tableTransforms.ts';
import type { StudyCell, StudyColumn } from '../zoo/study.ts';
import { recordMerged, recordMetric, recordPlace } from './models.ts';
import { readOrRecompute } from '../zoo/cardRecord.ts';
import type { WorkerPool } from './pool.ts';
import { readJson } from './fsio.ts';
import { poolAttackRunner } from './poolWorkerTasks.ts';
import { stylizeProvenanceOf } from './stylizedPairs.ts';
import type { StudyRunOptions } from './studyRun.ts';

/** What is needed to measure a member: its model, folder and the loaded test sets. */
export interface MemberContext {
  c: Classifier;
  dir: string;
  cardPath: string;
  data: Dataset;
  /** The stylised copy: paired image by image with `data`'s images `indices`, or unpaired (null). */
  stylized: { data: Dataset; indices: number[] | null } | null;
  /** The worker pool attacks run on (null: in this thread). */
  pool: WorkerPool | null;
  /** The model's clean predictions on `data`, once a cell has computed them (shared by the transform cells). */
  clean?: { predictions: Int32Array | null };
}

const provenanceOf = (r: {
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  examples: number;
  data: string;
}) => ({
  measuredAt: r.measuredAt,
  command: r.command,
  versions: r.versions,
  examples: r.examples,
  data: r.data,
});

export type CellOptions = StudyRunOptions & {
  seed: number;
  batchSize: number;
  command: string;
  limit: number;
};

/** How a non-PGD cell is measured: its data, settings and measurement; or the cell it stays. */
type CellPlan =
  | { empty: StudyCell }
  | {
      data: Dataset;
      dataSpec: string;
      settings: Record<string, unknown>;
      measure: () => Promise<CellMeasurement> | CellMeasurement;
    };

/** The member's shared holder of clean predictions (created on first use). */
const cleanOf = (ctx: MemberContext) => (ctx.clean ??= { predictions: null });

function planCell(
  ctx: MemberContext,
  col: Exclude<StudyColumn, { kind: 'pgd200' } | { kind: 'autoattack' }>,
  o: CellOptions,
): CellPlan {
  const progress = (done: number, total: number) => o.onProgress?.(ctx.dir, col.label, done, total);
  const { c, data } = ctx;
  const batchSize = o.batchSize;
  if (col.kind === 'clean')
    return {
      data,
      dataSpec: o.data,
      settings: { batchSize },
      measure: () => measureTransformCell(c, data, null, { seed: o.seed, batchSize, clean: cleanOf(ctx) }),
    };
  if (col.kind === 'transform') {
    const t = tableTransform(col.transform, col.param);
    if (!t)
      return {
        empty: {
          value: null,
          conditional: null,
          state: 'not available',
          note: `no '${col.transform}' transform installed (src/zoo/tableTransforms.ts)`,
        },
      };
    return {
      data,
      dataSpec: o.data,
      settings: { transform: col.transform, param: col.param, seed: o.seed },
      measure: () =>
        measureTransformCell(c, data, t, {
          seed: o.seed,
          batchSize,
          onProgress: progress,
          clean: cleanOf(ctx),
        }),
    };
  }
  if (col.kind === 'stylized') {
    const d = ctx.stylized;
    if (!d || !o.stylizedData)
      return {
        empty: {
          value: null,
          conditional: null,
          state: 'not measured',
          note: 'give the stylised test set with --stylized-data (made once by advlens stylize)',
        },
      };
    const idx = d.indices;
    return {
      data: d.data,
      dataSpec: o.stylizedData,
      // What made the set, so a cell measured on one set is not read back for another at this path.
      settings: { paired: idx !== null, stylizedBy: stylizeProvenanceOf(o.stylizedData) },
      measure: () =>
        idx
          ? measurePairedCell(c, subset(data, idx), d.data, { batchSize })
          : measureDataCell(c, d.data, { batchSize }),
    };
  }
  return {
    data,
    dataSpec: o.data,
    settings: { attack: col.attack, eps: col.eps, steps: col.steps, seed: o.seed, batchSize },
    measure: () =>
      measureAttackCell(c, data, {
        attack: col.attack,
        eps: col.eps,
        steps: col.steps,
        seed: o.seed,
        batchSize,
        runner: ctx.pool ? poolAttackRunner(ctx.pool, { dir: ctx.dir }) : undefined,
        onProgress: (d, t) => progress(d, t),
      }),
  };
}

/** A card's record of `data`, or null; a malformed one is an error unless it is about to be measured again. */
const readOr = <T>(read: () => T | null, o: CellOptions): T | null => readOrRecompute(read, o.recompute);

/** The cell from the member's card, or why it stays empty; null when it has to be measured. */
export function knownCell(ctx: MemberContext, col: StudyColumn, o: CellOptions): StudyCell | null {
  const card = readJson<ModelCard>(ctx.cardPath, 'model card');
  const notInCard: StudyCell = {
    value: null,
    conditional: null,
    state: 'not measured',
    note: 'not in the card (--cached)',
  };
  if (col.kind === 'autoattack')
    throw new Error('knownCell: AutoAttack cells are read by studyRun (autoattackCells)');
  if (col.kind === 'pgd200') {
    const old = readOr(() => readRobustRecord(card, o.data, ctx.cardPath), o);
    const setting = { data: o.data, examples: ctx.data.size, attack: PGD200 };
    const [v] = o.recompute ? [null] : robustValues(old, setting, [col.eps]);
    if (v !== null && old) {
      const run = recordRuns(old).find((r) => r.eps.some((x) => sameEps(x, col.eps))) ?? old;
      return {
        value: v,
        conditional: null,
        state: 'card',
        ...provenanceOf({ ...run, examples: old.examples, data: old.data }),
      };
    }
    return o.cached ? notInCard : null;
  }
  const plan = planCell(ctx, col, o);
  if ('empty' in plan) return plan.empty;
  const old = readOr(() => readCellRecord(card, col.key, plan.dataSpec, ctx.cardPath), o);
  const setting: CellSetting = {
    column: col.key,
    data: plan.dataSpec,
    examples: plan.data.size,
    settings: plan.settings,
  };
  if (!o.recompute && cellMatches(old, setting))
    return { value: old.accuracy, conditional: old.conditional, state: 'card', ...provenanceOf(old) };
  return o.cached ? notInCard : null;
}

/** Measures one cell and, with `record`, writes it into the card at once. */
export async function measureCell(
  ctx: MemberContext,
  col: StudyColumn,
  o: CellOptions,
  onRecord: () => void,
): Promise<StudyCell> {
  if (col.kind === 'pgd200') return pgdCell(ctx, col, o, onRecord);
  if (col.kind === 'autoattack')
    throw new Error('measureCell: AutoAttack cells are measured by studyRun (autoattackCells)');
  const plan = planCell(ctx, col, o);
  if ('empty' in plan) return plan.empty;
  const m = await plan.measure();
  const record = parseCellRecord(
    {
      column: col.key,
      data: plan.dataSpec,
      source: plan.data.source,
      examples: m.examples,
      accuracy: m.accuracy,
      clean: m.clean,
      // On the clean images every clean-correct image is still right.
      conditional: col.kind === 'clean' ? (m.accuracy > 0 ? 1 : null) : m.conditional,
      settings: plan.settings,
      ...(m.options ? { options: m.options } : {}),
      measuredAt: new Date().toISOString(),
      command: o.command,
      versions: versions(),
      seconds: m.seconds,
    },
    'the new measurement',
  );
  if (o.record) {
    recordMetric(ctx.dir, ctx.c.card, cellKey(col.key, plan.dataSpec), record);
    onRecord();
  }
  return {
    value: record.accuracy,
    conditional: record.conditional,
    state: 'measured',
    ...provenanceOf(record),
  };
}

/** A PGD-200 cell, merged budget by budget into the member's `pgd200:<data>` record. */
async function pgdCell(
  ctx: MemberContext,
  col: Extract<StudyColumn, { kind: 'pgd200' }>,
  o: CellOptions,
  onRecord: () => void,
): Promise<StudyCell> {
  const attack = { ...PGD200 };
  const m = await measureRobust(ctx.c, ctx.data, {
    eps: [col.eps],
    attack,
    batchSize: o.batchSize,
    onProgress: (d, t) => o.onProgress?.(ctx.dir, col.label, d, t),
    runner: ctx.pool && col.eps > 0 ? poolAttackRunner(ctx.pool, { dir: ctx.dir }) : undefined,
  });
  const withZero = sameEps(m.eps[0], 0);
  const record = parseRobustRecord(
    {
      data: o.data,
      source: ctx.data.source,
      examples: ctx.data.size,
      accuracy: m.accuracy,
      attack,
      eps: withZero ? m.eps : [0, ...m.eps],
      robustAccuracy: withZero ? m.robustAccuracy : [m.accuracy, ...m.robustAccuracy],
      measuredAt: new Date().toISOString(),
      command: o.command,
      versions: versions(),
      seconds: m.seconds,
    },
    'the new measurement',
  );
  if (o.record) {
    // Merged into the record on disk: an earlier cell of this run may have merged into it.
    const place = recordPlace(robustKey(o.data), parseRobustRecord, ctx.cardPath, o.recompute);
    recordMerged(ctx.dir, ctx.c.card, place, (old) => mergeRobustRecord(old, record));
    onRecord();
  }
  return {
    value: m.robustAccuracy[m.robustAccuracy.length - 1],
    conditional: null,
    state: 'measured',
    ...provenanceOf(record),
  };
}
