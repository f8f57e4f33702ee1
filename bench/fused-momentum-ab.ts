/**
 * The fused SGD-momentum step (src/train/fusedMomentum.ts) against tfjs's optimiser, alternated in one
 * process: ResNet-20's train_step (bench/suite/models.ts: one `train()` epoch of 2 steps of batch 128,
 * SGD lr 0.1 momentum 0.9) on a pool of 2 workers and in this thread, after warm-up calls. Prints the
 * median ms a call of each. The results are the same bit for bit (test/train/fusedMomentum.test.ts).
 *
 *   npx tsx bench/fused-momentum-ab.ts [pairs (default 12)]
 */
import { initNodeBackend } from '../src/node/backend.ts';
import { setFusedMomentum } from '../src/train/fusedMomentum.ts';
import { MODELS_FULL } from './suite/models.ts';
import { resnet20OnPool } from './suite/parallel.ts';

const pairs = Number(process.argv[2] ?? 12);
if (!Number.isInteger(pairs) || pairs < 1) {
  process.stderr.write(`fused-momentum-ab: pairs must be an integer >= 1 (got ${process.argv[2]})\n`);
  process.exit(2);
}
await initNodeBackend('wasm');
const r = await resnet20OnPool(2);
const one = () => r.trainStep.run();
const par = () => r.sharded('train_step');
const times: Record<string, number[]> = {};
const timed = async (key: string, run: () => void | Promise<void>) => {
  const t0 = performance.now();
  await run();
  (times[key] ??= []).push(performance.now() - t0);
};
try {
  for (let i = 0; i < 8; i++) {
    await par();
    await one();
  }
  for (let i = 0; i < pairs; i++)
    for (const on of [true, false]) {
      setFusedMomentum(on);
      const how = on ? 'fused' : 'tfjs ';
      await timed(`2 workers, ${how}`, par);
      await timed(`1 thread,  ${how}`, one);
    }
} finally {
  setFusedMomentum(true);
  await r.close();
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(
  `ResNet-20 train_step, ms a call of ${MODELS_FULL.trainSteps} steps of ${MODELS_FULL.resnetBatch}, ${pairs} alternated pairs:`,
);
for (const [k, v] of Object.entries(times).sort()) console.log(`  ${k}  median ${median(v).toFixed(1)}`);
