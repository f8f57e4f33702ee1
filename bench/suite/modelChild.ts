/**
 * One real-size model's workloads (bench/suite/models.ts) in a process of their own, so that the peak
 * RSS beside each workload is this model's alone (bench/run.ts starts it once per model and round):
 * one thread, then with `--workers N > 1` input_grad (and darknet's smoothgrad and pgd) with the batch
 * split over a pool of N worker threads. Prints one line of JSON: { workloads, parallel, peakRssMB,
 * workerTensorsAtEnd, tensorsAtStart, tensorsAtEnd, skipped? }.
 *
 *   node --import tsx bench/suite/modelChild.ts --model darknet|resnet20|cifar-cnn --darknet DIR
 *        [--seconds S] [--warmup S] [--workers N] [--reps N] [--quick]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { createPool } from '../../src/node/pool.ts';
import { poolShardedGradients } from '../../src/node/poolWorkerTasks.ts';
import { shardRows } from '../../src/train/loop.ts';
import { measure, peakRssMB, type Workload, type WorkloadResult } from './measure.ts';
import { MODELS_FULL, MODELS_QUICK, modelInputs, modelWorkloads, type ModelName } from './models.ts';
import { POOL_TASKS, startedOnce } from './parallel.ts';
import type { ModelShard } from './poolTasks.ts';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string' },
    darknet: { type: 'string', default: '' },
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
  },
});
const name = opt.model as ModelName;
const seconds = Number(opt.seconds);
const warmup = Number(opt.warmup);
const workers = Number(opt.workers);
const s = opt.quick ? MODELS_QUICK : MODELS_FULL;
const SEED = 1;
const minReps = Number(opt.reps);
const log = (m: string) => process.stderr.write(m + '\n');
const line = (r: WorkloadResult) =>
  log(
    `  ${`${name} ${r.name}`.padEnd(26)} ${r.imagesPerSec.toFixed(r.imagesPerSec >= 100 ? 0 : 2).padStart(8)} img/s  ${r.medianMs.toFixed(0)} ms/call (median of ${r.reps})  peak RSS ${r.peakRssMB.toFixed(0)} MiB  tensors ${r.tensorsBefore} -> ${r.tensorsAfter}${r.tensorsOk ? '' : '  LEAK'}`,
  );

await initNodeBackend('wasm');
const tensorsAtStart = tf.memory().numTensors;
const set = await modelWorkloads(name, s, SEED, opt.darknet, !opt.quick);
const out: Record<string, unknown> = { model: name, tensorsAtStart };
if ('skipped' in set) {
  out.skipped = set.skipped;
} else {
  const results: WorkloadResult[] = [];
  try {
    for (const w of set.workloads) {
      const r = await measure(w, seconds, minReps, warmup);
      results.push(r);
      line(r);
    }
  } catch (e) {
    set.dispose();
    throw e;
  }
  out.workloads = results;
  const parallel: WorkloadResult[] = [];
  if (workers > 1) {
    log(`  on ${workers} worker threads:`);
    const pool = createPool({ workers, taskModules: [POOL_TASKS] });
    try {
      const B = name === 'darknet' ? s.darknetBatch : s.resnetBatch;
      const shape = (name === 'darknet' ? [224, 224, 3] : [32, 32, 3]) as [number, number, number];
      const inp = modelInputs(shape, B, name === 'darknet' ? 1000 : 10, SEED);
      const per = shape[0] * shape[1] * shape[2];
      const split = (task: string, extra: Partial<ModelShard> = {}) =>
        Promise.all(
          shardRows(B, pool.size).map(([off, n], k) => {
            const p: ModelShard = {
              model: name,
              darknetDir: opt.darknet,
              seed: SEED,
              x: inp.x.slice(off * per, (off + n) * per),
              y: inp.y.slice(off, off + n),
              shape: [n, ...shape],
              ...extra,
            };
            return pool.runOn(k, task, p, [p.x.buffer as ArrayBuffer, p.y.buffer as ArrayBuffer]);
          }),
        ).then(() => undefined);
      const how = `batch split over ${pool.size} workers`;
      const byName = (n: string) => set.workloads.find((w) => w.name === n)!;
      const ws: Workload[] = [
        {
          ...byName('input_grad'),
          definition: `lossGradient, ${how}`,
          run: () => split('benchModelInputGrad'),
        },
      ];
      if (name === 'darknet')
        ws.push(
          {
            ...byName(`smoothgrad${s.smoothgradSamples}`),
            definition: `smoothgrad(), ${how}`,
            run: () => split('benchModelSmoothgrad', { samples: s.smoothgradSamples }),
          },
          {
            ...byName(`pgd${s.pgdSteps}`),
            definition: `pgd() L2, ${how}`,
            run: () => split('benchModelPgd', { steps: s.pgdSteps }),
          },
        );
      // Each data-parallel workload sets the workers' model up at its first call (startedOnce) and
      // stops it after its last.
      const stops = new Map<Workload, () => Promise<void>>();
      for (const [n, run] of Object.entries(set.sharded ?? {})) {
        const sharded = poolShardedGradients(pool);
        const once = startedOnce(sharded);
        const w: Workload = {
          ...byName(n),
          definition: `${byName(n).definition}, data-parallel over ${pool.size} workers (batch-norm statistics synchronised; the workers' model set up once, as in a run)`,
          run: () => run(once),
        };
        stops.set(w, () => sharded.stop());
        ws.push(w);
      }
      for (const w of ws) {
        const r = await measure(w, seconds, minReps, warmup);
        await stops.get(w)?.();
        parallel.push(r);
        line(r);
      }
    } finally {
      out.workerTensorsAtEnd = await pool.broadcast<number>('benchRelease', null);
      await pool.close();
    }
  }
  out.parallel = parallel;
  set.dispose();
}
out.tensorsAtEnd = tf.memory().numTensors;
out.peakRssMB = peakRssMB();
process.stdout.write(JSON.stringify(out) + '\n');
