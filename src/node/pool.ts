/**
 * A pool of worker threads, each with its own TensorFlow.js (the same backend and project kernels as
 * the main thread, initialised by `initNodeBackend`), for dataset-level work and data-parallel
 * training (DESIGN.md, Performance). Tasks are request/response messages with ids; their data travel
 * as transferred or shared typed-array buffers. A task's error comes back as an error of the promise
 * (a {@link UserError} stays a one-line UserError; an internal error keeps the worker's stack); a
 * worker that dies rejects its pending tasks and fails the pool. `workers: 1` means no pool at all:
 * {@link withPool} then hands `null` and the caller runs in process, with no overhead.
 *
 *   await withPool(4, async (pool) => (pool ? pool.run('attackBatch', item, [item.x.buffer]) : local(item)));
 */
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';
import type { BackendName } from '../engine/backend.ts';

/** What the main thread sends a worker. */
export interface TaskMessage {
  id: number;
  task: string;
  payload: unknown;
}

/** What a worker answers: the task's value, or its error (`user` for a {@link UserError}). */
export type ReplyMessage =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { message: string; stack?: string; user: boolean } };

/** The worker's first message, after its backend is ready (or failed to start). */
export type ReadyMessage =
  { ready: true } | { ready: false; error: { message: string; stack?: string; user: boolean } };

/** Options of {@link createPool}: the number of worker threads, their backend and the task modules each worker loads. */
export interface PoolOptions {
  /** Number of worker threads (at least 1). */
  workers: number;
  /** Backend each worker initialises (default: the main thread's current one, else `wasm`). */
  backend?: BackendName;
  /**
   * More modules (paths or URLs) whose exported `TASKS` record of handlers (see poolWorker.ts) every
   * worker registers, beside the project's own (poolWorkerTasks.ts).
   */
  taskModules?: (string | URL)[];
}

/** A running pool. Call {@link WorkerPool.close} when done (see {@link withPool}). */
export interface WorkerPool {
  readonly size: number;
  /** Runs `task` on the first free worker; `transfer` lists buffers moved (not copied) to it. */
  run<R>(task: string, payload: unknown, transfer?: readonly ArrayBuffer[]): Promise<R>;
  /** Runs `task` on worker `index` (0-based), after the tasks already queued for it. */
  runOn<R>(index: number, task: string, payload: unknown, transfer?: readonly ArrayBuffer[]): Promise<R>;
  /** Runs `task` once on every worker (the same payload, copied); resolves to their answers in order. */
  broadcast<R>(task: string, payload: unknown): Promise<R[]>;
  /** Terminates every worker; pending tasks are rejected. Safe to call twice. */
  close(): Promise<void>;
}

/** The default number of workers: one per core the process may use. */
export function defaultWorkers(): number {
  return os.availableParallelism();
}

let clampWarned = false;

/**
 * Checks a `--workers` value: a whole number from 1 up; a {@link UserError} otherwise. More workers
 * than cores (each a tfjs instance with its own memory) only share the cores and cost memory: the
 * value is clamped to the cores, with one warning on stderr per process.
 */
export function checkWorkers(n: number | undefined): number {
  const v = n ?? defaultWorkers();
  if (!Number.isInteger(v) || v < 1) throw new UserError(`workers must be a whole number >= 1 (got ${n})`);
  const cores = defaultWorkers();
  if (v <= cores) return v;
  if (!clampWarned) {
    clampWarned = true;
    process.stderr.write(
      `advlens: warning: ${v} workers is more than the ${cores} core(s) here; using ${cores} (more threads only share the cores and each costs memory)\n`,
    );
  }
  return cores;
}

/** Whether this module runs from its TypeScript source (under tsx) rather than compiled (`dist/`). */
const FROM_SOURCE = new URL(import.meta.url).pathname.endsWith('.ts');
/** The worker's module, beside this one: poolWorker.ts from the sources, poolWorker.js compiled. */
const WORKER = new URL(FROM_SOURCE ? './poolWorker.ts' : './poolWorker.js', import.meta.url);
const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * What a worker thread is started with: the compiled worker module itself, or, when TypeScript must
 * load in the worker (the pool runs from the sources, or a task module is TypeScript), a bootstrap
 * that registers tsx in the thread first: a worker started with no exec arguments does not inherit
 * the main thread's `--import tsx`.
 */
function workerEntry(taskModules: readonly string[]): { entry: URL | string; eval: boolean } {
  const ts = taskModules.find((m) => TYPESCRIPT.test(new URL(m).pathname));
  if (!FROM_SOURCE && !ts) return { entry: WORKER, eval: false };
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    throw new UserError(
      `task module ${ts} is TypeScript, and tsx, which would load it in the workers, is not installed; install tsx (npm install tsx) or give a compiled .js module`,
    );
  }
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER.href)}); });`;
  return { entry: code, eval: true };
}

interface Pending {
  id: number;
  task: string;
  payload: unknown;
  transfer: readonly ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: Promise<void>;
  /** The task being run, if any. */
  current: Pending | null;
  /** Tasks queued for this worker only (runOn). */
  own: Pending[];
}

/** Rebuilds a worker's error in the main thread: a UserError stays one; others keep the worker's stack. */
function reviveError(e: { message: string; stack?: string; user: boolean }, where: string): Error {
  if (e.user) return new UserError(e.message);
  const err = new Error(`${e.message} (in ${where})`);
  if (e.stack) err.stack = `Error: ${e.message} (in ${where})\n${e.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

/**
 * The old generation's initial size (MiB) of the workers' V8 heaps. With V8's small default, a
 * worker of a data-parallel ResNet-20 step ran a full mark-compact at almost every step (its heap
 * 29 -> 34 MB each time: the external-memory pressure of the step's typed arrays), on the worker's
 * thread and V8's helper threads, which took the core from the other worker at a batch-norm
 * synchronisation; at 128 the same pressure is met by scavenges, the heap stays under 40 MB, and the
 * 2-worker step ran faster (2026-12-06, ResNet-20 at batch 128 through `train()`: wall 336-372 ->
 * 292-326 ms a step, CPU of all threads 609-667 -> 542-596 ms; worker mark-compacts 23 -> 0-8). A V8
 * flag is process-wide and read when an isolate is made: set before the first worker starts, it
 * leaves the main thread's heap as it was. `ADVLENS_WORKER_OLD_SPACE_MB=0` keeps V8's default.
 */
const WORKER_OLD_SPACE_MB = 128;
let workerHeapSet = false;

function setWorkerHeap(): void {
  if (workerHeapSet) return;
  workerHeapSet = true;
  const env = process.env.ADVLENS_WORKER_OLD_SPACE_MB;
  const mb = env === undefined || env === '' ? WORKER_OLD_SPACE_MB : Number(env);
  if (Number.isInteger(mb) && mb > 0) v8.setFlagsFromString(`--initial-old-space-size=${mb}`);
}

/**
 * Starts `o.workers` worker threads. Each loads poolWorker (compiled, or its TypeScript source through
 * tsx when the pool itself runs from the sources; see `workerEntry`) and initialises the backend.
 * Prefer {@link withPool}, which always closes.
 */
export function createPool(o: PoolOptions): WorkerPool {
  const n = checkWorkers(o.workers);
  setWorkerHeap();
  const backend = o.backend ?? ((tf.getBackend() as BackendName | undefined) || 'wasm');
  let nextId = 1;
  let closed = false;
  let failure: Error | null = null;
  const shared: Pending[] = [];
  const taskModules = (o.taskModules ?? []).map((m) =>
    m instanceof URL ? m.href : pathToFileURL(path.resolve(m)).href,
  );
  const start = workerEntry(taskModules);

  const fail = (err: Error) => {
    if (!failure) failure = err;
    for (const s of slots) {
      if (s.current) s.current.reject(err);
      s.current = null;
      for (const p of s.own.splice(0)) p.reject(err);
    }
    for (const p of shared.splice(0)) p.reject(err);
    void closeAll();
  };

  const slots: Slot[] = Array.from({ length: n }, (_, index) => {
    const worker = new Worker(start.entry, {
      eval: start.eval,
      workerData: { backend, index, taskModules },
      execArgv: [],
    });
    worker.unref();
    let settle!: { ok: () => void; no: (e: Error) => void };
    const ready = new Promise<void>((ok, no) => (settle = { ok, no }));
    ready.catch(() => undefined); // observed through fail()
    const slot: Slot = { index, worker, ready, current: null, own: [] };
    worker.on('message', (m: ReplyMessage | ReadyMessage) => {
      if ('ready' in m) {
        if (m.ready) {
          settle.ok();
          dispatch();
        } else {
          const err = reviveError(m.error, `pool worker ${index}, while starting`);
          settle.no(err);
          fail(err);
        }
        return;
      }
      const p = slot.current;
      if (!p || p.id !== m.id) return;
      slot.current = null;
      if (m.ok) p.resolve(m.value);
      else p.reject(reviveError(m.error, `pool worker ${index}, task ${p.task}`));
      dispatch();
    });
    worker.on('error', (e: Error) => {
      const what = slot.current ? `its task '${slot.current.task}' did not finish` : 'it was idle';
      fail(new Error(`pool worker ${index} crashed (${e.message.split('\n')[0]}); ${what}`));
    });
    worker.on('exit', (code) => {
      if (closed) return;
      const what = slot.current ? `its task '${slot.current.task}' did not finish` : 'it was idle';
      fail(new Error(`pool worker ${index} stopped unexpectedly (exit code ${code}); ${what}`));
    });
    return slot;
  });

  /**
   * Hands queued tasks to idle, ready workers; holds the event loop open only while tasks run. Once
   * the pool is closed it does nothing: a worker's 'ready' message read after close() (the main
   * thread was busy while the workers started) would otherwise unref the workers being terminated,
   * leaving close() waiting for their exit on an empty event loop (exit code 13 under a top-level await).
   */
  function dispatch(): void {
    if (closed) return;
    for (const s of slots) {
      if (s.current || failure) continue;
      const p = s.own.shift() ?? shared.shift();
      if (!p) continue;
      s.current = p;
      s.ready.then(
        () => {
          if (s.current !== p) return;
          const msg: TaskMessage = { id: p.id, task: p.task, payload: p.payload };
          try {
            s.worker.postMessage(msg, p.transfer as ArrayBuffer[]);
          } catch (e) {
            s.current = null;
            p.reject(e as Error);
            dispatch();
          }
        },
        () => undefined,
      );
    }
    const busy = slots.some((s) => s.current || s.own.length) || shared.length > 0;
    for (const s of slots) {
      if (busy) s.worker.ref();
      else s.worker.unref();
    }
  }

  function enqueue<R>(
    queue: Pending[],
    task: string,
    payload: unknown,
    transfer: readonly ArrayBuffer[] = [],
  ): Promise<R> {
    if (failure) return Promise.reject(failure);
    if (closed) return Promise.reject(new Error(`the worker pool is closed; task '${task}' was not run`));
    return new Promise<R>((resolve, reject) => {
      queue.push({ id: nextId++, task, payload, transfer, resolve: resolve as (v: unknown) => void, reject });
      dispatch();
    });
  }

  async function closeAll(): Promise<void> {
    if (closed) return;
    closed = true;
    const err = failure ?? new Error('the worker pool was closed before the task finished');
    for (const s of slots) {
      if (s.current) s.current.reject(err);
      s.current = null;
      for (const p of s.own.splice(0)) p.reject(err);
    }
    for (const p of shared.splice(0)) p.reject(err);
    // An idle worker is unref'd; hold the event loop open until each has exited (dispatch no longer
    // runs to unref them again), or terminate() is left pending on an empty loop (exit code 13).
    await Promise.all(
      slots.map((s) => {
        s.worker.ref();
        return s.worker.terminate().catch(() => undefined);
      }),
    );
  }

  return {
    size: n,
    run: (task, payload, transfer) => enqueue(shared, task, payload, transfer),
    runOn: (index, task, payload, transfer) => {
      const s = slots[index];
      if (!s) return Promise.reject(new Error(`no pool worker ${index} (the pool has ${n})`));
      return enqueue(s.own, task, payload, transfer);
    },
    broadcast: <R>(task: string, payload: unknown) =>
      Promise.all(slots.map((s) => enqueue<R>(s.own, task, payload))),
    close: closeAll,
  };
}

/**
 * `fn` over `items` with at most `limit` calls pending at once (so that a pool's inputs are made as
 * workers free up, not all up front); answers the results in the items' order and rejects with the
 * first error, starting nothing more after it.
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return out;
}

/**
 * Runs `fn` with a pool of `workers` threads, or with `null` when `workers` is 1 (the caller then
 * works in process: no thread is started). The pool is closed whatever happens, so a command exits.
 */
export async function withPool<T>(
  workers: number,
  fn: (pool: WorkerPool | null) => Promise<T>,
  o: Omit<PoolOptions, 'workers'> = {},
): Promise<T> {
  const n = checkWorkers(workers);
  if (n === 1) return fn(null);
  const pool = createPool({ ...o, workers: n });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/**
 * Runs `fn` over `cells`, each a measurement of `perCell` batches, on a pool of at most `workers`
 * threads (`--workers`; no more than there are batches): as many cells at once as keep every worker
 * busy (one at a time in process when the pool is `null`), answering their results in order. With no
 * cells, no thread starts. The zoo tables measure their cells with it.
 */
export async function withCellPool<T, R>(
  cells: readonly T[],
  perCell: number,
  workers: number | undefined,
  fn: (cell: T, pool: WorkerPool | null) => Promise<R>,
): Promise<R[]> {
  if (cells.length === 0) return [];
  const n = Math.min(checkWorkers(workers), perCell * cells.length);
  return withPool(n, (pool) =>
    mapConcurrent(cells, pool ? Math.max(1, Math.ceil(pool.size / perCell)) : 1, (cell) => fn(cell, pool)),
  );
}
