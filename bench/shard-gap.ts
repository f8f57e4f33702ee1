/**
 * Where ResNet-20's data-parallel training step spends its time, from the main thread: per step, the
 * time inside `ShardedGradients.run` (the workers' passes, from posting the shards to the last
 * result) and the gap between two steps of one `train()` call (the serial part, while both workers
 * wait: summing their gradients, the optimiser, the moving statistics, the next batch). One training
 * session on a pool of 2 workers (as the bench's pool figures), `--warm` untimed calls of 2 steps of
 * 128 first, then `--calls` timed ones.
 *
 *   npx tsx bench/shard-gap.ts [--workload train_step|pgd7_train] [--calls 12] [--warm 8] [--workers 2]
 *
 * Needs nothing from ../shared (ResNet-20 comes from the architectures registry, the data is random).
 */
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import type { ShardedGradients } from '../src/train/shards.ts';
import { resnet20OnPool } from './suite/parallel.ts';

function fail(msg: string): never {
  process.stderr.write(`shard-gap: ${msg}\n`);
  process.exit(2);
}
let opt: { workload: string; calls: string; warm: string; workers: string };
try {
  opt = parseArgs({
    options: {
      workload: { type: 'string', default: 'train_step' },
      calls: { type: 'string', default: '12' },
      warm: { type: 'string', default: '8' },
      workers: { type: 'string', default: '2' },
    },
  }).values as typeof opt;
} catch (e) {
  fail((e as Error).message);
}
const [calls, warm, workers] = [opt!.calls, opt!.warm, opt!.workers].map(Number);
if (!Number.isInteger(calls) || calls < 1) fail(`--calls must be an integer >= 1 (got ${opt!.calls})`);
if (!Number.isInteger(warm) || warm < 0) fail(`--warm must be an integer >= 0 (got ${opt!.warm})`);
if (!Number.isInteger(workers) || workers < 2)
  fail(`--workers must be an integer >= 2 (got ${opt!.workers})`);

await initNodeBackend('wasm');
let timing = false;
let inRun = 0;
let steps = 0;
let lastEnd = 0;
const gaps: number[] = [];
// The pool's ShardedGradients, timed: each step's time in the workers and the gap before it.
const r = await resnet20OnPool(workers, (sharded): ShardedGradients => ({
  size: sharded.size,
  start: (s) => sharded.start(s),
  stop: () => sharded.stop(),
  run: async (w, t) => {
    const t0 = performance.now();
    if (timing && lastEnd) gaps.push(t0 - lastEnd);
    const out = await sharded.run(w, t);
    lastEnd = performance.now();
    if (timing) {
      inRun += lastEnd - t0;
      steps++;
    }
    return out;
  },
}));
try {
  if (!r.set.sharded?.[opt!.workload])
    fail(`--workload must be one of ${Object.keys(r.set.sharded ?? {}).join(', ')} (got ${opt!.workload})`);
  for (let i = 0; i < warm; i++) await r.sharded(opt!.workload);
  timing = true;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    lastEnd = 0; // the gap is measured within a call (between a call's steps), not across calls
    await r.sharded(opt!.workload);
  }
  const total = performance.now() - t0;
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = sorted.length ? sorted[sorted.length >> 1] : NaN;
  process.stdout.write(
    `ResNet-20 ${opt!.workload} on ${workers} workers: ${(total / calls).toFixed(0)} ms a call of ` +
      `${steps / calls} steps; in the workers ${(inRun / steps).toFixed(1)} ms a step; gap between ` +
      `steps median ${median.toFixed(2)} ms (${gaps.map((g) => g.toFixed(1)).join(' ')})\n`,
  );
} finally {
  await r.close();
}
