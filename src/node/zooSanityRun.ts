/**
 * Table 1's sanity checks for one member (src/node/zooTableRun.ts calls it after its PGD-200 numbers):
 * the FGSM, noise and unbounded-budget numbers (zoo/measureSanity.ts) read from the card's
 * `sanity:pgd200@<data>` record where it holds them for these images, settings and weights, the
 * missing ones measured (unless `cached`; the unbounded run once per member) and with `record`
 * merged into the card, then the checks of each cell (zoo/sanityCells.ts). The PGD-200 numbers are
 * never attacked again here: the checks compare them as they are.
 */
import type { Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import type { ModelCard } from '../models/card.ts';
import { inList, keepBudgets, readOrRecompute } from '../zoo/cardRecord.ts';
import { UserError } from '../errors.ts';
import { measureSanity, type SanitySettings } from '../zoo/measureSanity.ts';
import type { RobustAttackSettings, RobustRun } from '../zoo/robustRecord.ts';
import {
  mergeSanityRecord,
  parseSanityRecord,
  readSanityRecord,
  sanityKey,
  sanityValues,
  type SanityRecord,
} from '../zoo/sanityRecord.ts';
import { memberChecks } from '../zoo/sanityCells.ts';
import type { TableSanity } from '../zoo/table.ts';
import type { ZooEntry } from '../zoo/zoo.ts';
import { versions } from '../version.ts';
import { readJson } from './fsio.ts';
import { recordMerged, recordPlace } from './models.ts';
import { withCellPool } from './pool.ts';
import { poolAttackRunner } from './poolWorkerTasks.ts';

/** What {@link memberSanity} needs from the table's run. */
export interface MemberSanityOptions {
  data: string;
  attack: RobustAttackSettings;
  settings: SanitySettings;
  record?: boolean;
  recompute?: boolean;
  cached?: boolean;
  workers?: number;
  command: string;
  onProgress?: (done: number, total: number, what: string) => void;
}

/**
 * The sanity checks of member `e` (model `c`, images `d`) whose PGD-200 accuracy at `eps[j]` is
 * `pgd[j]` (null: not known) and clean accuracy on `d` is `clean` (null: unknown, so nothing can be
 * matched or measured against it).
 */
export async function memberSanity(
  c: Classifier,
  e: ZooEntry,
  d: Dataset,
  eps: number[],
  pgd: (number | null)[],
  clean: number | null,
  o: MemberSanityOptions,
): Promise<TableSanity> {
  const positive = eps.filter((x) => x > 0);
  const card = readJson<ModelCard>(e.cardPath, 'model card');
  const old = readOrRecompute(() => readSanityRecord(card, o.data, e.cardPath), o.recompute);
  const setting = {
    data: o.data,
    examples: d.size,
    attack: o.attack,
    settings: o.settings,
    accuracy: clean ?? -1,
  };
  const known =
    o.recompute || clean === null ? sanityValues(null, setting, eps) : sanityValues(old, setting, eps);
  const cells = [...known.cells];
  const fromCard = eps.filter((x, j) => x > 0 && cells[j] !== null);
  const todo = eps.filter((x, j) => x > 0 && cells[j] === null && pgd[j] !== null);
  let unbounded = known.unbounded;
  const runs: RobustRun[] = old && fromCard.length ? keepBudgets(old.runs, inList(fromCard)) : [];
  if (unbounded) {
    const { measuredAt, command, versions: v, seconds } = unbounded;
    runs.push({ eps: [], measuredAt, command, versions: v, seconds });
  }
  const needUnbounded = !unbounded && pgd.some((v, j) => v !== null && eps[j] > 0);
  let recorded = false;
  let measuredUnbounded = false;
  if (!o.cached && clean !== null && (todo.length || needUnbounded)) {
    const batches =
      Math.ceil(d.size / o.settings.batchSize) * todo.length +
      Math.ceil(Math.min(d.size, o.settings.unboundedExamples) / o.settings.batchSize);
    const [m] = await withCellPool([0], batches, o.workers, (_, pool) =>
      measureSanity(c, d, {
        eps: todo,
        attack: o.attack,
        unbounded: needUnbounded,
        settings: o.settings,
        runner: pool ? poolAttackRunner(pool, { dir: e.dir }) : undefined,
        onProgress: o.onProgress,
      }),
    );
    const now = new Date().toISOString();
    const v = versions();
    const rec: SanityRecord = parseSanityRecord(
      {
        data: o.data,
        source: d.source,
        examples: d.size,
        accuracy: m.accuracy,
        attack: o.attack,
        settings: o.settings,
        fgsmOptions: m.fgsmOptions,
        eps: m.eps,
        fgsm: m.fgsm,
        noise: m.noise,
        runs: m.eps.length
          ? [{ eps: m.eps, measuredAt: now, command: o.command, versions: v, seconds: m.seconds }]
          : [],
        unbounded: m.unbounded ? { ...m.unbounded, measuredAt: now, command: o.command, versions: v } : null,
        measuredAt: now,
        command: o.command,
        versions: v,
        seconds: m.seconds + (m.unbounded?.seconds ?? 0),
      },
      'the new measurement',
    );
    // The clean accuracy these runs saw must be the one the PGD numbers were measured with.
    if (Math.abs(m.accuracy - clean) > 1e-12)
      throw new UserError(
        `${e.cardPath}: clean accuracy ${m.accuracy} beside the PGD-200 record's ${clean}: the weights changed; measure again with --recompute`,
      );
    m.eps.forEach((x, i) => (cells[eps.indexOf(x)] = { fgsm: m.fgsm[i], noise: m.noise[i] }));
    runs.push(...rec.runs);
    if (rec.unbounded) {
      unbounded = rec.unbounded;
      measuredUnbounded = true;
      runs.push({
        eps: [],
        measuredAt: now,
        command: o.command,
        versions: v,
        seconds: rec.unbounded.seconds,
      });
    }
    if (o.record) {
      const place = recordPlace(sanityKey(o.data), parseSanityRecord, e.cardPath, o.recompute);
      recordMerged(e.dir, c.card, place, (cur) => mergeSanityRecord(cur, rec));
      recorded = true;
    }
  }
  const measured = o.cached || clean === null ? [] : todo;
  return {
    checks: memberChecks(eps, pgd, { cells, unbounded }),
    fromCard,
    measured,
    unmeasured: positive.filter((x) => !fromCard.includes(x) && !measured.includes(x)),
    unbounded: measuredUnbounded ? 'measured' : unbounded ? 'card' : 'not measured',
    recorded,
    runs,
  };
}
