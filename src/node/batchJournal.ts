/**
 * A batch journal for long robustness measurements: an {@link AttackRunner} wrapper that writes each
 * batch's outcome to a folder as soon as it comes back, and answers a batch from the folder when the
 * same batch is asked again, so a measurement stopped part way (Ctrl-C, a killed process, the end of
 * a session) resumes where it was and loses at most the batches in flight. A long AutoAttack cell of
 * `advlens zoo table --record` is the case it was made for: an hour of work in two batches.
 *
 * An entry is named by the content hash of everything that decides the batch's outcome, as a sweep
 * job's id is (sweep/jobs.ts): the model's weights ({@link modelHash}), the data (spec, limit, and the
 * batch's own pixels and labels) and the item (attack, options with eps and the batch's seed,
 * examples). Another model, other data or other settings therefore never read an entry; a hit returns
 * the outcome bit for bit ({@link encodeOut}), so a resumed measurement equals an uninterrupted one.
 * Entries are written atomically; one that does not parse is ignored and measured again.
 *
 *   const runner = await journalRunner(poolAttackRunner(pool, { dir }), { dir: journalDir, model: dir, data: 'mnist:test' });
 *   await robustnessAsync(model, data, { ...options, runner });
 *   clearJournal(journalDir); // once the result is safe
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/dataset.ts';
import type { AttackItem } from '../metrics/attackBatch.ts';
import type { AttackRunner } from '../metrics/robustTypes.ts';
import { decodeOut, encodeOut, sha256Hex, type EncodedOut } from '../sweep/jobs.ts';
import { stableJson } from '../sweep/plan.ts';
import { writeFileAtomic } from './fsio.ts';
import { UserError } from '../errors.ts';
import { mapConcurrent } from './pool.ts';
import { modelHash } from './sweepJob.ts';

/** The folder, inside a model's, that holds the journals of its cells in progress. */
export const JOURNAL_FOLDER = '.advlens-journal';

/** Where a journal lives and what it is for. */
export interface JournalOptions {
  /** The journal's folder (created on the first entry). */
  dir: string;
  /** The model folder (its weights are hashed into every entry's name). */
  model: string;
  /** The data as the user named it (with `limit`), also part of every entry's name. */
  data: string;
  limit?: number;
  /** Items run at once (default 1: right for a runner in this thread; a pool's: 2 per worker). */
  concurrency?: number;
}

/** The entry's name of `item` on `data`: a SHA-256 of the model, the data and its examples, and the item. */
async function entryId(model: string, o: JournalOptions, data: Dataset, item: AttackItem): Promise<string> {
  const per = data.pixels.length / data.size;
  const pixels = data.pixels.subarray(item.start * per, (item.start + item.count) * per);
  const labels = data.labels.subarray(item.start, item.start + item.count);
  const shard = await sha256Hex(pixels, '\u0000', labels);
  return sha256Hex(
    stableJson({
      format: 'advlens-batch-journal/1',
      model,
      data: { spec: o.data, limit: o.limit ?? null, shard },
      item,
    }),
  );
}

/** Reads an entry, or null when there is none or it does not parse. */
function readEntry(file: string): EncodedOut | null {
  try {
    const e = JSON.parse(fs.readFileSync(file, 'utf8')) as EncodedOut;
    return Array.isArray(e?.predictions) && Array.isArray(e?.success) ? e : null;
  } catch {
    return null;
  }
}

/**
 * `inner` with a journal: the items already in `o.dir` are answered from it (and counted done at
 * once), the others run through `inner` and are written as they come back.
 */
export async function journalRunner(inner: AttackRunner, o: JournalOptions): Promise<AttackRunner> {
  if (fs.existsSync(o.dir) && !fs.statSync(o.dir).isDirectory())
    throw new UserError(`journal ${o.dir} is a file; give a folder (it is created if missing)`);
  const model = await modelHash(o.model);
  return async (items, data, done) => {
    const ids = await Promise.all(items.map((item) => entryId(model, o, data, item)));
    const file = (i: number) => path.join(o.dir, `${ids[i]}.json`);
    const outs = items.map((item, i) => {
      const e = readEntry(file(i));
      if (e) done(item);
      return e ? decodeOut(e) : null;
    });
    const missing = items.flatMap((_, i) => (outs[i] ? [] : [i]));
    if (missing.length) {
      fs.mkdirSync(o.dir, { recursive: true });
      // One item per call, `concurrency` calls at a time (the pool's width; 1 for a runner in this
      // thread), each written as soon as it is back: a stop loses only the items in flight.
      await mapConcurrent(missing, o.concurrency ?? 1, async (i) => {
        const [out] = await inner([items[i]], data, done);
        writeFileAtomic(file(i), JSON.stringify(encodeOut(out)));
        outs[i] = out;
      });
    }
    return outs as NonNullable<(typeof outs)[number]>[];
  };
}

/** How many batches a journal folder holds (0 when there is none). */
export function journalSize(dir: string): number {
  return fs.existsSync(dir) && fs.statSync(dir).isDirectory()
    ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).length
    : 0;
}

/**
 * Removes a journal's folder (its measurement is recorded), and its parent when that is a model's
 * {@link JOURNAL_FOLDER} left empty (no cell in progress); nothing when there is none.
 */
export function clearJournal(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  const parent = path.dirname(path.resolve(dir));
  if (
    path.basename(parent) === JOURNAL_FOLDER &&
    fs.existsSync(parent) &&
    fs.readdirSync(parent).length === 0
  )
    fs.rmdirSync(parent);
}
