/**
 * Runs the PyTorch reference `../shared/bench/torch_ref.py` (Debian's /usr/bin/python3 with
 * python3-torch) in a child process and reads its JSON: images per second per workload.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const PYTHON = '/usr/bin/python3';

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
export function runTorch(script: string, threads: number, batch: number, seconds: number): TorchOutcome {
  const args = [script, '--json', '--threads', String(threads), '--batch', String(batch)];
  args.push('--seconds', String(seconds));
  const t0 = performance.now();
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 900_000 });
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
