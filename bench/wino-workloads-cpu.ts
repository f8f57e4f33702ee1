/**
 * CPU time (process.cpuUsage, user + sys) per call of the model workloads of `npm run bench`
 * (bench/suite/models.ts: darknet tiny at batch 8, ResNet-20 at 128, cifar-cnn at 64) with the 3x3
 * convolutions by F(2x2, 3x3) only ("before", forced) and with F(4x4, 3x3) where winogradTile picks
 * it ("after", the default since 2026-12-06), alternating call by call in one process (a loaded machine drifts; wall time is
 * noise there). Prints the median of `--reps` calls of each and the ratio before / after. With
 * `--compare fma`, "before" is the module's plain build and "after" its build with fused
 * multiply-adds (relaxed SIMD, the default where the engine has it; setWinogradFma). With
 * `--compare fused`, "before" runs the model layer by layer and "after" with its conv / batch norm /
 * add / activation chains as one kernel each (src/models/fusedInference.ts, the default).
 *
 *   node --import tsx bench/wino-workloads-cpu.ts [--model darknet|resnet20|cifar-cnn]
 *                                                 [--workloads input_grad,train_step] [--reps 5]
 *                                                 [--compare f4|fma|fused]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/node/backend.ts';
import { forceWinogradTile, setWinogradF4, setWinogradFma } from '../src/engine/kernels/winograd.ts';
import { MODELS_FULL, modelWorkloads, type ModelName } from './suite/models.ts';
import { setFusedInference } from '../src/models/fusedInference.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    workloads: { type: 'string' },
    reps: { type: 'string', default: '5' },
    compare: { type: 'string', default: 'f4' },
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
const fma = opt.compare === 'fma';
const fused = opt.compare === 'fused';
if (!fma && !fused && opt.compare !== 'f4')
  throw new Error(`--compare: f4, fma or fused, not ${opt.compare}`);
if (fma && !setWinogradFma(true)) throw new Error('--compare fma: this engine has no relaxed SIMD');
const sides = fma ? ['plain', 'FMA'] : fused ? ['layer by layer', 'fused'] : ['F(2) only', 'with F(4)'];
const choose = (which: 'before' | 'after') =>
  fma
    ? setWinogradFma(which === 'after')
    : fused
      ? setFusedInference(which === 'after')
      : forceWinogradTile(which === 'before' ? 2 : null);
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
        choose(which);
        const t0 = cpu();
        await w.run();
        if (r >= 0) t[which].push(cpu() - t0);
      }
    if (fma) setWinogradFma(true);
    else forceWinogradTile(null);
    const [b, a] = [median(t.before), median(t.after)];
    console.log(
      `${opt.model} ${w.name} (batch ${w.batch}): ${sides[0]} ${b.toFixed(0)} ms CPU, ${sides[1]} ${a.toFixed(0)} ms, ratio ${(b / a).toFixed(2)}  [before ${t.before.map((v) => v.toFixed(0)).join(' ')}; after ${t.after.map((v) => v.toFixed(0)).join(' ')}]`,
    );
  }
} finally {
  set.dispose();
}
