/**
 * A pool worker thread (started by src/node/pool.ts): initialises its own
 * TensorFlow.js exactly as the main thread does (`initNodeBackend`: the backend and the project's
 * kernels), then answers task messages one at a time. Task handlers come from poolWorkerTasks.ts plus
 * any `taskModules` the pool was given; models are loaded from their folder once and cached.
 */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from './backend.ts';
import { loadClassifier } from './models.ts';
import { UserError } from '../errors.ts';
import type { BackendName } from '../engine/backend.ts';
import type { Classifier } from '../models/classifier.ts';
import type { ReadyMessage, ReplyMessage, TaskMessage } from './pool.ts';

/** What a task handler gets besides its payload. */
export interface WorkerEnv {
  /** This worker's index in the pool. */
  index: number;
  /** The classifier in `dir` (with `preset`), loaded on first use and cached for later tasks. */
  classifier(dir: string, preset?: string): Promise<Classifier>;
  /** State kept between tasks (a training session, ...), by key. */
  state: Map<string, unknown>;
}

/** A handler's answer: its value, and the buffers to move (not copy) back to the main thread. */
export interface TaskReply<R = unknown> {
  value: R;
  transfer?: ArrayBuffer[];
}

/** A task a pool worker runs: its payload in, a reply (with transferable buffers) out. */
export type TaskHandler = (payload: any, env: WorkerEnv) => TaskReply | Promise<TaskReply>;

const data = workerData as { backend: BackendName; index: number; taskModules?: string[] };

function errorOf(e: unknown): { message: string; stack?: string; user: boolean } {
  if (e instanceof UserError) return { message: e.message, user: true };
  const err = e instanceof Error ? e : new Error(String(e));
  return { message: err.message, stack: err.stack, user: false };
}

const port = parentPort;
if (!port) throw new Error('poolWorker.ts runs in a worker thread started by src/node/pool.ts');

const handlers: Record<string, TaskHandler> = {
  /** Live tensors in this worker (for leak checks). */
  memory: () => ({ value: tf.memory().numTensors }),
};
const models = new Map<string, Promise<Classifier>>();
const env: WorkerEnv = {
  index: data.index,
  classifier(dir, preset) {
    const key = `${path.resolve(dir)}\u0000${preset ?? ''}`;
    let m = models.get(key);
    if (!m) {
      m = loadClassifier(dir, { preset });
      models.set(key, m);
      m.catch(() => models.delete(key));
    }
    return m;
  },
  state: new Map(),
};

try {
  await initNodeBackend(data.backend);
  type TaskModule = { TASKS: Record<string, TaskHandler> };
  Object.assign(handlers, ((await import('./poolWorkerTasks.ts')) as TaskModule).TASKS);
  for (const m of data.taskModules ?? []) Object.assign(handlers, ((await import(m)) as TaskModule).TASKS);
  port.postMessage({ ready: true } satisfies ReadyMessage);
} catch (e) {
  port.postMessage({ ready: false, error: errorOf(e) } satisfies ReadyMessage);
}

// One task at a time, in the order they arrive (the pool sends a worker one task at a time anyway).
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: TaskMessage) => {
  chain = chain.then(async () => {
    let reply: ReplyMessage;
    let transfer: ArrayBuffer[] = [];
    try {
      const h = Object.hasOwn(handlers, m.task) ? handlers[m.task] : undefined;
      if (!h) throw new Error(`unknown pool task '${m.task}'; known: ${Object.keys(handlers).join(', ')}`);
      const r = await h(m.payload, env);
      reply = { id: m.id, ok: true, value: r.value };
      transfer = r.transfer ?? [];
    } catch (e) {
      reply = { id: m.id, ok: false, error: errorOf(e) };
    }
    port.postMessage(reply, transfer);
  });
});
