/**
 * Runs the PyTorch reference `../shared/bench/torch_ref.py` (Debian's /usr/bin/python3 with
 * python3-torch) in a child process and reads its JSON: images per second per workload.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const PYTHON = '/usr/bin/python3';

/**
 * glibc malloc settings for the PyTorch processes (`--torch-malloc steady`, the default): a fixed
 * mmap threshold of 32 MiB (glibc's largest) and a trim threshold of 1 GiB, so that the tensors
 * PyTorch frees stay in its heap and are reused, as they are on a machine where a page fault is
 * cheap. With glibc's defaults (`--torch-malloc stock`) PyTorch returns big freed blocks to the
 * kernel and faults fresh pages in on the next step; on this VM a fault is expensive and its cost
 * drifts, so stock PyTorch ran 2-3.5x slower and swung 2-3.5x between runs (2026-12-07: ResNet-20
 * train_step at one thread 650-880 ms a step stock, 300-350 ms steady; the small CNN's input_grad
 * 850-1125 img/s stock, 2890-2935 steady; peak RSS no higher). Steady is the faster and the
 * repeatable reference, so it is the one advlens is held to.
 */
export const STEADY_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 * 2 ** 20),
  MALLOC_TRIM_THRESHOLD_: String(2 ** 30),
};

export type TorchMalloc = 'steady' | 'stock';

/** The environment of a PyTorch child process under `malloc`. */
export function torchEnv(malloc: TorchMalloc): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(STEADY_MALLOC_ENV)) delete env[k];
  return malloc === 'steady' ? { ...env, ...STEADY_MALLOC_ENV } : env;
}

export interface TorchRun {
  threads: number;
  engine: string;
  batch: number;
  seconds: number;
  imagesPerSec: Record<string, number>;
  wallSec: number;
}

/** Either a run's results or one line saying why there are none. */
export type TorchOutcome = { ok: true; run: TorchRun } | { ok: false; reason: string };

/** Whether /usr/bin/python3 can import torch; one line saying why not otherwise. */
export function torchAvailable(script: string): string | null {
  if (!fs.existsSync(script)) return `the PyTorch reference ${script} is missing`;
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return `${PYTHON} has no torch (apt-get install -y python3-torch libopenblas0-pthread)`;
  return null;
}

/** One run of torch_ref.py with `threads` threads, batch `batch`, `seconds` per workload. */
export function runTorch(
  script: string,
  threads: number,
  batch: number,
  seconds: number,
  malloc: TorchMalloc = 'steady',
): TorchOutcome {
  const args = [script, '--json', '--threads', String(threads), '--batch', String(batch)];
  args.push('--seconds', String(seconds));
  const t0 = performance.now();
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 900_000, env: torchEnv(malloc) });
  const wallSec = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop();
    return { ok: false, reason: `torch_ref.py --threads ${threads} failed: ${why}` };
  }
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as {
      engine: string;
      threads: number;
      batch: number;
      images_per_s: Record<string, number>;
    };
    return {
      ok: true,
      run: {
        threads: j.threads,
        engine: j.engine,
        batch: j.batch,
        seconds,
        imagesPerSec: j.images_per_s,
        wallSec,
      },
    };
  } catch {
    return { ok: false, reason: `torch_ref.py --threads ${threads} printed no JSON` };
  }
}

/** One run of torch_ref_models.py for one model: images/s per workload and the process's peak RSS. */
export interface TorchModelRun {
  model: string;
  threads: number;
  engine: string;
  batch: number;
  imagesPerSec: Record<string, number>;
  /** Peak RSS of the Python process over all of the model's workloads, MiB. */
  peakRssMB: number;
  wallSec: number;
}

export type TorchModelOutcome = { ok: true; run: TorchModelRun } | { ok: false; reason: string };

/**
 * Runs torch_ref_models.py `--model model --threads threads --json` in a Python process of its own
 * (through runpy, so that the process can report its own peak RSS afterwards: ru_maxrss, KiB on Linux).
 */
export function runTorchModel(
  script: string,
  model: string,
  threads: number,
  seconds: number,
  malloc: TorchMalloc = 'steady',
): TorchModelOutcome {
  const argv = [
    script,
    '--json',
    '--model',
    model,
    '--threads',
    String(threads),
    '--seconds',
    String(seconds),
  ];
  const code =
    'import sys, runpy, resource, json\n' +
    `sys.argv = ${JSON.stringify(argv)}\n` +
    "runpy.run_path(sys.argv[0], run_name='__main__')\n" +
    'sys.stdout.flush()\n' +
    "print('ADVLENS_MAXRSS_KB ' + str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), file=sys.stderr)\n";
  const t0 = performance.now();
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', timeout: 1_800_000, env: torchEnv(malloc) });
  const wallSec = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop();
    return { ok: false, reason: `torch_ref_models.py --model ${model} --threads ${threads} failed: ${why}` };
  }
  const rss = /ADVLENS_MAXRSS_KB (\d+)/.exec(r.stderr);
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as {
      engine: string;
      threads: number;
      models: Record<string, { batch: number; images_per_s: Record<string, number> }>;
    };
    const m = j.models[model];
    return {
      ok: true,
      run: {
        model,
        threads: j.threads,
        engine: j.engine,
        batch: m.batch,
        imagesPerSec: m.images_per_s,
        peakRssMB: rss ? Number(rss[1]) / 1024 : NaN,
        wallSec,
      },
    };
  } catch {
    return { ok: false, reason: `torch_ref_models.py --model ${model} --threads ${threads} printed no JSON` };
  }
}
