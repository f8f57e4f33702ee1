/**
 * The BullMQ (Redis) engine of src/node/sweepQueue.ts. One queue, `advlens-sweep`; a job's BullMQ id
 * is its content hash, finished jobs are kept with their outcome (the cache a re-run reads), and
 * failed ones too (a re-run retries them).
 *
 * Lock and stall settings (see {@link WorkOptions}): a worker holds a lock on each running job and
 * renews it every `lockDuration / 2` from its event loop, which stays free because the attack runs in
 * a pool thread; when a worker dies (`kill -9`, a lost machine) the lock expires after
 * `lockDuration`, and the next stalled check of any other worker (every `stalledInterval`) moves the
 * job back to waiting; after `maxStalledCount` such recoveries it counts as failed. A job that throws
 * is retried (3 attempts, backoff 1 s, 2 s), except a user mistake (missing model, different data),
 * which fails at once with its message.
 */
import { Job, Queue, QueueEvents, UnrecoverableError, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { UserError } from '../errors.ts';
import type { EncodedOut, SweepJob } from '../sweep/jobs.ts';
import {
  publicUrl,
  type EnqueueCounts,
  type QueueEngine,
  type SweepQueue,
  type SweepQueueWorker,
  type WorkOptions,
} from './sweepQueue.ts';

const QUEUE = 'advlens-sweep';
const USER = 'UserError: ';
const JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: false,
  removeOnFail: false,
};
/** Ids read from Redis at once. */
const CHUNK = 500;
/** How often a waiting coordinator re-reads its pending jobs, beside the queue's events (ms). */
const POLL_MS = 3000;

/** Fails with a one-line {@link UserError} unless Redis answers at `url` within a few seconds. */
async function probe(url: string): Promise<void> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let cause: Error | null = null; // the socket's error says more than the rejected connect()
  r.on('error', (e: Error) => (cause ??= e));
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw new UserError(
      `cannot reach Redis at ${publicUrl(url)} (${(cause ?? (e as Error)).message.split('\n')[0]}); start redis-server there or fix --queue`,
    );
  } finally {
    r.disconnect();
  }
}

const connection = (url: string) => ({ url, maxRetriesPerRequest: null });

/** Runs `fn` over `xs` in chunks of {@link CHUNK}, each chunk at once. */
async function chunked<T, R>(xs: T[], fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(...(await Promise.all(xs.slice(i, i + CHUNK).map(fn))));
  return out;
}

/** The error a job that failed for good stands for: its worker's user mistake, or an internal error. */
function failure(job: Job): Error {
  const reason = job.failedReason ?? 'no reason recorded';
  if (reason.startsWith(USER)) return new UserError(reason.slice(USER.length));
  return new Error(
    `sweep job ${job.id} failed on its workers after ${job.attemptsMade} attempt(s): ${reason}`,
  );
}

interface Waiter {
  pending: Set<string>;
  check(ids: string[]): Promise<void>;
  finish(e?: Error): void;
}

async function open(url: string): Promise<SweepQueue> {
  await probe(url);
  const queue = new Queue(QUEUE, { connection: connection(url), defaultJobOptions: JOB_OPTIONS });
  const events = new QueueEvents(QUEUE, { connection: connection(url) });
  queue.on('error', () => undefined); // reconnects; failures surface through the calls
  events.on('error', () => undefined);
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const waiters = new Set<Waiter>();
  const onEvent = ({ jobId }: { jobId: string }) => {
    for (const w of waiters) if (w.pending.has(jobId)) void w.check([jobId]);
  };
  events.on('completed', onEvent);
  events.on('failed', onEvent);

  return {
    async enqueue(jobs): Promise<EnqueueCounts> {
      const unique = [...new Map(jobs.map((j) => [j.id, j])).values()];
      const states = await chunked(unique, (j) => queue.getJobState(j.id));
      const add = unique.filter((_, i) => states[i] === 'unknown');
      const failed = unique.filter((_, i) => states[i] === 'failed');
      for (let i = 0; i < add.length; i += CHUNK)
        await queue.addBulk(
          add.slice(i, i + CHUNK).map((j) => ({ name: j.item.attack, data: j, opts: { jobId: j.id } })),
        );
      await chunked(failed, async (j) => (await Job.fromId(queue, j.id))?.retry('failed'));
      return {
        added: add.length,
        retried: failed.length,
        existing: unique.length - add.length - failed.length,
      };
    },

    results(ids, o) {
      const out = new Map<string, EncodedOut>();
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        let over = false;
        const finish = (e?: Error) => {
          if (over) return;
          over = true;
          clearInterval(timer);
          waiters.delete(w);
          if (e) reject(e);
          else resolve(out);
        };
        const w: Waiter = {
          pending: new Set(ids),
          finish,
          async check(some) {
            try {
              await chunked(
                some.filter((id) => w.pending.has(id)),
                async (id) => {
                  // The state first: a job read before it finished has no outcome yet.
                  const state = await queue.getJobState(id);
                  if (state === 'unknown' && o.wait)
                    throw new Error(`sweep job ${id} is not on the queue (was it removed?)`);
                  if (state !== 'completed' && state !== 'failed') return;
                  const job = await Job.fromId<SweepJob, EncodedOut>(queue, id);
                  if (!job) return;
                  if (state === 'failed') throw failure(job);
                  if (!w.pending.has(id)) return;
                  w.pending.delete(id);
                  out.set(id, job.returnvalue);
                  o.onResult?.(id);
                },
              );
              if (w.pending.size === 0 || !o.wait) finish();
            } catch (e) {
              finish(e as Error);
            }
          },
        };
        waiters.add(w);
        let polling = false;
        if (o.wait)
          timer = setInterval(() => {
            if (polling) return;
            polling = true;
            void w.check([...w.pending]).finally(() => (polling = false));
          }, POLL_MS);
        void w.check(ids);
      });
    },

    async close() {
      for (const w of [...waiters]) w.finish(new Error('the sweep queue was closed while waiting for jobs'));
      await Promise.all([events.close(), queue.close()]);
    },
  };
}

async function work(
  url: string,
  run: (job: SweepJob) => Promise<EncodedOut>,
  o: WorkOptions,
): Promise<SweepQueueWorker> {
  await probe(url);
  const worker = new Worker<SweepJob, EncodedOut>(
    QUEUE,
    async (job) => {
      try {
        return await run(job.data);
      } catch (e) {
        if (e instanceof UserError) throw new UnrecoverableError(USER + e.message);
        throw e;
      }
    },
    {
      connection: connection(url),
      concurrency: o.concurrency,
      lockDuration: o.lockDuration,
      stalledInterval: o.stalledInterval,
      maxStalledCount: o.maxStalledCount,
    },
  );
  worker.on('active', (job) => o.onEvent?.('active', job.data));
  worker.on('completed', (job) => o.onEvent?.('completed', job.data));
  worker.on('failed', (job, err) => job && o.onEvent?.('failed', job.data, err.message));
  worker.on('error', (e) => process.stderr.write(`advlens worker: queue error: ${e.message}\n`));
  await worker.waitUntilReady();
  return { close: () => worker.close() };
}

/** The BullMQ engine. */
export const bullmqEngine: QueueEngine = { open, work };
