/**
 * `advlens zoo table --table 3` as a function: for each present zoo member and each budget (a cell),
 * Kendall's tau between the clean and the AAI-attacked CAM (src/attacks/aai.ts) on the first `limit`
 * test images, read from the member's card where the card holds that cell for this setting (same
 * images, same weights by their clean accuracy, same attack) and measured otherwise, on a worker pool
 * (the numbers do not depend on it: batch b of a cell has its own seed). With `record`, each cell is
 * written into the card as soon as it is measured, so an interrupted run loses only the cells in
 * progress and the next run measures only what is missing. Then Table 3 (zoo/table3.ts).
 */
import type { Dataset } from '../data/dataset.ts';
import { UserError } from '../errors.ts';
import { evaluate } from '../metrics/accuracy.ts';
import { runItems, runSpec } from '../metrics/attackRun.ts';
import { itemBatch } from '../metrics/robustness.ts';
import { attackBatch, type AttackBatchOut, type AttackItem } from '../metrics/attackBatch.ts';
import type { AttackRunner } from '../metrics/robustTypes.ts';
import type { Classifier } from '../models/classifier.ts';
import * as tf from '@tensorflow/tfjs-core';
import { ZOO_METHODS, type ZooEntry, type ZooListing } from '../zoo/zoo.ts';
import {
  AAI200,
  aaiCell,
  aaiKey,
  aaiRunOf,
  addAaiCell,
  parseAaiRecord,
  readAaiRecord,
  tauStats,
  type AaiCell,
  type AaiSettings,
} from '../zoo/aaiRecord.ts';
import { readOrRecompute, type RecordRun as RobustRun } from '../zoo/cardRecord.ts';
import { SEED_ROW_OF } from '../zoo/seedTable.ts';
import { buildZooTable3, type Table3Model, type ZooTable3 } from '../zoo/table3.ts';
import { versions } from '../version.ts';
import { loadDatasetFor } from './loadData.ts';
import { loadClassifier, recordMerged, recordPlace } from './models.ts';
import { checkWorkers, withCellPool } from './pool.ts';
import { poolAttackRunner } from './poolWorkerTasks.ts';

/** Options of {@link zooTable3Run}. */
export interface ZooTable3RunOptions {
  zoo: ZooListing;
  present: ZooEntry[];
  /** L-inf budgets (sorted here; all > 0). */
  eps: number[];
  data: string;
  dataDir?: string;
  /** The first `limit` images of `data`. */
  limit: number;
  workers?: number;
  /** Write each measured cell into its card as soon as it is measured. */
  record?: boolean;
  /** Measure again where a card holds the cell. */
  recompute?: boolean;
  /** Measure nothing: only what the cards hold. */
  cached?: boolean;
  /** AAI settings, with the images per batch (default {@link AAI200}; tests use fewer steps). */
  attack?: AaiSettings;
  /** Zoo methods kept in the table (default: the paper's ten). */
  only?: string[];
  command?: string;
  onProgress?: (member: string, done: number, total: number, what: string) => void;
}

/** The options attack 'aai' is called with for settings `a` (Integrated Gradients skipped: the table is CAM's). */
export function aaiOptions(a: AaiSettings): Record<string, unknown> {
  const { name: _n, batchSize: _b, ...o } = a;
  return { ...o, igSteps: 0 };
}

/** Measures one cell: AAI at `eps` on every image of `data`, batches run by `runner`. */
export async function measureAaiCell(
  data: Dataset,
  eps: number,
  attack: AaiSettings,
  runner: AttackRunner,
  done: (item: AttackItem) => void = () => undefined,
): Promise<{ cell: AaiCell; seconds: number }> {
  const t0 = performance.now();
  const items = runItems(runSpec('aai', eps, data.size), aaiOptions(attack) as never, attack.batchSize);
  const outs = await runner(items, data, done);
  const tau = outs.flatMap((o) => o.metrics.kendallTau);
  const changed = outs.reduce((s, o) => s + o.metrics.predictionChanged.reduce((a, v) => a + v, 0), 0);
  const st = tauStats(tau);
  return {
    cell: { eps, tauMean: st.mean, tauMedian: st.median, counted: st.counted, changed },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Runs items one after the other in this thread with `model`. */
function localRunner(model: Classifier): AttackRunner {
  return async (items, data, done) =>
    items
      .map((item): AttackBatchOut => {
        const batch = itemBatch(data, item);
        try {
          return attackBatch(model, batch, item);
        } finally {
          tf.dispose([batch.x, batch.y]);
        }
      })
      .map((o, i) => (done(items[i]), o));
}

/** Builds Table 3 (see the file's comment). */
export async function zooTable3Run(o: ZooTable3RunOptions): Promise<ZooTable3> {
  if (o.cached && (o.record || o.recompute))
    throw new UserError('cached measures nothing: it cannot go with record or recompute');
  const eps = [...new Set(o.eps)].sort((a, b) => a - b);
  if (eps.length === 0) throw new UserError('eps needs at least one budget');
  for (const e of eps)
    if (!(e > 0)) throw new UserError(`Table 3 budgets must be > 0 (got eps ${e}); drop eps 0 from --eps`);
  const attack = { ...(o.attack ?? AAI200) };
  const command = o.command ?? '(library call: zooTable3Run)';
  const batchSize = attack.batchSize;
  checkWorkers(o.workers);
  const keep = o.only ?? ZOO_METHODS.filter((m) => SEED_ROW_OF[m.method]).map((m) => m.method);
  const methods = ZOO_METHODS.filter((m) => keep.includes(m.method));
  const present = o.present.filter((e) => keep.includes(e.method));
  if (present.length === 0)
    throw new UserError(
      `no zoo model for ${keep.join(', ')} in ${o.zoo.modelsDir}; 'advlens zoo' says how to train them`,
    );
  const models: Table3Model[] = [];
  let data: Dataset | undefined;
  // The pool starts only where a model has cells to measure (as Table 1's run): a run that reads
  // everything from the cards starts no worker.
  {
    for (const e of present) {
      const c = await loadClassifier(e.dir);
      const d = await loadDatasetFor(c, o.data, { dataDir: o.dataDir, limit: o.limit });
      data ??= d;
      if (d.size !== data.size) throw new UserError(`${e.dir}: ${d.size} examples instead of ${data.size}`);
      const old = readOrRecompute(() => readAaiRecord(c.card, o.data, e.cardPath), o.recompute);
      // The clean accuracy on these images identifies the weights a recorded cell was measured with.
      const accuracy = evaluate(c, d, { batchSize }).accuracy;
      const setting = { data: o.data, examples: d.size, accuracy, attack };
      const cells: (AaiCell | null)[] = eps.map((x) => (o.recompute ? null : aaiCell(old, setting, x)));
      const fromCard = eps.filter((_, j) => cells[j] !== null);
      const todo = eps.filter((_, j) => cells[j] === null);
      const runs: RobustRun[] = fromCard.map((x) => aaiRunOf(old, x)!);
      const measured: number[] = [];
      let images = 0;
      const total = todo.length * d.size;
      // Enough cells at once to keep every worker busy; each is recorded as it finishes.
      await withCellPool(o.cached ? [] : todo, Math.ceil(d.size / batchSize), o.workers, async (x, pool) => {
        const runner = pool ? poolAttackRunner(pool, { dir: e.dir }) : localRunner(c);
        const m = await measureAaiCell(d, x, attack, runner, (item) => {
          images += item.count;
          o.onProgress?.(e.method, images, total, `eps ${x}`);
        });
        const run = {
          measuredAt: new Date().toISOString(),
          command,
          versions: versions(),
          seconds: m.seconds,
        };
        cells[eps.indexOf(x)] = m.cell;
        measured.push(x);
        runs.push({ ...run, eps: [x] });
        if (o.record) {
          // Added to the record on disk (another command may have recorded into the card meanwhile).
          const place = recordPlace(aaiKey(o.data), parseAaiRecord, e.cardPath, o.recompute);
          recordMerged(e.dir, c.card, place, (cur) =>
            addAaiCell(cur, { ...setting, source: d.source }, m.cell, run),
          );
        }
      });
      c.model.dispose();
      measured.sort((a, b) => a - b);
      models.push({
        method: e.method,
        cardPath: e.cardPath,
        cells,
        fromCard,
        measured,
        unmeasured: o.cached ? todo : [],
        recorded: o.record === true && measured.length > 0,
        runs: runs.sort((a, b) => a.eps[0] - b.eps[0]),
      });
    }
  }
  return buildZooTable3({
    eps,
    methods,
    models,
    missing: o.zoo.missing
      .filter((m) => methods.some((x) => x.method === m.method))
      .map((m) => ({ method: m.method, reason: m.reason, train: m.train })),
    data: { spec: o.data, source: data!.source, examples: data!.size },
    attack,
    command,
    versions: versions(),
  });
}
