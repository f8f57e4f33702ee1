/**
 * Timing of one benchmark workload: warm-up calls (the first, then more until the warm-up budget is
 * spent), then timed calls until the time budget is spent (at least `minReps`); the median call time
 * gives images per second. Also records the process's peak RSS and the live tensor count before and
 * after, which must agree (a leak otherwise).
 */
import * as tf from '@tensorflow/tfjs-core';

/** One workload: `run` does one call (synchronously finished: it reads its result back) on `images` images. */
export interface Workload {
  /** Name, e.g. `pgd40`; the same as torch_ref.py's where the definition is the same. */
  name: string;
  model: string;
  batch: number;
  /** Images one call processes (images per second = images / median call time). */
  images: number;
  /** What one call does, in words. */
  definition: string;
  /** The key in torch_ref.py's results when this workload is defined and sized as there. */
  torchKey?: string;
  run: () => void | Promise<void>;
}

export interface WorkloadResult {
  name: string;
  model: string;
  batch: number;
  imagesPerCall: number;
  definition: string;
  torchKey: string | null;
  reps: number;
  /** Untimed calls before the timed ones: the first (setup), then more while the warm-up budget lasted. */
  warmupCalls: number;
  /** Their time together, ms (the first call's and at least the warm-up budget). */
  warmupMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  imagesPerSec: number;
  /**
   * CPU time of the whole process (every thread: the main one and any workers) per timed call, ms:
   * unlike wall time, it does not grow when other processes take the cores.
   */
  cpuMsPerCall: number;
  /** Peak resident set size of the whole process so far (it only grows), MiB. */
  peakRssMB: number;
  /** Resident set size right after the workload, MiB. */
  rssMB: number;
  tensorsBefore: number;
  tensorsAfter: number;
  /** tensorsBefore === tensorsAfter. */
  tensorsOk: boolean;
  /** With --rounds R > 1: every round's images/s (the fields above are the median round's). */
  roundsImagesPerSec?: number[];
}

const MiB = 1024 * 1024;

/** Peak RSS of this process so far, MiB (resourceUsage's maxRSS is in KiB). */
export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Runs `w` to warm up (once, then again until `warmupSeconds` have passed since that first call
 * ended), then at least `minReps` timed calls and until `seconds` have passed.
 *
 * Why more than one warm-up call: the first call creates the operators, packs the weights and grows
 * the wasm heap, but V8 goes on compiling the JavaScript of a fresh thread (tfjs's dispatch, the
 * kernels' glue) over its first seconds, on helper threads that take a core from whatever else runs.
 * A fresh pool of 2 workers training ResNet-20 at batch 128 ran its calls of 2 steps in 430-600 ms
 * for the first four calls and 300-390 ms from the sixth on (2026-12-07, bench/warmup-curve.ts),
 * so that a warm-up of one call timed the compiler more than the training a run of hundreds of
 * steps does. PyTorch's training step is at its pace from its second call (torch_ref_models.py's
 * own protocol, one warm-up call: ResNet-20 train_step at 2 threads 693 and 610 img/s from two timed
 * calls, 597 and 646 from 6 s of calls, the same day).
 */
export async function measure(
  w: Workload,
  seconds: number,
  minReps = 3,
  warmupSeconds = 0,
): Promise<WorkloadResult> {
  const tensorsBefore = tf.memory().numTensors;
  const warmStart = performance.now();
  await w.run(); // setup: operators, packed weights, wasm heap growth, a pool's model in each worker
  let warmupCalls = 1;
  const settle = performance.now();
  while (performance.now() - settle < warmupSeconds * 1000) {
    await w.run();
    warmupCalls++;
  }
  const warmupMs = performance.now() - warmStart;
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (times.length < minReps || performance.now() - start < seconds * 1000) {
    const t0 = performance.now();
    await w.run();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const tensorsAfter = tf.memory().numTensors;
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return {
    name: w.name,
    model: w.model,
    batch: w.batch,
    imagesPerCall: w.images,
    definition: w.definition,
    torchKey: w.torchKey ?? null,
    reps: times.length,
    warmupCalls,
    warmupMs,
    medianMs,
    minMs: sorted[0],
    maxMs: sorted[sorted.length - 1],
    imagesPerSec: (w.images * 1000) / medianMs,
    cpuMsPerCall: (cpu.user + cpu.system) / 1000 / times.length,
    peakRssMB: peakRssMB(),
    rssMB: process.memoryUsage().rss / MiB,
    tensorsBefore,
    tensorsAfter,
    tensorsOk: tensorsBefore === tensorsAfter,
  };
}
