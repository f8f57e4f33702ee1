/**
 * Round-by-round ratios of the benchmark (bench/run.ts): advlens's round r over torch's round r of the
 * same workload, run minutes apart in the same run, so a reader sees how far the machine's drift
 * moves a ratio that the medians alone would hide.
 */
import type { TorchModelRun } from './torch.ts';

/** advlens's rounds over torch's rounds of `key`, pairwise; empty unless both have one per round (>= 2). */
export function pairedRatios(
  ours: number[] | undefined,
  runs: TorchModelRun[],
  key: string | null,
): number[] {
  const theirs = key === null ? [] : runs.map((r) => r.imagesPerSec[key]);
  if (!ours || ours.length < 2 || ours.length !== theirs.length || theirs.some((v) => !v)) return [];
  return ours.map((v, i) => v / theirs[i]);
}

/** Ratios of the rounds, e.g. "0.79 1.44 0.47"; "-" with none. */
export function roundsText(r: number[]): string {
  return r.length ? r.map((v) => v.toFixed(2)).join(' ') : '-';
}
