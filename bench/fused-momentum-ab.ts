/**
 * The fused SGD-momentum step (src/train/fusedMomentum.ts) against tfjs's optimiser, alternated in one
 * process: ResNet-20's train_step (bench/suite/models.ts: one `train()` epoch of 2 steps of batch 128,
 * SGD lr 0.1 momentum 0.9) on a pool of 2 workers and in this thread, after warm-up calls. Prints the
 * median ms a call of each. The results are the same bit for bit (test/train/fusedMomentum.test.ts).
 *
 *   npx tsx bench/fused-momentum-ab.ts [pairs (default 12)]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../src/node/backend.ts';
import { createPool } from '../src/node/pool.ts';
import { poolShardedGradients } from '../src/node/poolWorkerTasks.ts';
import { setFusedMomentum } from '../src/train/fusedMomentum.ts';
import { MODELS_FULL, modelWorkloads } from './suite/models.ts';
import { POOL_TASKS, startedOnce } from './suite/parallel.ts';

const pairs = Number(process.argv[2] ?? 12);
if (!Number.isInteger(pairs) || pairs < 1) {
  process.stderr.write(`fused-momentum-ab: pairs must be an integer >= 1 (got ${process.argv[2]})\n`);
  process.exit(2);
}
await initNodeBackend('wasm');
const darknet = path.resolve(fileURLToPath(new URL('../../shared/models/darknet-tiny', import.meta.url)));
const set = await modelWorkloads('resnet20', MODELS_FULL, 1, darknet, true);
if ('skipped' in set) throw new Error(set.skipped);
const pool = createPool({ workers: 2, taskModules: [POOL_TASKS] });
const sharded = poolShardedGradients(pool);
const once = startedOnce(sharded);
const one = set.workloads.find((w) => w.name === 'train_step')!;
const par = set.sharded!.train_step;
const times: Record<string, number[]> = {};
const timed = async (key: string, run: () => void | Promise<void>) => {
  const t0 = performance.now();
  await run();
  (times[key] ??= []).push(performance.now() - t0);
};
try {
  for (let i = 0; i < 8; i++) {
    await par(once);
    await one.run();
  }
  for (let i = 0; i < pairs; i++)
    for (const on of [true, false]) {
      setFusedMomentum(on);
      const how = on ? 'fused' : 'tfjs ';
      await timed(`2 workers, ${how}`, () => par(once));
      await timed(`1 thread,  ${how}`, () => one.run());
    }
} finally {
  setFusedMomentum(true);
  await sharded.stop();
  await pool.close();
  set.dispose();
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(
  `ResNet-20 train_step, ms a call of ${MODELS_FULL.trainSteps} steps of ${MODELS_FULL.resnetBatch}, ${pairs} alternated pairs:`,
);
for (const [k, v] of Object.entries(times).sort()) console.log(`  ${k}  median ${median(v).toFixed(1)}`);
