/**
 * `advlens zoo table --zoo cifar10 --table 1|2|atcnn` as a function: for each member of the table
 * that is trained, each cell read from its card where the card holds it for this setting, measured
 * otherwise and (with `record`) written into the card at once, so an interrupted run resumes cell by
 * cell; members without a model are rows "not trained yet". PGD-200 cells keep the `pgd200:<data>`
 * record of the MNIST Table 1 (zoo/robustRecord.ts), the others a `cell:<column>@<data>` record
 * (zoo/cellRecord.ts). Then the table with its findings (zoo/study.ts).
 */
import { subset, type Dataset } from '../data/dataset.ts';
import { loadStylizedPairs } from './stylizedPairs.ts';
import { UserError } from '../errors.ts';
import type { Classifier } from '../models/classifier.ts';
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
  CELL_BATCH,
  measureAttackCell,
  measureDataCell,
  measurePairedCell,
  measureTransformCell,
  type CellMeasurement,
} from '../zoo/measureCell.ts';
import { tableTransform } from '../zoo/tableTransforms.ts';
import {
  buildStudyTable,
  type StudyCell,
  type StudyColumn,
  type StudyDef,
  type StudyModel,
  type StudyTable,
} from '../zoo/study.ts';
import type { ZooListing } from '../zoo/zoo.ts';
import { loadDatasetFor } from './loadData.ts';
import { loadClassifier, recordMetric } from './models.ts';
import { checkWorkers, withPool, type WorkerPool } from './pool.ts';
import { readJson } from './fsio.ts';
import type { ModelCard } from '../models/card.ts';
import { poolAttackRunner } from './poolWorkerTasks.ts';

/** Options of {@link studyRun}. */
export interface StudyRunOptions {
  def: StudyDef;
  /** The CIFAR-10 zoo's listing (listZoo(dir, CIFAR10_ZOO)). */
  zoo: ZooListing;
  /** Test set spec, where to look for it, and its first `limit` images (default the table's). */
  data: string;
  dataDir?: string;
  limit?: number;
  /** The stylised copy of the test set (a spec, e.g. folder:DIR) for AT-CNN's stylised column. */
  stylizedData?: string;
  /** Seed of the transforms and unforeseen attacks (default 1). */
  seed?: number;
  batchSize?: number;
  workers?: number;
  record?: boolean;
  recompute?: boolean;
  cached?: boolean;
  /** Members kept (all rows when absent). */
  only?: string[];
  command?: string;
  onProgress?: (member: string, column: string, done: number, total: number) => void;
}

/** What is needed to measure a member: its model, folder and the loaded test sets. */
interface MemberContext {
  c: Classifier;
  dir: string;
  cardPath: string;
  data: Dataset;
  /** The stylised copy: paired image by image with `data`'s images `indices`, or unpaired (null). */
  stylized: { data: Dataset; indices: number[] | null } | null;
  /** The worker pool attacks run on (null: in this thread). */
  pool: WorkerPool | null;
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

/** Builds the table `o.def` (see the file's comment). */
export async function studyRun(o: StudyRunOptions): Promise<StudyTable> {
  if (o.cached && (o.record || o.recompute))
    throw new UserError('cached measures nothing: it cannot go with record or recompute');
  const def = o.def;
  const opts: CellOptions = {
    ...o,
    limit: o.limit ?? def.defaultLimit,
    seed: o.seed ?? 1,
    batchSize: o.batchSize ?? CELL_BATCH,
    command: o.command ?? '(library call: studyRun)',
  };
  const keep = (m: string) => !o.only || o.only.includes(m);
  const rows = def.rows.filter((r) => keep(r.member));
  const datasets = new Map<string, Dataset>();
  const models: StudyModel[] = [];
  let first: Dataset | undefined;
  const styles = new Map<string, MemberContext['stylized']>();
  const stylizedFor = async (c: Classifier, spec: string, clean: Dataset) => {
    const key = c.inputShape.join('x');
    if (!styles.has(key)) {
      const pairs = await loadStylizedPairs(spec, clean, c);
      styles.set(key, pairs ?? { data: await loadFor(c, spec), indices: null });
    }
    return styles.get(key)!;
  };
  const loadFor = async (c: Classifier, spec: string): Promise<Dataset> => {
    const key = `${spec}|${c.inputShape.join('x')}`;
    if (!datasets.has(key))
      datasets.set(key, await loadDatasetFor(c, spec, { dataDir: o.dataDir, limit: opts.limit }));
    return datasets.get(key)!;
  };
  for (const r of rows) {
    const e = o.zoo.present.find((p) => p.method === r.member);
    if (!e) continue;
    const c = await loadClassifier(e.dir);
    try {
      const data = await loadFor(c, o.data);
      first ??= data;
      if (data.size !== first.size)
        throw new UserError(
          `${e.dir} reads ${c.inputShape.join('x')} images: ${data.size} examples instead of ${first.size}`,
        );
      const stylized =
        def.columns.some((x) => x.kind === 'stylized') && o.stylizedData
          ? await stylizedFor(c, o.stylizedData, data)
          : null;
      const ctx: MemberContext = { c, dir: e.dir, cardPath: e.cardPath, data, stylized, pool: null };
      // First what the card holds (or why a cell stays empty), then the rest, measured on one pool.
      const cells = def.columns.map((col) => knownCell(ctx, col, opts));
      const todo = def.columns.map((col, j) => (cells[j] ? null : col));
      let recorded = 0;
      const attacks = todo.filter((t) => t && (t.kind === 'attack' || (t.kind === 'pgd200' && t.eps > 0)));
      const n = attacks.length ? Math.min(checkWorkers(o.workers), Math.ceil(data.size / opts.batchSize)) : 1;
      await withPool(n, async (pool) => {
        ctx.pool = pool;
        for (const [j, col] of todo.entries()) {
          if (!col) continue;
          cells[j] = await measureCell(ctx, col, opts, () => recorded++);
        }
      });
      models.push({ member: r.member, cardPath: e.cardPath, cells: cells as StudyCell[], recorded });
    } finally {
      c.model.dispose();
    }
  }
  return buildStudyTable(
    { ...def, rows },
    {
      models,
      missing: o.zoo.missing
        .filter((m) => rows.some((r) => r.member === m.method))
        .map((m) => ({ member: m.method, reason: m.reason, train: m.train })),
      data: first ? { spec: o.data, source: first.source, examples: first.size } : null,
      stylizedData: o.stylizedData ?? null,
      command: opts.command,
      versions: versions(),
    },
  );
}

type CellOptions = StudyRunOptions & { seed: number; batchSize: number; command: string; limit: number };

/** How a non-PGD cell is measured: its data, settings and measurement; or the cell it stays. */
type CellPlan =
  | { empty: StudyCell }
  | {
      data: Dataset;
      dataSpec: string;
      settings: Record<string, unknown>;
      measure: () => Promise<CellMeasurement> | CellMeasurement;
    };

function planCell(
  ctx: MemberContext,
  col: Exclude<StudyColumn, { kind: 'pgd200' }>,
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
      measure: () => measureTransformCell(c, data, null, { seed: o.seed, batchSize }),
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
      measure: () => measureTransformCell(c, data, t, { seed: o.seed, batchSize, onProgress: progress }),
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
      settings: { paired: idx !== null },
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
function readOr<T>(read: () => T | null, o: CellOptions): T | null {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof UserError) || !o.recompute) throw err;
    return null;
  }
}

/** The cell from the member's card, or why it stays empty; null when it has to be measured. */
function knownCell(ctx: MemberContext, col: StudyColumn, o: CellOptions): StudyCell | null {
  const card = readJson<ModelCard>(ctx.cardPath, 'model card');
  const notInCard: StudyCell = {
    value: null,
    conditional: null,
    state: 'not measured',
    note: 'not in the card (--cached)',
  };
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
async function measureCell(
  ctx: MemberContext,
  col: StudyColumn,
  o: CellOptions,
  onRecord: () => void,
): Promise<StudyCell> {
  if (col.kind === 'pgd200') return pgdCell(ctx, col, o, onRecord);
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
    // Re-read the card: an earlier cell of this run may have merged into its record.
    const card = readJson<ModelCard>(ctx.cardPath, 'model card');
    const old = readOr(() => readRobustRecord(card, o.data, ctx.cardPath), o);
    recordMetric(ctx.dir, card, robustKey(o.data), mergeRobustRecord(old, record));
    onRecord();
  }
  return {
    value: m.robustAccuracy[m.robustAccuracy.length - 1],
    conditional: null,
    state: 'measured',
    ...provenanceOf(record),
  };
}
