/**
 * CPU time (process.cpuUsage, user + sys) per call of the model workloads of `npm run bench`
 * (bench/suite/models.ts: darknet tiny at batch 8, ResNet-20 at 128, cifar-cnn at 64) with the 3x3
 * convolutions by F(2x2, 3x3) only ("before", forced) and with F(4x4, 3x3) where winogradTile picks
 * it ("after", the default since 2026-12-06), alternating call by call in one process (a loaded machine drifts; wall time is
 * noise there). Prints the median of `--reps` calls of each and the ratio before / after.
 *
 *   node --import tsx bench/wino-workloads-cpu.ts [--model darknet|resnet20|cifar-cnn]
 *                                                 [--workloads input_grad,train_step] [--reps 5]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { forceWinogradTile, setWinogradF4 } from '../src/engine/kernels/winograd.ts';
import { MODELS_FULL, modelWorkloads, type ModelName } from './suite/models.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    workloads: { type: 'string' },
    reps: { type: 'string', default: '5' },
  },
});
const DARKNET = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'shared',
  'models',
  'darknet-tiny',
);
await initNodeBackend('wasm');
setWinogradF4(true); // the default, explicit: the 'after' side
const set = await modelWorkloads(opt.model as ModelName, MODELS_FULL, 1, DARKNET, true);
if ('skipped' in set) throw new Error(set.skipped);
const only = opt.workloads?.split(',');
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
try {
  for (const w of set.workloads) {
    if (only && !only.includes(w.name)) continue;
    const t: Record<'before' | 'after', number[]> = { before: [], after: [] };
    for (let r = -1; r < Number(opt.reps); r++)
      for (const which of r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
        forceWinogradTile(which === 'before' ? 2 : null);
        const t0 = cpu();
        await w.run();
        if (r >= 0) t[which].push(cpu() - t0);
      }
    forceWinogradTile(null);
    const [b, a] = [median(t.before), median(t.after)];
    console.log(
      `${opt.model} ${w.name} (batch ${w.batch}): F(2) only ${b.toFixed(0)} ms CPU, with F(4) ${a.toFixed(0)} ms, ratio ${(b / a).toFixed(2)}  [before ${t.before.map((v) => v.toFixed(0)).join(' ')}; after ${t.after.map((v) => v.toFixed(0)).join(' ')}]`,
    );
  }
} finally {
  set.dispose();
}
