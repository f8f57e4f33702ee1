/**
 * Leak run (issue 5: "no tensor leaks over 1,000 steps of each workload"): runs each small-CNN
 * workload of the benchmark (torch_ref.py's definitions, batch 64) until it has done at least
 * `--steps` gradient steps (forward: passes; train_step: optimizer steps; pgd40, smoothgrad50, ig50:
 * gradient passes), and checks that the live tensor count and the wasm backend's buffers are the
 * same afterwards as after the first call. Prints RSS growth too. Exit 1 on a leak.
 * `--models` adds the real-size models' workloads (bench/suite/models.ts: darknet tiny at batch 8,
 * ResNet-20 at batch 128; pgd7_train counts 8 gradient passes per optimizer step) with their own
 * step count, `--model-steps` (a darknet gradient pass takes seconds). `--workers N` (N >= 2) runs
 * the models' data-parallel training workloads too (ResNet-20's train_step and pgd7_train on a pool
 * of N workers, one training session throughout, as the bench's pool figures), and checks the live
 * tensors of the main thread and of every worker.
 *
 *   npx tsx bench/leaks.ts [--steps 1000] [--only input_grad,pgd40] [--json]
 *                          [--models small,resnet20,darknet] [--model-steps 1000] [--workers N]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FULL, smallCnnWorkloads, type WorkloadSet } from './suite/workloads.ts';
import { MODELS_FULL, modelWorkloads, type ModelName } from './suite/models.ts';
import { createPool } from '../src/node/pool.ts';
import { poolShardedGradients } from '../src/node/poolWorkerTasks.ts';
import { POOL_TASKS, startedOnce } from './suite/parallel.ts';

const { values: opt } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    models: { type: 'string', default: 'small' },
    'model-steps': { type: 'string', default: '1000' },
    workers: { type: 'string', default: '1' },
  },
});
const steps = Number(opt.steps);
if (!Number.isInteger(steps) || steps < 1) {
  process.stderr.write(`--steps must be a positive integer (got ${opt.steps})\n`);
  process.exit(2);
}
const workers = Number(opt.workers);
if (!Number.isInteger(workers) || workers < 1) {
  process.stderr.write(`--workers must be a positive integer (got ${opt.workers})\n`);
  process.exit(2);
}
await initNodeBackend('wasm');

/** Gradient steps (or passes) one call of each workload makes. */
const STEPS_PER_CALL: Record<string, number> = {
  forward: 1,
  input_grad: 1,
  train_step: FULL.trainSteps,
  smoothgrad50: FULL.smoothgradSamples,
  ig50: FULL.igSteps,
  pgd40: FULL.pgdSteps,
};
/** The same for the real-size models' workloads (gradient passes; train_step: optimizer steps). */
const MODEL_STEPS_PER_CALL: Record<string, number> = {
  forward: 1,
  input_grad: 1,
  [`smoothgrad${MODELS_FULL.smoothgradSamples}`]: MODELS_FULL.smoothgradSamples,
  [`pgd${MODELS_FULL.pgdSteps}`]: MODELS_FULL.pgdSteps,
  train_step: MODELS_FULL.trainSteps,
  [`pgd${MODELS_FULL.pgdTrainSteps}_train`]: MODELS_FULL.trainSteps * (MODELS_FULL.pgdTrainSteps + 1),
};
const modelSteps = Number(opt['model-steps']);
const DARKNET = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'shared',
  'models',
  'darknet-tiny',
);

const dataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
const only = opt.only?.split(',');
const rows: Record<string, unknown>[] = [];
let failed = false;
const sets: [string, () => Promise<WorkloadSet | { skipped: string }>][] = opt.models
  .split(',')
  .map((m) => [
    m,
    () =>
      m === 'small'
        ? Promise.resolve(smallCnnWorkloads(FULL, 1, true))
        : modelWorkloads(m as ModelName, MODELS_FULL, 1, DARKNET, true),
  ]);
for (const [model, make] of sets) {
  const set = await make();
  if ('skipped' in set) {
    process.stdout.write(`${model}: ${set.skipped}\n`);
    continue;
  }
  const small = model === 'small';
  const target = small ? steps : modelSteps;
  try {
    for (const w of set.workloads) {
      if (only && !only.includes(w.name)) continue;
      const per = (small ? STEPS_PER_CALL : MODEL_STEPS_PER_CALL)[w.name];
      if (per) await leakCheck(model, w.name, `${small ? '' : model + ' '}${w.name}`, per, target, w.run);
    }
    if (workers > 1 && set.sharded) await shardedLeaks(model, set.sharded, target);
  } finally {
    set.dispose();
  }
}

if (opt.json) process.stdout.write(JSON.stringify({ steps, rows, ok: !failed }, null, 2) + '\n');
process.exit(failed ? 1 : 0);

/**
 * Runs `run` once (warm-up: lazily made state such as optimizer slots and tap models), then until
 * `target` steps of `per` a call, and checks that the live tensors and the wasm backend's buffers
 * (and with `workerTensors`, each worker's live tensors) are what they were after the warm-up.
 */
async function leakCheck(
  model: string,
  workload: string,
  label: string,
  per: number,
  target: number,
  run: () => Promise<void> | void,
  workerTensors?: () => Promise<number[]>,
): Promise<void> {
  await run();
  const t0 = tf.memory().numTensors;
  const d0 = dataIds();
  const r0 = process.memoryUsage().rss;
  const w0 = await workerTensors?.();
  const calls = Math.ceil(target / per);
  const start = performance.now();
  for (let i = 0; i < calls; i++) await run();
  const w1 = await workerTensors?.();
  const row = {
    model,
    workload,
    calls,
    steps: calls * per,
    seconds: (performance.now() - start) / 1000,
    tensorsBefore: t0,
    tensorsAfter: tf.memory().numTensors,
    buffersBefore: d0,
    buffersAfter: dataIds(),
    rssGrowthMB: (process.memoryUsage().rss - r0) / 2 ** 20,
    ...(w0 && w1 ? { workerTensorsBefore: w0, workerTensorsAfter: w1 } : {}),
  };
  const ok =
    row.tensorsAfter === row.tensorsBefore &&
    row.buffersAfter === row.buffersBefore &&
    w0?.join() === w1?.join();
  failed ||= !ok;
  rows.push({ ...row, ok });
  if (!opt.json)
    process.stdout.write(
      `${label.padEnd(34)} ${String(row.steps).padStart(5)} steps in ${row.seconds.toFixed(0)} s: tensors ${t0} -> ${row.tensorsAfter}, wasm buffers ${d0} -> ${row.buffersAfter}, ${w0 && w1 ? `workers' tensors ${w0.join(', ')} -> ${w1.join(', ')}` : `RSS ${row.rssGrowthMB >= 0 ? '+' : ''}${row.rssGrowthMB.toFixed(0)} MiB`}${ok ? '' : '  LEAK'}\n`,
    );
}

/**
 * The data-parallel workloads of `sharded` on a pool of `workers`, a training session of its own per
 * workload (startedOnce: its objective is set up in the workers once), checked as {@link leakCheck}
 * does, each worker's live tensors too.
 */
async function shardedLeaks(
  model: string,
  sharded: NonNullable<WorkloadSet['sharded']>,
  target: number,
): Promise<void> {
  const pool = createPool({ workers, taskModules: [POOL_TASKS] });
  const inWorkers = () =>
    Promise.all(Array.from({ length: workers }, (_, k) => pool.runOn<number>(k, 'memory', null)));
  try {
    for (const [name, run] of Object.entries(sharded)) {
      if (only && !only.includes(name)) continue;
      const per = MODEL_STEPS_PER_CALL[name];
      if (!per) continue;
      const shards = poolShardedGradients(pool);
      const once = startedOnce(shards);
      const workload = `${name} (${workers} workers)`;
      try {
        await leakCheck(model, workload, `${model} ${workload}`, per, target, () => run(once), inWorkers);
      } finally {
        await shards.stop();
      }
    }
  } finally {
    await pool.close();
  }
}
