/**
 * F(4x4) in forward convolutions on or off (setWinogradF4), alternated workload by workload in one
 * process so that both see the same machine load: the median wall time of each real-size workload
 * (bench/suite/models.ts) under each setting, and the ratio.
 *
 *   npx tsx bench/f4-forward-ab.ts [--model resnet20|darknet|cifar-cnn] [--workloads train_step,input_grad] [--reps 5]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { setWinogradF4 } from '../src/engine/kernels/winograd.ts';
import { MODELS_FULL, modelWorkloads, type ModelName } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    workloads: { type: 'string' },
    reps: { type: 'string', default: '5' },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
await initNodeBackend('wasm');
const set = await modelWorkloads(
  opt.model as ModelName,
  MODELS_FULL,
  1,
  path.resolve(here, '..', '..', 'shared', 'models', 'darknet-tiny'),
  true,
);
if ('skipped' in set) throw new Error(set.skipped);
const only = opt.workloads?.split(',');
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
try {
  for (const w of set.workloads) {
    if (only && !only.includes(w.name)) continue;
    const times: Record<'f2' | 'f4', number[]> = { f2: [], f4: [] };
    for (const on of [false, true]) {
      setWinogradF4(on);
      await w.run(); // warm-up of each setting
    }
    for (let r = 0; r < Number(opt.reps); r++) {
      for (const on of r % 2 ? [true, false] : [false, true]) {
        setWinogradF4(on);
        const t0 = performance.now();
        await w.run();
        times[on ? 'f4' : 'f2'].push(performance.now() - t0);
      }
    }
    const [a, b] = [median(times.f2), median(times.f4)];
    console.log(
      `${opt.model} ${w.name}: F(2x2) forward ${a.toFixed(0)} ms, F(4x4) forward ${b.toFixed(0)} ms, speed-up ${(a / b).toFixed(2)}x`,
    );
  }
} finally {
  setWinogradF4(false);
  set.dispose();
}
