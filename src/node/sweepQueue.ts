/**
 * The distributed queue a sweep's jobs travel on, behind a small interface ({@link QueueEngine}:
 * a {@link SweepQueue} for the coordinator, {@link QueueEngine.work} for workers), so another engine
 * can be added by URL scheme. The one engine is BullMQ on Redis (`redis://HOST:PORT`,
 * src/node/sweepBullmq.ts).
 *
 * What every engine guarantees: a job's id is its content hash (src/sweep/jobs.ts), so adding a job
 * that is already on the queue (waiting, running or finished) adds nothing; finished jobs keep their
 * outcome, so a re-run collects them; delivery is at least once (a worker that dies mid-job loses
 * nothing: its job runs again elsewhere), and a job's outcome depends only on its content, so a
 * duplicate delivery stores the same outcome.
 */
import { UserError } from '../errors.ts';
import type { EncodedOut, SweepJob } from '../sweep/jobs.ts';

/** What {@link SweepQueue.enqueue} did. */
export interface EnqueueCounts {
  /** Jobs added to the queue. */
  added: number;
  /** Jobs that had failed for good and were sent back to run again. */
  retried: number;
  /** Jobs already there (waiting, running or finished), left alone. */
  existing: number;
}

/** The coordinator's side of a queue. */
export interface SweepQueue {
  /** Adds the jobs not on the queue yet, and retries those that failed for good. */
  enqueue(jobs: SweepJob[]): Promise<EnqueueCounts>;
  /**
   * The outcomes of the jobs `ids`, calling `onResult` as each is known (finished ones at once).
   * With `wait`, resolves when all have finished; else with those finished now. Rejects when a job
   * failed for good (a {@link UserError} when its worker reported a user mistake).
   */
  results(
    ids: string[],
    o: { wait: boolean; onResult?: (id: string) => void },
  ): Promise<Map<string, EncodedOut>>;
  close(): Promise<void>;
}

/** Settings of a worker process on a queue. */
export interface WorkOptions {
  /** Jobs run at once (the process's pool threads). */
  concurrency: number;
  /**
   * How long a job's lock lasts without renewal, in ms (renewed every half of it while the job
   * runs); a worker killed mid-job loses its job for this long, then another worker runs it.
   */
  lockDuration: number;
  /** How often a worker looks for jobs whose lock expired (stalled), in ms. */
  stalledInterval: number;
  /** How many times a stalled job is run again before it counts as failed. */
  maxStalledCount: number;
  onEvent?: (what: 'active' | 'completed' | 'failed', job: SweepJob, detail?: string) => void;
}

/** A running worker; `close` lets running jobs finish (their outcomes are kept), then stops. */
export interface SweepQueueWorker {
  close(): Promise<void>;
}

/** A queue engine: what a `--queue URL` of its scheme opens. */
export interface QueueEngine {
  open(url: string): Promise<SweepQueue>;
  work(url: string, run: (job: SweepJob) => Promise<EncodedOut>, o: WorkOptions): Promise<SweepQueueWorker>;
}

/** Engines by URL scheme; BullMQ is loaded only when a `redis://` queue is used. */
const ENGINES: Record<string, () => Promise<QueueEngine>> = {
  'redis:': async () => (await import('./sweepBullmq.ts')).bullmqEngine,
  'rediss:': async () => (await import('./sweepBullmq.ts')).bullmqEngine,
};

/** The engine of queue URL `url`; a {@link UserError} for a URL no engine takes. */
export async function queueEngine(url: string): Promise<QueueEngine> {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new UserError(`--queue ${url} is not a URL; give redis://HOST:PORT`);
  }
  const engine = ENGINES[scheme];
  if (!engine)
    throw new UserError(
      `--queue ${url}: no queue engine for '${scheme}//'; use ${Object.keys(ENGINES)
        .map((s) => `${s}//HOST:PORT`)
        .join(' or ')}`,
    );
  return engine();
}

/** `url` without its password, for results and logs. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
