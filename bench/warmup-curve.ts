/**
 * How the time of a call settles over the first calls of a fresh process and a fresh worker pool:
 * ResNet-20's train_step (bench/suite/models.ts: one epoch of 2 steps of batch 128 through `train()`)
 * in this thread and on a pool of 2 workers, alternately, from the first call on. What the bench's
 * warm-up (`--warmup`, bench/suite/measure.ts) has to cover: V8 compiles the JavaScript of a fresh
 * thread over its first seconds, on helper threads that take the cores from the workers.
 *
 *   npx tsx bench/warmup-curve.ts [calls (default 12)]
 */
import { initNodeBackend } from '../src/node/backend.ts';
import { MODELS_FULL } from './suite/models.ts';
import { resnet20OnPool } from './suite/parallel.ts';

const calls = Number(process.argv[2] ?? 12);
if (!Number.isInteger(calls) || calls < 1) {
  process.stderr.write(`warmup-curve: calls must be an integer >= 1 (got ${process.argv[2]})\n`);
  process.exit(2);
}
await initNodeBackend('wasm');
const r = await resnet20OnPool(2);
const t1: number[] = [];
const t2: number[] = [];
try {
  for (let i = 0; i < calls; i++) {
    let t0 = performance.now();
    await r.trainStep.run();
    t1.push(performance.now() - t0);
    t0 = performance.now();
    await r.sharded('train_step');
    t2.push(performance.now() - t0);
  }
} finally {
  await r.close();
}
const row = (xs: number[]) => xs.map((v) => v.toFixed(0).padStart(5)).join(' ');
console.log(
  `ResNet-20 train_step, ms per call of ${MODELS_FULL.trainSteps} steps of ${MODELS_FULL.resnetBatch}, call 1 first:`,
);
console.log(`  1 thread   ${row(t1)}`);
console.log(`  2 workers  ${row(t2)}`);
console.log(`  ratio      ${t1.map((v, i) => (v / t2[i]).toFixed(2).padStart(5)).join(' ')}`);
