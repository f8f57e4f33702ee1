/**
 * `advlens zoo table` as a function: for each present zoo member, its PGD-200 accuracy at each
 * budget, read from its card where the card holds it for this setting and measured otherwise (on a
 * worker pool; the numbers do not depend on it), optionally recorded back into the card (merged
 * with what it holds, with the run that measured each value), then Table 1 (zoo/table.ts).
 * report/zoo.ts renders it.
 */
import type { Dataset } from '../data/dataset.ts';
import { UserError } from '../errors.ts';
import { zooNote } from '../zoo/paperSetting.ts';
import { ZOO_METHODS, type ZooEntry, type ZooListing } from '../zoo/zoo.ts';
import { measureRobust } from '../zoo/measure.ts';
import {
  mergeRobustRecord,
  runsFor,
  type RobustRun,
  PGD200,
  parseRobustRecord,
  readRobustRecord,
  robustKey,
  robustValues,
  sameEps,
  type RobustAttackSettings,
  type RobustRecord,
} from '../zoo/robustRecord.ts';
import { buildZooTable, type TableAutoAttack, type TableModel, type ZooTable } from '../zoo/table.ts';
import { robustnessAsync } from '../metrics/robustness.ts';
import { clearJournal, JOURNAL_FOLDER } from './batchJournal.ts';
import { attackRunnerFor } from './robustnessPool.ts';
import { evaluate } from '../metrics/accuracy.ts';
import type { Classifier } from '../models/classifier.ts';
import { cellKey, cellMatches, parseCellRecord, readCellRecord, type CellRecord } from '../zoo/cellRecord.ts';
import {
  AA_LIMIT,
  aaAttackOptions,
  aaColumn,
  aaSettingsRecord,
  pgdSameImages,
  type AutoAttackCellSettings,
  type Pgd200SameImages,
} from '../zoo/aaCells.ts';
import path from 'node:path';
import { readJson } from './fsio.ts';
import { SANITY_DEFAULTS, type SanitySettings } from '../zoo/measureSanity.ts';
import { memberSanity } from './zooSanityRun.ts';
import type { MetricRecord, ModelCard } from '../models/card.ts';
import { readOrRecompute } from '../zoo/cardRecord.ts';
import { versions } from '../version.ts';
import { loadDatasetFor } from './loadData.ts';
import { loadClassifier, recordMerged, recordMetric, recordPlace, updateCard } from './models.ts';
import { withCellPool, type WorkerPool } from './pool.ts';
import { poolAttackRunner } from './poolWorkerTasks.ts';

/** Options of {@link zooTableRun}. */
export interface ZooTableRunOptions {
  /** The zoo's listing (listZoo) and the members to put in the table. */
  zoo: ZooListing;
  present: ZooEntry[];
  /** L-inf budgets (sorted here). */
  eps: number[];
  /** Test set spec, where to look for it, and its first `limit` images. */
  data: string;
  dataDir?: string;
  limit: number;
  batchSize?: number;
  workers?: number;
  /** Write the measured accuracies (and the zoo note) into each card. */
  record?: boolean;
  /** Attack again where a card holds the numbers. */
  recompute?: boolean;
  /** Attack nothing: only what the cards hold. */
  cached?: boolean;
  /** Zoo methods kept (all when absent). */
  only?: string[];
  /**
   * Also measure each budget > 0 under L-inf AutoAttack with these settings (zoo/aaCells.ts;
   * AA_STANDARD for the paper-grade evaluation) on the first `aaLimit` images, one cell at a time,
   * each recorded into the card as soon as it is measured when `record` is set.
   */
  autoattack?: AutoAttackCellSettings;
  /** Images AutoAttack runs on (default AA_LIMIT, 200). */
  aaLimit?: number;
  /**
   * Run the sanity checks on each member's PGD-200 cells (default true; src/node/zooSanityRun.ts):
   * FGSM and noise at each budget, the unbounded budget once, read from the card where it holds them.
   */
  sanity?: boolean;
  /** The PGD settings (default PGD200, Table 1's; tests take fewer steps). Recorded with the numbers. */
  attack?: RobustAttackSettings;
  /** The checks' settings (default SANITY_DEFAULTS; tests attack fewer images in the unbounded run). */
  sanitySettings?: SanitySettings;
  /** The command line recorded with new measurements (default: a library call). */
  command?: string;
  onProgress?: (member: string, done: number, total: number, what: string) => void;
}

/** Builds Table 1 (see the file's comment). */
export async function zooTableRun(o: ZooTableRunOptions): Promise<ZooTable> {
  const eps = [...o.eps].sort((a, b) => a - b);
  if (o.cached && (o.record || o.recompute))
    throw new UserError('cached attacks nothing: it cannot go with record or recompute');
  if (eps.length === 0) throw new UserError('eps needs at least one budget');
  const { present, zoo: z } = o;
  const command = o.command ?? '(library call: zooTableRun)';
  const attack = { ...(o.attack ?? PGD200) };
  const sanitySettings = o.sanitySettings ?? {
    ...SANITY_DEFAULTS,
    batchSize: o.batchSize ?? SANITY_DEFAULTS.batchSize,
  };
  const datasets = new Map<string, Dataset>();
  const aaDatasets = new Map<string, Dataset>();
  const aaLimit = o.aaLimit ?? AA_LIMIT;
  if (!Number.isInteger(aaLimit) || aaLimit < 1)
    throw new UserError(`aaLimit must be a positive integer (got ${aaLimit}); give --aa-limit 200`);
  let aaExamples = 0;
  const tableModels: TableModel[] = [];
  let data: Dataset | undefined;
  for (const e of present) {
    const c = await loadClassifier(e.dir);
    const shapeKey = c.inputShape.join('x');
    if (!datasets.has(shapeKey))
      datasets.set(shapeKey, await loadDatasetFor(c, o.data, { dataDir: o.dataDir, limit: o.limit }));
    const d = datasets.get(shapeKey)!;
    data ??= d;
    if (d.size !== data.size)
      throw new UserError(`${e.dir} reads ${shapeKey} images: ${d.size} examples instead of ${data.size}`);
    const setting = { data: o.data, examples: d.size, attack };
    // A malformed record is an error unless it is about to be replaced.
    const old = readOrRecompute(() => readRobustRecord(c.card, o.data, e.cardPath), o.recompute);
    const cachedValues = o.recompute ? eps.map(() => null) : robustValues(old, setting, eps);
    const todo = eps.filter((_, j) => cachedValues[j] === null);
    const fromCard = eps.filter((_, j) => cachedValues[j] !== null);
    let values: (number | null)[] = cachedValues;
    let provenance = {
      measuredAt: old?.measuredAt ?? '',
      command: old?.command ?? '',
      versions: old?.versions ?? {},
    };
    // Which run measured each value shown: the card's runs for the budgets read from it.
    const runs: RobustRun[] = runsFor(old, fromCard);
    let recorded = false;
    // The clean accuracy the PGD numbers were measured with (the weights' fingerprint for the checks).
    let clean: number | null = old && fromCard.length ? old.accuracy : null;
    if (todo.length && !o.cached) {
      // All budgets in one measurement, its batches spread over the pool.
      const perBudget = Math.ceil(d.size / (o.batchSize ?? 100));
      const [m] = await withCellPool([todo], perBudget * todo.length, o.workers, (todo, pool) =>
        measureRobust(c, d, {
          eps: todo,
          attack,
          batchSize: o.batchSize,
          onProgress: (done, total, what) => o.onProgress?.(e.method, done, total, what),
          runner: pool ? poolAttackRunner(pool, { dir: e.dir }) : undefined,
        }),
      );
      values = eps.map((x, j) => {
        if (cachedValues[j] !== null) return cachedValues[j]!;
        const k = m.eps.findIndex((y) => sameEps(y, x));
        return m.robustAccuracy[k];
      });
      const record: RobustRecord = parseRobustRecord(
        {
          data: o.data,
          source: d.source,
          examples: d.size,
          accuracy: m.accuracy,
          attack,
          eps: m.eps.some((x) => sameEps(x, 0)) ? m.eps : [0, ...m.eps],
          robustAccuracy: m.eps.some((x) => sameEps(x, 0))
            ? m.robustAccuracy
            : [m.accuracy, ...m.robustAccuracy],
          measuredAt: new Date().toISOString(),
          command,
          versions: versions(),
          seconds: m.seconds,
        },
        'the new measurement',
      );
      provenance = { measuredAt: record.measuredAt, command, versions: record.versions };
      clean = m.accuracy;
      runs.push(...runsFor(record, todo));
      if (o.record) {
        const place = recordPlace(robustKey(o.data), parseRobustRecord, e.cardPath, o.recompute);
        recordMerged(e.dir, c.card, place, (cur) => mergeRobustRecord(cur, record));
        recorded = true;
      }
    }
    if (o.record) {
      // How this member's training differs from the papers', from its own card.
      const note = zooNote(c.card, e.method, { data: o.data, examples: d.size });
      updateCard(e.dir, c.card, (card) => ({ ...card, zoo: note }));
    }
    const sanity =
      o.sanity === false
        ? undefined
        : await memberSanity(c, e, d, eps, values, clean, {
            ...o,
            attack,
            settings: sanitySettings,
            command,
            onProgress: (done, total, what) => o.onProgress?.(`${e.method} sanity`, done, total, what),
          });
    let autoattack: TableAutoAttack | undefined;
    if (o.autoattack) {
      if (!aaDatasets.has(shapeKey))
        aaDatasets.set(shapeKey, await loadDatasetFor(c, o.data, { dataDir: o.dataDir, limit: aaLimit }));
      const da = aaDatasets.get(shapeKey)!;
      aaExamples = da.size;
      autoattack = await autoattackCells(c, e, da, eps, o.autoattack, { ...o, command, attack });
    }
    c.model.dispose();
    tableModels.push({
      ...(autoattack ? { autoattack } : {}),
      ...(sanity ? { sanity } : {}),
      method: e.method,
      cardPath: e.cardPath,
      values,
      fromCard,
      measured: o.cached ? [] : todo,
      unmeasured: o.cached ? todo : [],
      cached: o.cached || todo.length === 0,
      ...provenance,
      runs,
      recorded,
    });
  }
  const only = o.only;
  const methods = ZOO_METHODS.filter((m) => !only || only.includes(m.method));
  const table = buildZooTable({
    eps,
    methods,
    models: tableModels,
    missing: z.missing
      .filter((m) => methods.some((x) => x.method === m.method))
      .map((m) => ({ method: m.method, reason: m.reason, train: m.train })),
    data: { spec: o.data, source: data!.source, examples: data!.size },
    attack,
    ...(o.autoattack ? { autoattack: { settings: o.autoattack, examples: aaExamples } } : {}),
    ...(o.sanity === false ? {} : { sanity: sanitySettings }),
    command,
    versions: versions(),
  });
  return table;
}

/**
 * One member's AutoAttack cells at the budgets > 0 of `eps` (eps 0 has none: null): each read from
 * its `cell:autoattack-linf:<eps>@<data>` record when that was measured in the same setting, else
 * (unless `cached`) measured on a worker pool, several cells at once to keep the workers busy, and
 * with `record` written into the card as soon as it is measured. Each cell also gets PGD-200 (the
 * table's `attack`) on exactly its images; a cell read from the card without that number gets only
 * it measured (not AutoAttack again), and with `record` added to its record.
 */
export async function autoattackCells(
  c: Classifier,
  e: Pick<ZooEntry, 'method' | 'dir' | 'cardPath'>,
  data: Dataset,
  eps: number[],
  s: AutoAttackCellSettings,
  o: Pick<
    ZooTableRunOptions,
    'data' | 'batchSize' | 'workers' | 'record' | 'recompute' | 'cached' | 'onProgress'
  > & {
    command: string;
    attack: RobustAttackSettings;
  },
): Promise<TableAutoAttack> {
  const settings = aaSettingsRecord(s);
  const setting = (x: number) => ({ column: aaColumn(x), data: o.data, examples: data.size, settings });
  const card = () => readJson<ModelCard>(e.cardPath, 'model card');
  // The clean accuracy on these images identifies the weights a recorded cell was measured with.
  const clean = eps.some((x) => !sameEps(x, 0)) ? evaluate(c, data, { batchSize: s.batchSize }).accuracy : 0;
  const values: (number | null)[] = eps.map(() => null);
  const pgdValues: (number | null)[] = eps.map(() => null);
  const fromCard: number[] = [];
  const todo: number[] = [];
  // Cells read from the card without PGD-200 on their images: only that number is measured.
  const pgdTodo: CellRecord[] = [];
  const runs: RobustRun[] = [];
  for (const [j, x] of eps.entries()) {
    if (sameEps(x, 0)) continue;
    const old = readOrRecompute(() => readCellRecord(card(), aaColumn(x), o.data, e.cardPath), o.recompute);
    if (!o.recompute && cellMatches(old, setting(x)) && Math.abs((old.clean ?? -1) - clean) < 1e-12) {
      values[j] = old.accuracy;
      pgdValues[j] = pgdSameImages(old, o.attack, e.cardPath);
      if (pgdValues[j] === null) pgdTodo.push(old);
      fromCard.push(x);
      const { measuredAt, command, versions: v, seconds } = old;
      runs.push({ eps: [x], measuredAt, command, versions: v, seconds });
    } else todo.push(x);
  }
  const measured: number[] = [];
  const pgdAdded: number[] = [];
  const at = (x: number) => eps.findIndex((y) => sameEps(y, x));
  if ((todo.length || pgdTodo.length) && !o.cached) {
    const done = new Map<string, number>();
    const total = (todo.length * 2 + pgdTodo.length) * data.size;
    // The cells finished so far, e.g. "eps 0.05 0.88 (PGD-200 0.9)", for the logs of long runs.
    const finished: string[] = [];
    const tick = () =>
      o.onProgress?.(
        `${e.method} autoattack`,
        [...done.values()].reduce((a, b) => a + b, 0),
        total,
        finished.length ? `done: ${finished.join(', ')}` : 'autoattack',
      );
    // With --record, each batch of a cell is journaled in the model's folder as it finishes, so a
    // run stopped part way resumes batch by batch (node/batchJournal.ts); cleared once recorded.
    const journal = (x: number) =>
      path.join(e.dir, JOURNAL_FOLDER, `${aaColumn(x)}@${o.data}`.replace(/[^A-Za-z0-9._-]/g, '_'));
    const runnerFor = (x: number, pool: WorkerPool | null) =>
      attackRunnerFor(
        c,
        pool,
        { dir: e.dir },
        o.record ? { dir: journal(x), data: o.data, limit: data.size } : undefined,
      );
    // PGD-200 at budget x on exactly these images, as the table measures it on its images.
    const pgdOn = async (x: number, pool: WorkerPool | null): Promise<Pgd200SameImages> => {
      const t0 = performance.now();
      const m = await measureRobust(c, data, {
        eps: [x],
        attack: o.attack,
        batchSize: o.batchSize,
        onProgress: (d, t) => {
          done.set(`pgd ${x}`, Math.round((d / t) * data.size));
          tick();
        },
        runner: await runnerFor(x, pool),
      });
      return {
        accuracy: m.robustAccuracy[m.eps.findIndex((y) => sameEps(y, x))],
        examples: data.size,
        attack: { ...o.attack },
        measuredAt: new Date().toISOString(),
        command: o.command,
        seconds: (performance.now() - t0) / 1000,
      };
    };
    type Job = { x: number; old: CellRecord | null };
    const jobs: Job[] = [
      ...todo.map((x) => ({ x, old: null })),
      ...pgdTodo.map((old) => ({ x: epsOfColumn(eps, old.column), old })),
    ];
    await withCellPool(jobs, Math.ceil(data.size / s.batchSize), o.workers, async ({ x, old }, pool) => {
      if (old) {
        const pgd = await pgdOn(x, pool);
        pgdValues[at(x)] = pgd.accuracy;
        pgdAdded.push(x);
        // The card's cell as it was, with the PGD-200 number added (AutoAttack is not run again).
        if (o.record) {
          recordMetric(e.dir, c.card, cellKey(aaColumn(x), o.data), {
            ...old,
            pgd200SameImages: pgd,
          } as unknown as MetricRecord);
          clearJournal(journal(x));
        }
        return;
      }
      const t0 = performance.now();
      const r = await robustnessAsync(c, data, {
        attacks: ['autoattack'],
        eps: [x],
        attack: aaAttackOptions(s) as never,
        batchSize: s.batchSize,
        sanity: false,
        runner: await runnerFor(x, pool),
        onProgress: (d, t) => {
          done.set(`aa ${x}`, Math.round((d / t) * data.size));
          tick();
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      const pgd = await pgdOn(x, pool);
      const row = r.rows[0];
      const rec = parseCellRecord(
        {
          column: aaColumn(x),
          data: o.data,
          source: data.source,
          examples: data.size,
          accuracy: row.accuracy,
          clean: r.clean.accuracy,
          conditional: null,
          settings,
          measuredAt: new Date().toISOString(),
          command: o.command,
          versions: versions(),
          seconds,
          pgd200SameImages: pgd,
        },
        'the new measurement',
      );
      values[at(x)] = rec.accuracy;
      pgdValues[at(x)] = pgd.accuracy;
      measured.push(x);
      runs.push({
        eps: [x],
        measuredAt: rec.measuredAt,
        command: rec.command,
        versions: rec.versions,
        seconds: rec.seconds,
      });
      // Written at once (recordMetric re-reads the card: another cell may have been recorded meanwhile).
      if (o.record) {
        recordMetric(e.dir, c.card, cellKey(aaColumn(x), o.data), rec);
        clearJournal(journal(x));
      }
      finished.push(`eps ${x} ${rec.accuracy} (PGD-200 ${pgd.accuracy}, ${Math.round(seconds)} s)`);
      tick();
    });
  }
  measured.sort((a, b) => a - b);
  pgdAdded.sort((a, b) => a - b);
  return {
    values,
    fromCard,
    measured,
    unmeasured: o.cached ? todo : [],
    recorded: o.record === true && (measured.length > 0 || pgdAdded.length > 0),
    runs: runs.sort((a, b) => a.eps[0] - b.eps[0]),
    pgd200SameImages: pgdValues,
    pgd200Added: pgdAdded,
  };
}

/** The budget of `eps` whose AutoAttack column is `column`. */
function epsOfColumn(eps: number[], column: string): number {
  return eps.find((x) => aaColumn(x) === column)!;
}
