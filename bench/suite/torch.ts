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

/**
 * The vector instructions PyTorch's oneDNN convolutions may use (`--torch-isa`): `native`, whatever
 * the CPU has (the default: PyTorch as a user runs it here), or `avx2`, capped at AVX2 with FMA
 * (8 lanes), as on a CPU without AVX-512 (most laptops and desktops, which is where the project's
 * WebAssembly, 4 lanes, also runs). Measured 2026-12-07 on this host's AMD EPYC, which has AVX-512:
 * oneDNN 2.6.3 picks `jit:avx512_core` for every convolution of darknet tiny and ResNet-20 (16
 * lanes) and runs a 3x3 convolution at 57-96 GMAC/s on one thread; capped at AVX2 at 32-51.
 */
export const AVX2_ISA_ENV: Readonly<Record<string, string>> = {
  DNNL_MAX_CPU_ISA: 'AVX2',
  ATEN_CPU_CAPABILITY: 'avx2',
};

export type TorchIsa = 'native' | 'avx2';

/** The environment of a PyTorch child process under `malloc` and `isa`. */
export function torchEnv(malloc: TorchMalloc, isa: TorchIsa = 'native'): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of [...Object.keys(STEADY_MALLOC_ENV), ...Object.keys(AVX2_ISA_ENV)]) delete env[k];
  return {
    ...env,
    ...(malloc === 'steady' ? STEADY_MALLOC_ENV : {}),
    ...(isa === 'avx2' ? AVX2_ISA_ENV : {}),
  };
}

/** The CPU's vector extensions that decide how wide PyTorch's kernels run (from /proc/cpuinfo). */
export function cpuVectorFlags(): string[] {
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    const have = new Set((line?.[1] ?? '').trim().split(/\s+/));
    return ['sse4_2', 'avx', 'fma', 'avx2', 'avx512f', 'avx512bw', 'avx512vl'].filter((f) => have.has(f));
  } catch {
    return [];
  }
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
  isa: TorchIsa = 'native',
): TorchOutcome {
  const args = [script, '--json', '--threads', String(threads), '--batch', String(batch)];
  args.push('--seconds', String(seconds));
  const t0 = performance.now();
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 900_000, env: torchEnv(malloc, isa) });
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
  isa: TorchIsa = 'native',
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
  const r = spawnSync(PYTHON, ['-c', code], {
    encoding: 'utf8',
    timeout: 1_800_000,
    env: torchEnv(malloc, isa),
  });
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
