/**
 * F(4x4) in forward convolutions on or off (setWinogradF4), or with `--filter-grad` in filter
 * gradients (setWinogradF4FilterGrad), alternated workload by workload in one process so that both
 * see the same machine load: the median wall time of each real-size workload (bench/suite/models.ts)
 * under each setting, and the ratio, and the same for CPU time (user + system of the process, less
 * moved by other processes than wall time). The other setting stays at its default.
 *
 *   npx tsx bench/f4-forward-ab.ts [--model resnet20|darknet|cifar-cnn] [--workloads train_step,input_grad]
 *                                  [--reps 5] [--filter-grad]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { setWinogradF4, setWinogradF4FilterGrad } from '../src/engine/kernels/winograd.ts';
import { MODELS_FULL, modelWorkloads, type ModelName } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    workloads: { type: 'string' },
    reps: { type: 'string', default: '5' },
    'filter-grad': { type: 'boolean', default: false },
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
const what = opt['filter-grad'] ? 'filter gradient' : 'forward';
const setF4 = opt['filter-grad'] ? setWinogradF4FilterGrad : setWinogradF4;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
try {
  for (const w of set.workloads) {
    if (only && !only.includes(w.name)) continue;
    const times: Record<'f2' | 'f4', number[]> = { f2: [], f4: [] };
    const cpuTimes: Record<'f2' | 'f4', number[]> = { f2: [], f4: [] };
    for (const on of [false, true]) {
      setF4(on);
      await w.run(); // warm-up of each setting
    }
    for (let r = 0; r < Number(opt.reps); r++) {
      for (const on of r % 2 ? [true, false] : [false, true]) {
        setF4(on);
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await w.run();
        const c = process.cpuUsage(c0);
        times[on ? 'f4' : 'f2'].push(performance.now() - t0);
        cpuTimes[on ? 'f4' : 'f2'].push((c.user + c.system) / 1000);
      }
    }
    const [a, b] = [median(times.f2), median(times.f4)];
    const [ca, cb] = [median(cpuTimes.f2), median(cpuTimes.f4)];
    console.log(
      `${opt.model} ${w.name}: F(2x2) ${what} ${a.toFixed(0)} ms, F(4x4) ${what} ${b.toFixed(0)} ms, speed-up ${(a / b).toFixed(2)}x; CPU time ${ca.toFixed(0)} against ${cb.toFixed(0)} ms, ${(ca / cb).toFixed(2)}x`,
    );
  }
} finally {
  setF4(true);
  set.dispose();
}
