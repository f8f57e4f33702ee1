/**
 * `advlens zoo verify`: evaluates every zoo member again on the test set its card records a clean
 * accuracy for, and says whether the weights still give that number (a changed weights file, a card
 * copied from another run, a backend that predicts differently). Exit code 1 when one differs.
 *
 *   advlens zoo verify --data mnist:test --data-dir ../shared/data
 *   advlens zoo verify --json --only int2,pgd-linf
 */
import path from 'node:path';
import { UserError } from '../../errors.ts';
import { confusionStats, evaluate } from '../../metrics/accuracy.ts';
import { loadClassifier } from '../../node/models.ts';
import { defaultWorkers, withPool, type WorkerPool } from '../../node/pool.ts';
import { poolPredict } from '../../node/poolWorkerTasks.ts';
import { loadDatasetFor } from '../../node/loadData.ts';
import { versions } from '../../version.ts';
import { zooMethod, type ZooEntry } from '../../zoo/zoo.ts';
import { listZoo } from '../../node/zoo.ts';
import { pct, textTable } from '../table.ts';

export interface VerifyOptions {
  data: string;
  dataDir?: string;
  only?: string[];
  json?: boolean;
  /** Worker threads (default: number of cores); the numbers do not depend on it. */
  workers?: number;
}

/** One member's check. `status`: `ok`, `differs`, or `unrecorded` (no clean accuracy on the data). */
export interface VerifyRow {
  method: string;
  dir: string;
  status: 'ok' | 'differs' | 'unrecorded';
  recorded: { accuracy: number; examples: number; measuredAt?: string } | null;
  measured: { accuracy: number; correct: number; examples: number; seconds: number } | null;
}

/** Re-measures one member; `null` measured when its card holds no clean accuracy on `data`. */
async function verifyMember(e: ZooEntry, o: VerifyOptions, pool: WorkerPool | null): Promise<VerifyRow> {
  const rec = e.card.metrics?.[o.data];
  if (!rec || typeof rec.accuracy !== 'number' || typeof rec.examples !== 'number')
    return { method: e.method, dir: e.dir, status: 'unrecorded', recorded: null, measured: null };
  const c = await loadClassifier(e.dir);
  try {
    const data = await loadDatasetFor(c, o.data, { dataDir: o.dataDir, limit: rec.examples });
    const t0 = performance.now();
    const ev = pool
      ? confusionStats(data.labels, await poolPredict(pool, { dir: e.dir }, data), c.labels)
      : evaluate(c, data);
    const measured = {
      accuracy: ev.accuracy,
      correct: ev.correct,
      examples: ev.examples,
      seconds: (performance.now() - t0) / 1000,
    };
    const same = ev.examples === rec.examples && ev.accuracy === rec.accuracy;
    return {
      method: e.method,
      dir: e.dir,
      status: same ? 'ok' : 'differs',
      recorded: { accuracy: rec.accuracy, examples: rec.examples, measuredAt: rec.measuredAt },
      measured,
    };
  } finally {
    c.model.dispose();
  }
}

/** Runs the check over the zoo in `modelsDir`; returns the process exit code (0 all equal, 1 otherwise). */
export async function zooVerify(modelsDir: string, o: VerifyOptions): Promise<number> {
  for (const m of o.only ?? []) zooMethod(m); // a misspelt name is an error, not an empty selection
  const z = listZoo(modelsDir);
  const present = z.present.filter((e) => !o.only || o.only.includes(e.method));
  if (present.length === 0)
    throw new UserError(
      `no zoo model${o.only ? ` for ${o.only.join(', ')}` : 's'} in ${modelsDir} to verify`,
    );
  const rows: VerifyRow[] = [];
  await withPool(o.workers ?? defaultWorkers(), async (pool) => {
    for (const e of present) {
      if (!o.json) process.stderr.write(`verifying ${e.method} (${e.dir}) ...\n`);
      rows.push(await verifyMember(e, o, pool));
    }
  });
  const differs = rows.filter((r) => r.status === 'differs');
  const verified = rows.filter((r) => r.status === 'ok').length;
  if (o.json) {
    process.stdout.write(
      JSON.stringify(
        {
          modelsDir: path.resolve(modelsDir),
          data: o.data,
          verified,
          differ: differs.length,
          unrecorded: rows.filter((r) => r.status === 'unrecorded').map((r) => r.method),
          rows,
          versions: versions(),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    const acc = (a: { accuracy: number; examples: number } | null) =>
      a ? `${pct(a.accuracy)} of ${a.examples}` : '-';
    process.stdout.write(
      textTable(
        ['method', 'folder', 'card', 'measured now', 'check'],
        rows.map((r) => [
          r.method,
          r.dir,
          acc(r.recorded),
          acc(r.measured),
          r.status === 'unrecorded' ? `no accuracy on ${o.data} in the card` : r.status,
        ]),
      ) + '\n',
    );
    process.stdout.write(
      `${verified} of ${rows.length} members give their card's accuracy on ${o.data}` +
        (differs.length ? `; differ: ${differs.map((r) => r.method).join(', ')}` : '') +
        '\n',
    );
  }
  return differs.length ? 1 : 0;
}
