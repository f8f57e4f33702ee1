/**
 * The benchmark suite (`npm run bench`): the six workloads of the PyTorch reference
 * `../shared/bench/torch_ref.py` on the MNIST small CNN at batch 64 (forward, input_grad, train_step,
 * smoothgrad50, ig50, pgd40), built with the project's own code, and the real-size workloads of
 * `../shared/bench/torch_ref_models.py`: darknet tiny at 224x224, batch 8 (forward, input_grad,
 * smoothgrad25, pgd20 L2) and the CIFAR ResNet-20 at batch 128 (forward, input_grad, train_step,
 * pgd7_train), bench/suite/models.ts. Per workload: warm-up calls (the first, then --warmup
 * seconds more: default --seconds), then the median of timed calls (at least 3, for --seconds each),
 * images per second, peak RSS, and the live tensor count before and after, which must be equal (FAIL
 * and exit 1 otherwise).
 *
 *   npm run bench [-- --help] [--json] [--compare-torch] [--threads-torch N] [--workers N] [--seconds S] [--warmup S]
 *                 [--models small,darknet,resnet20,cifar-cnn] [--skip-darknet] [--quick] [--results FILE] [--rounds R]
 *                 [--reps N] [--torch-malloc steady|stock] [--torch-isa native|avx2]
 *
 * --warmup S: untimed calls of each workload, the first (setup: operators, packed weights, a pool's
 * models) and then more until S seconds have passed since it ended (default: the --seconds budget;
 * 0: the first call only, the protocol before 2026-12-07). V8 compiles a fresh thread's
 * JavaScript over its first seconds on helper threads that take the cores from the workers; a
 * single warm-up call timed that, not the pace of a run (bench/suite/measure.ts, bench/warmup-curve.ts).
 * --reps N: at least N timed calls per workload after the warm-up (default 3; darknet's smoothgrad25
 * and pgd20 take minutes a call on a loaded machine). --models picks the models (default small,darknet,resnet20; cifar-cnn, the CIFAR-10 zoo's architecture at batch 64 against bench/torch_ref_cifar_cnn.py, on request; --skip-darknet drops darknet). Each real-size model
 * runs in a child process of its own per round (bench/suite/modelChild.ts), and so does each of its
 * torch_ref_models.py runs, so that the peak RSS beside a model's workloads is that model's alone, on
 * both sides (advlens: the child's peak after each workload, so it includes the workloads before it;
 * torch: the peak of its whole run of the model).
 *
 * One advlens thread runs every workload (wasm threads are off in Node). With --workers N (default:
 * the cores, here os.availableParallelism(); 1 turns it off) input_grad, train_step, smoothgrad, ig and pgd are timed
 * again with the batch split over a pool of N worker threads (bench/suite/parallel.ts): advlens's
 * "all cores" figures. --compare-torch runs torch_ref.py in the same run at 1 thread and at N threads
 * (--threads-torch, default all cores) and prints advlens/torch ratios: the one-thread figures
 * against torch at 1 thread, and the N-worker figures against torch at N threads. --quick: batch 8,
 * SmoothGrad-5, IG-5, PGD-4 (for the test; not comparable with torch_ref's definitions beyond the
 * first three). --rounds R: the small CNN's workloads (one thread, the pool) and torch_ref.py in
 * turn, R times, each figure the median of its rounds: the machine's speed drifts by 20% and more
 * within minutes here (a shared host), and a single pass can land one side on a slow stretch.
 * --torch-malloc steady|stock: the PyTorch processes' glibc malloc (bench/suite/torch.ts,
 * STEADY_MALLOC_ENV): steady (default) keeps freed tensors in PyTorch's heap, stock is glibc's
 * default, under which PyTorch faults fresh pages in every step and ran 2-3.5x slower here.
 * --torch-isa native|avx2: the vector instructions PyTorch's oneDNN convolutions may use
 * (bench/suite/torch.ts, AVX2_ISA_ENV): native (default) is what the CPU has (AVX-512 on this host:
 * 16 lanes), avx2 caps them at 8 lanes, as on a CPU without AVX-512. advlens runs its native kernels
 * where they were built for this CPU (native.ts: AVX-512 here), else WebAssembly SIMD (4 lanes;
 * ADVLENS_NATIVE=0 forces that, for every process of the run); the results record which
 * (engine.versions.kernelsBuild), the torch mode and the CPU's vector flags.
 * The results go to bench/results/latest.json (--results FILE elsewhere; --quick writes only there).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { engineInfo } from '../src/engine/backend.ts';
import { versions } from '../src/version.ts';
import { measure, peakRssMB, type Workload, type WorkloadResult } from './suite/measure.ts';
import { FULL, QUICK, smallCnnWorkloads } from './suite/workloads.ts';
import {
  runTorch,
  runTorchModel,
  AVX2_ISA_ENV,
  cpuVectorFlags,
  STEADY_MALLOC_ENV,
  torchAvailable,
  type TorchIsa,
  type TorchMalloc,
  type TorchModelRun,
  type TorchRun,
} from './suite/torch.ts';
import { MODEL_NAMES, TORCH_MODEL_KEY, type ModelName } from './suite/models.ts';
import { spawnSync } from 'node:child_process';
import { parallelWorkloads, POOL_TASKS } from './suite/parallel.ts';
import { createPool } from '../src/node/pool.ts';
import { pairedRatios, roundsText } from './suite/ratios.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(here, '..', '..', 'shared');
const TORCH_REF = path.join(SHARED, 'bench', 'torch_ref.py');
const TORCH_REF_MODELS = path.join(SHARED, 'bench', 'torch_ref_models.py');
// cifar-cnn (the CIFAR-10 zoo's architecture) has its reference in this repository, in the same format.
const TORCH_REF_CIFAR_CNN = path.join(here, 'torch_ref_cifar_cnn.py');
const torchRefOf = (m: ModelName) => (m === 'cifar-cnn' ? TORCH_REF_CIFAR_CNN : TORCH_REF_MODELS);
const DARKNET = path.join(SHARED, 'models', 'darknet-tiny');
const MODEL_CHILD = path.join(here, 'suite', 'modelChild.ts');
const DEFAULT_RESULTS = path.join(here, 'results', 'latest.json');
const SEED = 1;

const SYNOPSIS = `usage: npm run bench [-- --json] [--compare-torch] [--threads-torch N] [--workers N] [--seconds S] [--warmup S]
                     [--models small,darknet,resnet20,cifar-cnn] [--skip-darknet] [--quick] [--results FILE]
                     [--rounds R] [--reps N] [--torch-malloc steady|stock] [--torch-isa native|avx2]
What each option does: bench/README.md, and the comment at the top of bench/run.ts.
`;

/** One line and exit 2; `hint`: point to --help (an option it does not know; a bad value's line says what is valid). */
function usage(msg: string, hint = false): never {
  process.stderr.write(`bench: ${msg}${hint ? ' (npm run bench -- --help lists the options)' : ''}\n`);
  process.exit(2);
}

let opt: {
  json: boolean;
  'compare-torch': boolean;
  'threads-torch'?: string;
  workers?: string;
  seconds: string;
  warmup?: string;
  'skip-darknet': boolean;
  quick: boolean;
  results?: string;
  rounds: string;
  models: string;
  reps: string;
  'torch-malloc': string;
  'torch-isa': string;
};
if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
  process.stdout.write(SYNOPSIS);
  process.exit(0);
}
try {
  opt = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      'compare-torch': { type: 'boolean', default: false },
      'threads-torch': { type: 'string' },
      workers: { type: 'string' },
      seconds: { type: 'string', default: '2' },
      warmup: { type: 'string' },
      'skip-darknet': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      results: { type: 'string' },
      rounds: { type: 'string', default: '1' },
      models: { type: 'string', default: 'small,darknet,resnet20' },
      reps: { type: 'string', default: '3' },
      'torch-malloc': { type: 'string', default: 'steady' },
      'torch-isa': { type: 'string', default: 'native' },
    },
  }).values as typeof opt;
} catch (e) {
  usage((e as Error).message, true);
}
const seconds = Number(opt.seconds);
if (!(seconds >= 0) || !Number.isFinite(seconds))
  usage(`--seconds must be a number >= 0 (got ${opt.seconds})`);
const warmup = opt.warmup === undefined ? seconds : Number(opt.warmup);
if (!(warmup >= 0) || !Number.isFinite(warmup)) usage(`--warmup must be a number >= 0 (got ${opt.warmup})`);
const cores = os.cpus().length;
const threadsAll = opt['threads-torch'] === undefined ? cores : Number(opt['threads-torch']);
if (!Number.isInteger(threadsAll) || threadsAll < 1)
  usage(`--threads-torch must be an integer >= 1 (got ${opt['threads-torch']})`);
const minReps = Number(opt.reps);
if (!Number.isInteger(minReps) || minReps < 1) usage(`--reps must be an integer >= 1 (got ${opt.reps})`);
const rounds = Number(opt.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds must be an integer >= 1 (got ${opt.rounds})`);
const workers = opt.workers === undefined ? os.availableParallelism() : Number(opt.workers);
if (!Number.isInteger(workers) || workers < 1)
  usage(`--workers must be an integer >= 1 (got ${opt.workers})`);
const torchMalloc = opt['torch-malloc'] as TorchMalloc;
if (torchMalloc !== 'steady' && torchMalloc !== 'stock')
  usage(`--torch-malloc takes steady or stock (got '${opt['torch-malloc']}')`);
const torchIsa = opt['torch-isa'] as TorchIsa;
if (torchIsa !== 'native' && torchIsa !== 'avx2')
  usage(`--torch-isa takes native or avx2 (got '${opt['torch-isa']}')`);
const sizes = opt.quick ? QUICK : FULL;
const ALL_MODELS = ['small', ...MODEL_NAMES];
const chosen = opt.models.split(',').map((m) => m.trim());
for (const m of chosen)
  if (!ALL_MODELS.includes(m)) usage(`--models takes a comma list of ${ALL_MODELS.join(', ')} (got '${m}')`);
const runSmall = chosen.includes('small');
const realModels = MODEL_NAMES.filter((m) => chosen.includes(m) && !(m === 'darknet' && opt['skip-darknet']));
const resultsFile = opt.results ?? (opt.quick ? null : DEFAULT_RESULTS);

/** Progress goes to stderr, so that stdout holds only the table or the JSON. */
const log = (s: string) => process.stderr.write(s + '\n');

await initNodeBackend('wasm');
const engine = engineInfo();
const date = new Date().toISOString();
const loadStart = os.loadavg();
const machine = {
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  cpus: cores,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  totalMemGB: +(os.totalmem() / 2 ** 30).toFixed(1),
  node: process.version,
  loadAverageStart: loadStart.map((v) => +v.toFixed(2)),
  loadAverageEnd: [] as number[],
};
log(
  `advlens bench${opt.quick ? ' (quick: tiny sizes, not the reference definitions)' : ''}: ` +
    `${machine.cpuModel} x ${cores} cores, node ${process.version}, tfjs ${engine.tfjsVersion} ` +
    `${engine.backend} (SIMD ${engine.simd}, threads ${engine.threads}); ${seconds} s per workload after ${warmup} s of warm-up; ` +
    `load average ${loadStart[0].toFixed(2)}`,
);

const results: WorkloadResult[] = [];
const skipped: { name: string; reason: string }[] = [];
const tensorsAtStart = tf.memory().numTensors;

function logResult(r: WorkloadResult, rss: boolean): void {
  log(
    `  ${r.name.padEnd(22)} ${fmtRate(r.imagesPerSec).padStart(8)} img/s  ${r.medianMs.toFixed(1)} ms/call (median of ${r.reps})` +
      (rss ? `  peak RSS ${r.peakRssMB.toFixed(0)} MiB` : '') +
      `  tensors ${r.tensorsBefore} -> ${r.tensorsAfter}${r.tensorsOk ? '' : '  LEAK'}`,
  );
}

async function measureAll(ws: Workload[], into: WorkloadResult[], rss: boolean): Promise<void> {
  for (const w of ws) {
    const r = await measure(w, seconds, minReps, warmup);
    into.push(r);
    logResult(r, rss);
  }
}

// "All cores": the batch split over a pool of worker threads.
const parallel: {
  workers: number;
  workloads: WorkloadResult[];
  workerTensorsAtEnd: number[];
  note: string;
} = {
  workers,
  workloads: [],
  workerTensorsAtEnd: [],
  note:
    workers > 1
      ? `input_grad, train_step, smoothgrad, ig and pgd with the batch of ${sizes.batch} split over ${workers} worker threads (one wasm instance each); a call ends when every shard's result is back in the main thread`
      : 'off (--workers 1)',
};
const torchAvailableWhy = opt['compare-torch'] ? torchAvailable(TORCH_REF) : null;
const torchModelsWhy = opt['compare-torch'] ? torchAvailable(TORCH_REF_MODELS) : null;
/** Per real-size model: every round's child results and torch runs (medians taken at the end). */
interface ModelRounds {
  skipped?: string;
  workloads: WorkloadResult[];
  parallel: WorkloadResult[];
  workerTensorsAtEnd: number[];
  tensorsOk: boolean;
  peakRssMB: number[];
  torch: TorchModelRun[];
  torchNote?: string;
}
const modelRounds = new Map<ModelName, ModelRounds>(
  realModels.map((m) => [
    m,
    { workloads: [], parallel: [], workerTensorsAtEnd: [], tensorsOk: true, peakRssMB: [], torch: [] },
  ]),
);

/** One round of a real-size model: its child process, then torch_ref_models.py at 1 and N threads. */
function modelRound(m: ModelName): void {
  const mr = modelRounds.get(m)!;
  if (mr.skipped) return;
  const args = [
    '--import',
    'tsx',
    MODEL_CHILD,
    '--model',
    m,
    '--darknet',
    DARKNET,
    '--seconds',
    String(seconds),
    '--warmup',
    String(warmup),
  ];
  args.push('--workers', String(workers), '--reps', String(minReps), ...(opt.quick ? ['--quick'] : []));
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 3_600_000,
    maxBuffer: 64 * 2 ** 20,
  });
  if (r.status !== 0) throw new Error(`bench: ${m}'s child process failed (exit ${r.status ?? r.signal})`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as {
    skipped?: string;
    workloads?: WorkloadResult[];
    parallel?: WorkloadResult[];
    workerTensorsAtEnd?: number[];
    tensorsAtStart: number;
    tensorsAtEnd: number;
    peakRssMB: number;
  };
  if (j.skipped) {
    mr.skipped = j.skipped;
    log(`  ${m}: ${j.skipped}`);
    return;
  }
  mr.workloads.push(...(j.workloads ?? []));
  mr.parallel.push(...(j.parallel ?? []));
  mr.workerTensorsAtEnd.push(...(j.workerTensorsAtEnd ?? []));
  mr.tensorsOk &&= j.tensorsAtEnd === j.tensorsAtStart;
  mr.peakRssMB.push(j.peakRssMB);
  if (opt['compare-torch'] && !torchModelsWhy && !opt.quick) {
    for (const t of threadsAll === 1 ? [1] : [1, threadsAll]) {
      log(
        `  ${path.basename(torchRefOf(m))} --model ${TORCH_MODEL_KEY[m]} --threads ${t} --seconds ${seconds} ...`,
      );
      const o = runTorchModel(torchRefOf(m), TORCH_MODEL_KEY[m], t, seconds, torchMalloc, torchIsa);
      if (o.ok) {
        mr.torch.push(o.run);
        log(
          `    ${Object.entries(o.run.imagesPerSec)
            .map(([k, v]) => `${k} ${fmtRate(v)}`)
            .join(', ')} img/s; peak RSS ${o.run.peakRssMB.toFixed(0)} MiB`,
        );
      } else {
        mr.torchNote = o.reason;
        log(`torch: ${o.reason}`);
      }
    }
  } else if (opt['compare-torch'])
    mr.torchNote = opt.quick ? 'not in --quick mode' : (torchModelsWhy ?? undefined);
}
let torchNote: string | null = torchAvailableWhy;
if (torchAvailableWhy) log(`torch: ${torchAvailableWhy}; continuing without the comparison`);
const torchRounds: TorchRun[] = [];

// Rounds: the small CNN on one thread, on the pool, then torch_ref.py, `rounds` times over, so that
// the machine's drift (its host is shared) falls on both sides alike; each figure is the median of
// its rounds. Darknet runs once, in the first round.
const roundResults: WorkloadResult[] = [];
const roundParallel: WorkloadResult[] = [];
if (opt['skip-darknet']) skipped.push({ name: 'darknet', reason: 'skipped (--skip-darknet)' });
if (!runSmall) skipped.push({ name: 'small', reason: 'not in --models' });
const smallSet = runSmall ? smallCnnWorkloads(sizes, SEED, !opt.quick) : null;
const pool = workers > 1 && runSmall ? createPool({ workers, taskModules: [POOL_TASKS] }) : null;
const parallelSet = pool ? parallelWorkloads(sizes, SEED, !opt.quick, pool) : null;
try {
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}:`);
    if (smallSet) await measureAll(smallSet.workloads, roundResults, true);
    if (parallelSet) {
      log(`  on ${workers} worker threads:`);
      await measureAll(parallelSet.workloads, roundParallel, false);
    }
    for (const m of realModels) modelRound(m);
    if (runSmall && opt['compare-torch'] && !torchAvailableWhy) {
      for (const t of threadsAll === 1 ? [1] : [1, threadsAll]) {
        log(`  torch_ref.py --threads ${t} --batch ${sizes.batch} --seconds ${seconds} ...`);
        const o = runTorch(TORCH_REF, t, sizes.batch, seconds, torchMalloc, torchIsa);
        if (o.ok) torchRounds.push(o.run);
        else {
          torchNote = o.reason;
          log(`torch: ${o.reason}`);
        }
      }
    }
  }
} finally {
  smallSet?.dispose();
  if (parallelSet) parallel.workerTensorsAtEnd = await parallelSet.dispose();
  if (pool) await pool.close();
}
results.unshift(...medianOfRounds(roundResults));
parallel.workloads = medianOfRounds(roundParallel);
const tensorsAtEnd = tf.memory().numTensors;
for (const s of skipped) log(`  ${s.name}: ${s.reason}`);

/** A real-size model's figures: medians of the rounds, both sides, and the ratios. */
interface ModelComparison {
  workload: string;
  torchKey: string | null;
  advlens: number;
  advlensPeakRssMB: number;
  torch1: number | null;
  torch1PeakRssMB: number | null;
  ratio1: number | null;
  advlensWorkers: number | null;
  torchN: number | null;
  torchNPeakRssMB: number | null;
  ratioWorkersN: number | null;
  /**
   * Round by round (advlens's round r over torch's round r, run minutes apart): the spread of the
   * ratio on a machine whose speed drifts, next to the ratio of the medians. Empty with one round.
   */
  ratio1Rounds: number[];
  ratioWorkersNRounds: number[];
}
const models = Object.fromEntries(
  [...modelRounds].map(([m, mr]) => {
    if (mr.skipped) return [m, { skipped: mr.skipped }];
    const w = medianOfRounds(mr.workloads);
    const par = medianOfRounds(mr.parallel);
    const t1 = mr.torch.filter((t) => t.threads === 1);
    const tN = mr.torch.filter((t) => t.threads === threadsAll && threadsAll > 1);
    const med = (v: number[]) => (v.length ? [...v].sort((p, q) => p - q)[(v.length - 1) >> 1] : null);
    const rate = (runs: TorchModelRun[], k: string | null) =>
      k === null ? null : med(runs.map((r) => r.imagesPerSec[k]).filter((v) => v !== undefined));
    const comparison: ModelComparison[] = w.map((r) => {
      const a = rate(t1, r.torchKey);
      const p = par.find((x) => x.name === r.name)?.imagesPerSec ?? null;
      const b = rate(tN, r.torchKey);
      return {
        workload: r.name,
        torchKey: r.torchKey,
        advlens: r.imagesPerSec,
        advlensPeakRssMB: r.peakRssMB,
        torch1: a,
        torch1PeakRssMB: med(t1.map((t) => t.peakRssMB)),
        ratio1: a ? r.imagesPerSec / a : null,
        advlensWorkers: p,
        torchN: b,
        torchNPeakRssMB: med(tN.map((t) => t.peakRssMB)),
        ratioWorkersN: p !== null && b ? p / b : null,
        ratio1Rounds: pairedRatios(r.roundsImagesPerSec, t1, r.torchKey),
        ratioWorkersNRounds: pairedRatios(
          par.find((x) => x.name === r.name)?.roundsImagesPerSec,
          tN,
          r.torchKey,
        ),
      };
    });
    const tensorsOk =
      mr.tensorsOk &&
      [...mr.workloads, ...mr.parallel].every((r) => r.tensorsOk) &&
      mr.workerTensorsAtEnd.every((n) => n === 0);
    return [
      m,
      {
        batch: w[0]?.batch,
        workloads: w,
        parallel: par,
        torchRuns: mr.torch,
        torchNote: mr.torchNote ?? null,
        comparison,
        workerTensorsAtEnd: mr.workerTensorsAtEnd,
        tensorsOk,
      },
    ];
  }),
) as Record<
  string,
  | { skipped: string }
  | { comparison: ModelComparison[]; tensorsOk: boolean; torchNote: string | null; batch: number }
>;
const modelLeaks = Object.entries(models)
  .filter(([, v]) => 'tensorsOk' in v && !v.tensorsOk)
  .map(([k]) => k);

// PyTorch reference, in the same run (the machine's speed drifts between runs).
interface Comparison {
  workload: string;
  torchKey: string;
  advlens: number;
  torch1: number | null;
  ratio1: number | null;
  torchN: number | null;
  ratioN: number | null;
  /** advlens on `parallel.workers` worker threads (where measured), and its ratio to torch at N threads. */
  advlensWorkers: number | null;
  ratioWorkersN: number | null;
}
const torch: {
  requested: boolean;
  available: boolean;
  note: string | null;
  threadsAll: number;
  /** How PyTorch's allocator ran (--torch-malloc) and the environment that made it so. */
  malloc: { mode: TorchMalloc; env: Record<string, string> };
  /** Which vector instructions PyTorch's convolutions could use (--torch-isa), and the CPU's. */
  isa: { mode: TorchIsa; env: Record<string, string>; cpuFlags: string[] };
  runs: TorchRun[];
  comparison: Comparison[];
} = {
  requested: opt['compare-torch'],
  available: false,
  note: torchNote,
  threadsAll,
  malloc: { mode: torchMalloc, env: torchMalloc === 'steady' ? { ...STEADY_MALLOC_ENV } : {} },
  isa: { mode: torchIsa, env: torchIsa === 'avx2' ? { ...AVX2_ISA_ENV } : {}, cpuFlags: cpuVectorFlags() },
  runs: [],
  comparison: [],
};
if (opt['compare-torch'] && !torchAvailableWhy) {
  torch.available = true;
  for (const t of threadsAll === 1 ? [1] : [1, threadsAll]) {
    const runs = torchRounds.filter((r) => r.threads === t);
    if (runs.length) torch.runs.push(medianTorchRun(runs));
  }
  const t1 = torch.runs.find((r) => r.threads === 1);
  const tN = threadsAll === 1 ? t1 : torch.runs.find((r) => r.threads === threadsAll);
  for (const r of results) {
    if (!r.torchKey) continue;
    const a = t1?.imagesPerSec[r.torchKey] ?? null;
    const b = tN?.imagesPerSec[r.torchKey] ?? null;
    const p = parallel.workloads.find((x) => x.torchKey === r.torchKey)?.imagesPerSec ?? null;
    torch.comparison.push({
      workload: r.name,
      torchKey: r.torchKey,
      advlens: r.imagesPerSec,
      torch1: a,
      ratio1: a ? r.imagesPerSec / a : null,
      torchN: b,
      ratioN: b ? r.imagesPerSec / b : null,
      advlensWorkers: p,
      ratioWorkersN: p !== null && b ? p / b : null,
    });
  }
}
machine.loadAverageEnd = os.loadavg().map((v) => +v.toFixed(2));

const leaks = [...results, ...parallel.workloads].filter((r) => !r.tensorsOk);
const workerLeaks = parallel.workerTensorsAtEnd.filter((n) => n !== 0).length;
const report = {
  tool: 'advlens bench',
  date,
  quick: opt.quick,
  secondsPerWorkload: seconds,
  warmupSeconds: warmup,
  rounds,
  seed: SEED,
  machine,
  engine: { ...engine, versions: versions() },
  advlensThreads: 1,
  threadsNote:
    'each advlens thread runs one wasm instance (wasm threads are off in Node); `workloads` are one thread, `parallel` the batch split over a pool of worker threads',
  timing: `per workload: untimed warm-up calls (the first, then more for ${warmup} s after it; warmupCalls), then timed calls (at least 3) until the time budget is spent; images/s from the median call. torch_ref.py: one warm-up call, then total images / total time of its timed calls (at least 2)`,
  workloads: results,
  skipped,
  parallel,
  tensors: { atStart: tensorsAtStart, atEnd: tensorsAtEnd },
  peakRssMB: peakRssMB(),
  torch,
  models,
  ok: leaks.length === 0 && workerLeaks === 0 && modelLeaks.length === 0,
};

if (resultsFile) {
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, await formatJson(JSON.stringify(report, null, 2) + '\n', resultsFile));
}

if (opt.json) process.stdout.write(JSON.stringify(report) + '\n');
else process.stdout.write(textReport() + '\n');
if (resultsFile) {
  const rel = path.relative(process.cwd(), resultsFile);
  log(`results written to ${rel.startsWith('..') ? resultsFile : rel}`);
}

if (leaks.length || workerLeaks || modelLeaks.length) {
  if (modelLeaks.length)
    process.stderr.write(`\n*** FAIL: ${modelLeaks.join(', ')} leak tensors (main or worker threads) ***\n`);
  for (const r of leaks)
    process.stderr.write(
      `\n*** FAIL: ${r.name} leaks tensors: ${r.tensorsBefore} live before, ${r.tensorsAfter} after ***\n`,
    );
  if (workerLeaks)
    process.stderr.write(
      `\n*** FAIL: worker threads hold tensors after the parallel workloads: ${parallel.workerTensorsAtEnd.join(', ')} ***\n`,
    );
  process.exit(1);
}

/** The JSON as the repository's prettier formats it (so `npm run lint` passes), or as is without prettier. */
async function formatJson(text: string, file: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...config, filepath: file });
  } catch {
    return text;
  }
}

/**
 * Per workload (by name, in first-round order), the round whose images/s is the median (the lower
 * middle for an even count), with every round's images/s in `roundsImagesPerSec`.
 */
function medianOfRounds(all: WorkloadResult[]): WorkloadResult[] {
  const names = [...new Set(all.map((r) => r.name))];
  return names.map((name) => {
    const rs = all.filter((r) => r.name === name);
    const sorted = [...rs].sort((p, q) => p.imagesPerSec - q.imagesPerSec);
    const mid = sorted[(sorted.length - 1) >> 1];
    return rs.length > 1 ? { ...mid, roundsImagesPerSec: rs.map((r) => r.imagesPerSec) } : mid;
  });
}

/** torch_ref.py's runs at one thread count, as one run with each workload's median images/s. */
function medianTorchRun(runs: TorchRun[]): TorchRun & { roundsImagesPerSec?: Record<string, number[]> } {
  if (runs.length === 1) return runs[0];
  const keys = Object.keys(runs[0].imagesPerSec);
  const median = (v: number[]) => [...v].sort((p, q) => p - q)[(v.length - 1) >> 1];
  return {
    ...runs[0],
    imagesPerSec: Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r.imagesPerSec[k]))])),
    wallSec: runs.reduce((t, r) => t + r.wallSec, 0),
    roundsImagesPerSec: Object.fromEntries(keys.map((k) => [k, runs.map((r) => r.imagesPerSec[k])])),
  };
}

function fmtRate(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

function fmtRatio(v: number | null): string {
  return v === null ? '-' : v >= 1 ? `${v.toFixed(2)}x` : `${v.toFixed(3)}x`;
}

/** Columns padded to width; the first `left` columns left-aligned, the rest right-aligned. */
function table(headers: string[], rows: string[][], left = 2): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < left ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function textReport(): string {
  const out: string[] = [];
  const ran = versions(); // which build of the project's kernels ran (kernels, kernelsBuild)
  out.push(
    `advlens bench ${date}${opt.quick ? '  (QUICK MODE: batch 8, tiny step counts)' : ''}`,
    `machine: ${machine.cpuModel} x ${cores} cores, ${machine.platform}, node ${process.version}; ` +
      `load average ${machine.loadAverageStart[0]} at start, ${machine.loadAverageEnd[0]} at end (other processes may share the cores)`,
    `engine: tfjs ${engine.tfjsVersion} ${engine.backend}, SIMD ${engine.simd}, threads ${engine.threads} (advlens uses 1 thread); kernels ${ran.kernels ?? '-'} ${ran.kernelsBuild ?? ''}`.trimEnd(),
    `timing: a first call, then ${warmup} s of warm-up calls, then the median of at least 3 calls within ${seconds} s per workload` +
      (rounds > 1 ? `; each figure the median of ${rounds} rounds (advlens, then torch, in turn)` : ''),
    '',
    table(
      ['workload', 'model', 'batch', 'reps', 'ms/call', 'img/s', 'peak RSS MiB', 'tensors before', 'after'],
      results.map((r) => [
        r.name,
        r.model,
        String(r.batch),
        String(r.reps),
        r.medianMs.toFixed(1),
        fmtRate(r.imagesPerSec),
        r.peakRssMB.toFixed(0),
        String(r.tensorsBefore),
        r.tensorsOk ? String(r.tensorsAfter) : `${r.tensorsAfter} FAIL`,
      ]),
    ),
  );
  for (const s of skipped) out.push(`${s.name}: ${s.reason}`);
  out.push("peak RSS is the whole process's peak so far (it only grows), after each workload.");
  if (parallel.workloads.length) {
    out.push(
      '',
      `on ${parallel.workers} worker threads (batch of ${sizes.batch} split, one shard per worker); speed-up = N workers / 1 thread, same run;`,
      "CPU ms/call: all threads together (equal to 1 thread's when the split costs nothing extra; wall time only falls where cores are free)",
      table(
        [
          'workload',
          'model',
          'reps',
          'ms/call',
          'img/s',
          '1 thread img/s',
          'speed-up',
          'CPU ms/call',
          '1 thread CPU ms/call',
          'tensors before',
          'after',
        ],
        parallel.workloads.map((r) => {
          const o = results.find((x) => x.name === r.name);
          return [
            r.name,
            r.model,
            String(r.reps),
            r.medianMs.toFixed(1),
            fmtRate(r.imagesPerSec),
            fmtRate(o?.imagesPerSec ?? null),
            o ? `${(r.imagesPerSec / o.imagesPerSec).toFixed(2)}x` : '-',
            r.cpuMsPerCall.toFixed(0),
            o ? o.cpuMsPerCall.toFixed(0) : '-',
            String(r.tensorsBefore),
            r.tensorsOk ? String(r.tensorsAfter) : `${r.tensorsAfter} FAIL`,
          ];
        }),
      ),
      `live tensors in the workers at the end: ${parallel.workerTensorsAtEnd.join(', ')}`,
    );
  }
  if (torch.requested && runSmall) {
    out.push('');
    if (!torch.available || torch.comparison.length === 0)
      out.push(`torch comparison: ${torch.note ?? 'none'}`);
    else {
      const eng = torch.runs[0]?.engine ?? 'pytorch';
      out.push(
        `vs ${eng} (torch_ref.py, same run, batch ${sizes.batch}); ratio = advlens / torch (> 1: advlens faster)`,
        table(
          [
            'workload',
            'advlens img/s (1 thread)',
            'torch 1 thread',
            'ratio',
            `torch ${threadsAll} threads`,
            `ratio (advlens 1 thread)`,
            `advlens ${parallel.workers} workers`,
            `ratio (${parallel.workers} workers vs ${threadsAll} threads)`,
          ],
          torch.comparison.map((c) => [
            c.workload,
            fmtRate(c.advlens),
            fmtRate(c.torch1),
            fmtRatio(c.ratio1),
            fmtRate(c.torchN),
            fmtRatio(c.ratioN),
            fmtRate(c.advlensWorkers),
            fmtRatio(c.ratioWorkersN),
          ]),
          1,
        ),
      );
      if (torch.note) out.push(`torch: ${torch.note}`);
    }
  }
  for (const [m, v] of Object.entries(models)) {
    out.push('');
    if ('skipped' in v) {
      out.push(`${m}: ${v.skipped}`);
      continue;
    }
    out.push(
      `${m} (batch ${v.batch}; own child process per round, peak RSS per side; ratio = advlens / torch, > 1: advlens faster)`,
      table(
        [
          'workload',
          'advlens 1 thread',
          'RSS MiB',
          'torch 1 thread',
          'RSS MiB',
          'ratio',
          'per round',
          `advlens ${workers} workers`,
          `torch ${threadsAll} threads`,
          'RSS MiB',
          'ratio',
          'per round',
        ],
        v.comparison.map((c) => [
          c.workload,
          fmtRate(c.advlens),
          c.advlensPeakRssMB.toFixed(0),
          fmtRate(c.torch1),
          c.torch1PeakRssMB === null ? '-' : c.torch1PeakRssMB.toFixed(0),
          fmtRatio(c.ratio1),
          roundsText(c.ratio1Rounds),
          fmtRate(c.advlensWorkers),
          fmtRate(c.torchN),
          c.torchNPeakRssMB === null ? '-' : c.torchNPeakRssMB.toFixed(0),
          fmtRatio(c.ratioWorkersN),
          roundsText(c.ratioWorkersNRounds),
        ]),
        1,
      ),
    );
    if (v.torchNote) out.push(`torch: ${v.torchNote}`);
    if (!v.tensorsOk) out.push(`FAIL: ${m} leaks tensors`);
  }
  out.push(
    Object.keys(models).length
      ? "img/s: images per second (median call, median of rounds). advlens RSS: the peak of the model's own process after the workload; torch RSS: the peak of its whole run of the model. per round: each round's advlens over the same round's torch, in order (how far the machine's drift moves the ratio)."
      : '',
  );
  if (torch.requested)
    out.push(
      torch.malloc.mode === 'steady'
        ? `torch ran with glibc malloc kept steady (${Object.entries(torch.malloc.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(
              ' ',
            )}: freed tensors stay in its heap instead of being faulted in again; --torch-malloc stock for glibc's defaults)`
        : "torch ran with glibc's default malloc (--torch-malloc stock): on this VM its page faults make it slower and unsteady",
    );
  if (torch.requested) {
    const flags = torch.isa.cpuFlags;
    const wide = flags.includes('avx512f');
    const cpu = wide
      ? 'AVX-512, 16 lanes'
      : flags.includes('avx2')
        ? 'AVX2, 8 lanes'
        : flags.join(' ') || 'flags unknown';
    const env = Object.entries(torch.isa.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const built = ran.kernelsBuild ?? 'wasm';
    const mine = built.startsWith('native')
      ? `advlens ran its native kernels (${built}; ADVLENS_NATIVE=0 for WebAssembly SIMD)`
      : 'advlens ran WebAssembly SIMD, 4 lanes';
    out.push(
      torch.isa.mode === 'avx2'
        ? `torch's convolutions capped at AVX2, 8 lanes (--torch-isa avx2: ${env}), as on a CPU without AVX-512; ${mine}`
        : `torch's convolutions used what this CPU has (${cpu}); ${mine}${wide ? '; --torch-isa avx2 for a CPU without AVX-512' : ''}`,
    );
  }
  out.push(leaks.length ? `\nFAIL: ${leaks.map((r) => r.name).join(', ')} leak tensors` : '');
  if (workerLeaks) out.push(`FAIL: worker threads hold tensors at the end`);
  return out.join('\n').trimEnd();
}
