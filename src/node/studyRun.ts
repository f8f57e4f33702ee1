/**
 * `advlens zoo table --zoo cifar10 --table 1|2|atcnn` as a function: for each member of the table
 * that is trained, each cell read from its card where the card holds it for this setting, measured
 * otherwise and (with `record`) written into the card at once, so an interrupted run resumes cell by
 * cell; members without a model are rows "not trained yet". PGD-200 cells keep the `pgd200:<data>`
 * record of the MNIST Table 1 (zoo/robustRecord.ts), the others a `cell:<column>@<data>` record
 * (zoo/cellRecord.ts). Then the table with its findings (zoo/study.ts).
 */
import type { Dataset } from '../data/dataset.ts';
import { loadStylizedPairs } from './stylizedPairs.ts';
import { UserError } from '../errors.ts';
import type { Classifier } from '../models/classifier.ts';
import { versions } from '../version.ts';
import { CELL_BATCH } from '../zoo/measureCell.ts';
import {
  buildStudyTable,
  type StudyCell,
  type StudyDef,
  type StudyModel,
  type StudyTable,
} from '../zoo/study.ts';
import type { ZooEntry, ZooListing } from '../zoo/zoo.ts';
import { evaluate } from '../metrics/accuracy.ts';
import { SANITY_DEFAULTS, type SanitySettings } from '../zoo/measureSanity.ts';
import { PGD200 } from '../zoo/robustRecord.ts';
import type { TableSanity } from '../zoo/sanityCells.ts';
import { memberSanity } from './zooSanityRun.ts';
import { loadDatasetFor } from './loadData.ts';
import { loadClassifier } from './models.ts';
import { checkWorkers, withPool } from './pool.ts';
import { knownCell, measureCell, type CellOptions, type MemberContext } from './studyCells.ts';
import { AA_LIMIT, type AutoAttackCellSettings } from '../zoo/aaCells.ts';
import { autoattackCells } from './zooTableRun.ts';

/** Options of {@link studyRun}. */
export interface StudyRunOptions {
  def: StudyDef;
  /** The zoo's listing (listZoo(dir, CIFAR10_ZOO), or MNIST_ZOO for the MNIST AT-CNN table). */
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
  /**
   * Table 1 (PGD-200 columns): run the sanity checks on each member's cells (default true;
   * src/node/zooSanityRun.ts), reading from the card what it holds and measuring the rest.
   */
  sanity?: boolean;
  /** The checks' settings (default SANITY_DEFAULTS with the run's images per pass). */
  sanitySettings?: SanitySettings;
  onProgress?: (member: string, column: string, done: number, total: number) => void;
  /**
   * The settings of the table's AutoAttack columns (kind 'autoattack'; Table 1 with --autoattack),
   * needed when it has them: AA_STANDARD for the paper-grade evaluation.
   */
  autoattack?: AutoAttackCellSettings;
  /** Images the AutoAttack columns run on, the first N of the test set (default AA_LIMIT, 200). */
  aaLimit?: number;
}

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
  const checked = o.sanity !== false && def.columns.some((x) => x.kind === 'pgd200');
  const aaCols = def.columns.flatMap((col, j) => (col.kind === 'autoattack' ? [{ eps: col.eps, j }] : []));
  if (aaCols.length && !o.autoattack)
    throw new UserError('the table has AutoAttack columns: give their settings (autoattack: AA_STANDARD)');
  const aaLimit = o.aaLimit ?? AA_LIMIT;
  if (!Number.isInteger(aaLimit) || aaLimit < 1)
    throw new UserError(`aaLimit must be a positive integer (got ${aaLimit}); give --aa-limit 200`);
  const sanitySettings = o.sanitySettings ?? { ...SANITY_DEFAULTS, batchSize: opts.batchSize };
  const keep = (m: string) => !o.only || o.only.includes(m);
  const rows = def.rows.filter((r) => keep(r.member));
  const datasets = new Map<string, Dataset>();
  const models: StudyModel[] = [];
  let first: Dataset | undefined;
  let aaImages: number | null = null;
  const styles = new Map<string, MemberContext['stylized']>();
  const stylizedFor = async (c: Classifier, spec: string, clean: Dataset) => {
    const key = c.inputShape.join('x');
    if (!styles.has(key)) {
      const pairs = await loadStylizedPairs(spec, clean, c);
      styles.set(key, pairs ?? { data: await loadFor(c, spec), indices: null });
    }
    return styles.get(key)!;
  };
  const loadFor = async (c: Classifier, spec: string, limit = opts.limit): Promise<Dataset> => {
    const key = `${spec}|${c.inputShape.join('x')}|${limit}`;
    if (!datasets.has(key)) datasets.set(key, await loadDatasetFor(c, spec, { dataDir: o.dataDir, limit }));
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
      // (AutoAttack cells are read and measured together below.)
      const cells = def.columns.map((col) =>
        col.kind === 'autoattack' ? AA_PENDING : knownCell(ctx, col, opts),
      );
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
      if (aaCols.length) {
        const aaData = await loadFor(c, o.data, aaLimit);
        aaImages ??= aaData.size;
        const aa = await autoattackColumns(c, e, aaData, aaCols, o.autoattack!, opts);
        aaCols.forEach((x, i) => (cells[x.j] = aa.cells[i]));
        recorded += aa.recorded;
      }
      const sanity = checked
        ? await studySanity(c, e, data, cells as StudyCell[], opts, sanitySettings)
        : undefined;
      models.push({
        member: r.member,
        cardPath: e.cardPath,
        cells: cells as StudyCell[],
        recorded,
        ...(sanity ? { sanity } : {}),
      });
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
      ...(checked ? { sanity: sanitySettings } : {}),
      ...(aaCols.length && aaImages !== null
        ? { autoattack: { settings: o.autoattack!, examples: aaImages } }
        : {}),
      command: opts.command,
      versions: versions(),
    },
  );
}

/** Stands for an AutoAttack cell until {@link autoattackColumns} fills it. */
const AA_PENDING: StudyCell = { value: null, conditional: null, state: 'not measured' };

/**
 * A member's AutoAttack cells (zoo/aaCells.ts, the same records and journal as the MNIST Table 1's
 * column: src/node/zooTableRun.ts autoattackCells): read from the card where measured in the same
 * setting on the same weights, else measured (unless `cached`) with PGD-200 on the same images beside.
 */
async function autoattackColumns(
  c: Classifier,
  e: ZooEntry,
  data: Dataset,
  cols: { eps: number; j: number }[],
  settings: AutoAttackCellSettings,
  o: CellOptions,
): Promise<{ cells: StudyCell[]; recorded: number }> {
  const eps = cols.map((x) => x.eps);
  const r = await autoattackCells(c, e, data, eps, settings, {
    ...o,
    attack: { ...PGD200 },
    onProgress: (_member, done, total) => o.onProgress?.(e.dir, 'autoattack', done, total),
  });
  const cells = eps.map((x, i): StudyCell => {
    const run = r.runs.find((u) => u.eps.includes(x));
    const state = r.measured.includes(x) ? 'measured' : r.fromCard.includes(x) ? 'card' : 'not measured';
    return {
      value: r.values[i],
      conditional: null,
      state,
      ...(state === 'not measured' ? { note: 'not in the card (--cached)' } : {}),
      ...(run ? { measuredAt: run.measuredAt, command: run.command, versions: run.versions } : {}),
      examples: data.size,
      data: o.data,
      pgd200SameImages: r.pgd200SameImages?.[i] ?? null,
    };
  });
  return { cells, recorded: r.measured.length + (r.pgd200Added?.length ?? 0) };
}

/**
 * The sanity checks of a member's PGD-200 cells (src/node/zooSanityRun.ts): the budgets and values of
 * the table's pgd200 columns, with the clean accuracy on the images as the weights' fingerprint.
 */
function studySanity(
  c: Classifier,
  e: ZooEntry,
  data: Dataset,
  cells: StudyCell[],
  o: CellOptions,
  settings: SanitySettings,
): Promise<TableSanity> {
  const cols = o.def.columns.flatMap((col, j) => (col.kind === 'pgd200' ? [{ eps: col.eps, j }] : []));
  const clean = evaluate(c, data, { batchSize: o.batchSize }).accuracy;
  return memberSanity(
    c,
    e,
    data,
    cols.map((x) => x.eps),
    cols.map((x) => cells[x.j].value),
    clean,
    {
      ...o,
      attack: { ...PGD200 },
      settings,
      onProgress: (done, total, what) => o.onProgress?.(e.dir, `sanity ${what}`, done, total),
    },
  );
}
