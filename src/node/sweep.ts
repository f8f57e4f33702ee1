/**
 * Sweeps in Node (`advlens sweep`, `advlens worker`): reads a plan file (JSON or YAML), loads its
 * models and data, and runs it (src/sweep/run.ts) with the jobs on the local worker pool or on a
 * distributed queue (src/node/sweepQueue.ts); and serves a queue's jobs as a worker. Either way the
 * result is the merged JSON of the whole sweep with its provenance.
 *
 *   const r = await runSweepFile('plan.json', { queue: 'redis://127.0.0.1:6379' });
 *   r.results[0].rows; // [{ attack: 'fgsm', eps: 0.1, accuracy: ..., ... }, ...]
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../errors.ts';
import type { Dataset } from '../data/dataset.ts';
import { attackBatch, type AttackBatchOut } from '../metrics/attackBatch.ts';
import { itemBatch } from '../metrics/robustness.ts';
import type { Classifier } from '../models/classifier.ts';
import type { AttackRunner } from '../metrics/robustTypes.ts';
import { versions } from '../version.ts';
import { parsePlan, type SweepPlan } from '../sweep/plan.ts';
import { decodeOut, jobId, jobLabel, shardHash, type EncodedOut, type SweepJob } from '../sweep/jobs.ts';
import { runSweep, type SweepModelResult, type SweepTarget } from '../sweep/run.ts';
import { modelHash } from './sweepJob.ts';
import { loadDatasetFor } from './loadData.ts';
import { loadClassifier, modelDir } from './models.ts';
import { checkWorkers, createPool, withPool, type WorkerPool } from './pool.ts';
import { imagesOf, poolAttackRunner } from './poolWorkerTasks.ts';
import {
  publicUrl,
  queueEngine,
  type EnqueueCounts,
  type QueueEngine,
  type SweepQueue,
  type SweepQueueWorker,
} from './sweepQueue.ts';

/** Reads and checks a plan file: `.json`, or `.yaml` / `.yml`. */
export function readPlanFile(file: string): SweepPlan {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT'
        ? `sweep plan not found: ${file}; give a .json or .yaml plan file`
        : `cannot read the sweep plan ${file}: ${code ?? e}`,
    );
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UserError(
      `${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  try {
    return parsePlan(raw);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
}

/** How `runSweepPlan` runs the jobs. */
export interface SweepRunOptions {
  /** Queue URL (`redis://HOST:PORT`); absent: the local worker pool. */
  queue?: string;
  /** With `queue`: enqueue nothing, merge the finished jobs (a {@link UserError} when some are missing). */
  collect?: boolean;
  /** Local pool threads (default: cores; 1: in process). */
  workers?: number;
  /** Folder relative model and data paths of the plan are relative to (default: the current one). */
  base?: string;
  /** The command line, for the provenance. */
  command?: string;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** A sweep's merged result: the plan, one entry per model, and what produced them. */
export interface SweepOutput {
  format: 'advlens-sweep/1';
  plan: SweepPlan;
  results: SweepModelResult[];
  provenance: {
    runner: 'local' | 'queue';
    workers?: number;
    queue?: string;
    /** Jobs of the sweep (one per model, attack, eps and shard, sanity runs included), and what the queue did with them. */
    jobs: { total: number } & Partial<EnqueueCounts>;
    seconds: number;
    versions: Record<string, string>;
    measuredAt: string;
    command?: string;
  };
}

/** {@link runSweepPlan} on a plan file; its paths are relative to the file's folder. */
export function runSweepFile(file: string, o: Omit<SweepRunOptions, 'base'> = {}): Promise<SweepOutput> {
  return runSweepPlan(readPlanFile(file), { ...o, base: path.dirname(path.resolve(file)) });
}

interface Loaded extends SweepTarget {
  /** The model folder on this machine (absolute). */
  dir: string;
  /** The model folder as the plan gives it (relative to the plan's folder, or absolute): what jobs carry. */
  planPath: string;
  preset?: string;
  hash: string;
}

/** Loads the plan's models (checked and hashed) and each one's data at its input size. */
async function loadTargets(plan: SweepPlan, base: string): Promise<Loaded[]> {
  const dataDir = plan.data.dataDir && path.resolve(base, plan.data.dataDir);
  const data = new Map<string, Promise<Dataset>>();
  const out: Loaded[] = [];
  try {
    for (const m of plan.models) out.push(await loadTarget(m));
  } catch (e) {
    for (const t of out) t.model.model.dispose();
    throw e;
  }
  return out;

  async function loadTarget(m: SweepPlan['models'][number]): Promise<Loaded> {
    const dir = path.resolve(modelDir(path.resolve(base, m.path)));
    const hash = await modelHash(dir);
    const model = await loadClassifier(dir, { preset: m.preset });
    const key = model.inputShape.join('x');
    if (!data.has(key))
      data.set(key, loadDatasetFor(model, plan.data.spec, { dataDir, limit: plan.data.limit }));
    const info = {
      path: m.path, // as the plan gives it: the same result wherever the plan and models lie
      name: model.card.name,
      architecture: model.card.architecture,
      training: model.card.training?.recipe ?? null,
      preset: m.preset ?? null,
      hash,
    };
    try {
      return { model, data: await data.get(key)!, dir, planPath: m.path, preset: m.preset, hash, info };
    } catch (e) {
      model.model.dispose();
      throw e;
    }
  }
}

/** An {@link AttackRunner} that puts a model's attack batches on `queue` as jobs and waits for them. */
function queueRunner(
  queue: SweepQueue,
  t: Loaded,
  plan: SweepPlan,
  counts: { total: number } & EnqueueCounts,
  collect: boolean,
): AttackRunner {
  // Paths as the plan gives them: a worker resolves them against its own --base.
  const dataDir = plan.data.dataDir;
  const [h, w, channels] = t.model.inputShape;
  return async (items, data, done) => {
    const jobs = await Promise.all(
      items.map(async (item) => {
        const im = imagesOf(data, item.start, item.count);
        const job: Omit<SweepJob, 'id'> = {
          model: { path: t.planPath, ...(t.preset ? { preset: t.preset } : {}), weights: t.hash },
          data: {
            spec: plan.data.spec,
            ...(dataDir ? { dataDir } : {}),
            ...(plan.data.limit ? { limit: plan.data.limit } : {}),
            size: [h, w],
            channels,
            shard: await shardHash(im.x, im.y),
          },
          item,
        };
        return { ...job, id: await jobId(job) };
      }),
    );
    counts.total += jobs.length;
    if (!collect) {
      const c = await queue.enqueue(jobs);
      counts.added += c.added;
      counts.retried += c.retried;
      counts.existing += c.existing;
    }
    const index = new Map(jobs.map((j, i) => [j.id, i]));
    const outs = await queue.results(
      jobs.map((j) => j.id),
      { wait: !collect, onResult: (id) => done(items[index.get(id)!]) },
    );
    const missing = jobs.filter((j) => !outs.has(j.id)).length;
    if (missing)
      throw new UserError(
        `${missing} of ${jobs.length} jobs of ${t.model.card.name} have no result on the queue yet; run workers (advlens worker --queue URL), or run the sweep without --collect to enqueue and wait`,
      );
    return jobs.map((j): AttackBatchOut => decodeOut(outs.get(j.id)!));
  };
}

/**
 * Runs `plan`: on the local worker pool, or with `o.queue` as jobs on that queue (waiting for the
 * workers, or with `o.collect` merging what is finished). The numbers equal a local `robustness()`
 * run's for each model and group of attacks with the same options (timings aside).
 */
export async function runSweepPlan(plan: SweepPlan, o: SweepRunOptions = {}): Promise<SweepOutput> {
  const base = o.base ?? process.cwd();
  if (o.collect && !o.queue)
    throw new UserError('--collect needs --queue (it merges the results on a queue)');
  const engine = o.queue ? await queueEngine(o.queue) : null;
  const t0 = performance.now();
  const targets = await loadTargets(plan, base);
  try {
    return await runTargets(plan, targets, engine, o, t0);
  } finally {
    for (const t of targets) t.model.model.dispose();
  }
}

async function runTargets(
  plan: SweepPlan,
  targets: Loaded[],
  engine: QueueEngine | null,
  o: SweepRunOptions,
  t0: number,
): Promise<SweepOutput> {
  const common = {
    versions: versions(),
    measuredAt: new Date().toISOString(),
    ...(o.command ? { command: o.command } : {}),
  };
  const seconds = () => (performance.now() - t0) / 1000;

  if (engine) {
    const queue = await engine.open(o.queue!);
    const counts = { total: 0, added: 0, retried: 0, existing: 0 };
    try {
      const results = await runSweep(
        plan,
        targets.map((t) => ({ ...t, runner: queueRunner(queue, t, plan, counts, !!o.collect) })),
        o.onProgress,
      );
      const jobs = o.collect ? { total: counts.total } : counts;
      return out(plan, results, {
        runner: 'queue',
        queue: publicUrl(o.queue!),
        jobs,
        seconds: seconds(),
        ...common,
      });
    } finally {
      await queue.close();
    }
  }

  // The main phase's jobs bound the useful number of threads.
  const mainJobs =
    targets.length * plan.attacks.length * plan.eps.length * Math.ceil(targets[0].data.size / plan.shardSize);
  const workers = Math.min(checkWorkers(o.workers), mainJobs);
  let total = 0;
  const counted =
    (r: AttackRunner): AttackRunner =>
    (items, data, done) => ((total += items.length), r(items, data, done));
  const results = await withPool(workers, (pool: WorkerPool | null) =>
    runSweep(
      plan,
      targets.map((t) => ({
        ...t,
        runner: counted(
          pool ? poolAttackRunner(pool, { dir: t.dir, preset: t.preset }) : localRunner(t.model),
        ),
      })),
      o.onProgress,
    ),
  );
  return out(plan, results, { runner: 'local', workers, jobs: { total }, seconds: seconds(), ...common });
}

/** An {@link AttackRunner} in this thread (as `robustnessAsync`'s default), one item after the other. */
const localRunner =
  (model: Classifier): AttackRunner =>
  async (items, data, done) =>
    items.map((item) => {
      const batch = itemBatch(data, item);
      try {
        return attackBatch(model, batch, item);
      } finally {
        tf.dispose([batch.x, batch.y]);
        done(item);
      }
    });

const out = (
  plan: SweepPlan,
  results: SweepModelResult[],
  provenance: SweepOutput['provenance'],
): SweepOutput => ({
  format: 'advlens-sweep/1',
  plan,
  results,
  provenance,
});

/** Settings of {@link startSweepWorker}. */
export interface SweepWorkerOptions {
  /** Pool threads, and so jobs run at once (default 1). */
  workers?: number;
  /** Where to look for data first, instead of the folder the plan named. */
  dataDir?: string;
  /**
   * The folder the plans' relative model and data paths are taken from on this machine (the
   * plan file's folder, or its copy; default: the current folder).
   */
  base?: string;
  /** Lock duration and stalled-check interval in seconds (defaults 30 and 30; see src/node/sweepQueue.ts). */
  lockSeconds?: number;
  stalledSeconds?: number;
  /** Times a job whose worker died is run again before it counts as failed (default 3). */
  maxStalled?: number;
  log?: (line: string) => void;
}

/**
 * Takes jobs from queue `url` and runs each on a pool thread (so the event loop stays free to renew
 * the queue's locks), after checking that this machine's model and data shard hash as the job's;
 * answers until `close` (which lets running jobs finish).
 */
export async function startSweepWorker(url: string, o: SweepWorkerOptions = {}): Promise<SweepQueueWorker> {
  const engine = await queueEngine(url);
  const n = checkWorkers(o.workers ?? 1);
  // The task module beside this one: its TypeScript source under tsx, the compiled .js from dist/.
  const own = new URL(import.meta.url).pathname.endsWith('.ts') ? './sweepJob.ts' : './sweepJob.js';
  const pool = createPool({ workers: n, taskModules: [new URL(own, import.meta.url)] });
  const base = path.resolve(o.base ?? '.');
  const run = (job: SweepJob) => pool.run<EncodedOut>('sweepJob', { job, base, dataDir: o.dataDir });
  let worker: SweepQueueWorker;
  try {
    worker = await engine.work(url, run, {
      concurrency: n,
      lockDuration: (o.lockSeconds ?? 30) * 1000,
      stalledInterval: (o.stalledSeconds ?? 30) * 1000,
      maxStalledCount: o.maxStalled ?? 3,
      onEvent: (what, job, detail) => o.log?.(`${what} ${jobLabel(job)}${detail ? `: ${detail}` : ''}`),
    });
  } catch (e) {
    await pool.close();
    throw e;
  }
  return {
    async close() {
      await worker.close();
      await pool.close();
    },
  };
}
