/** Pool tasks for test/node/pool.test.ts only: echo, errors, a crash, a tensor leak probe. */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../src/errors.ts';
import type { TaskHandler } from '../../src/node/poolWorker.ts';

export const TASKS: Record<string, TaskHandler> = {
  /** Doubles a Float32Array and moves it back. */
  double: (p: { x: Float32Array }, env) => {
    const y = tf.tidy(() => tf.mul(tf.tensor1d(p.x), 2).dataSync() as Float32Array);
    const out = Float32Array.from(y);
    return { value: { y: out, worker: env.index, backend: tf.getBackend() }, transfer: [out.buffer] };
  },
  userError: () => {
    throw new UserError('bad option --x 3; use 1 or 2');
  },
  internalError: () => {
    throw new Error('something broke');
  },
  crash: () => {
    process.exit(3);
  },
  /** Waits `ms` then answers the worker's index. */
  sleep: async (p: { ms: number }, env) => {
    await new Promise((r) => setTimeout(r, p.ms));
    return { value: env.index };
  },
};
