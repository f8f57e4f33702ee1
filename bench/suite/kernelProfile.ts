/**
 * Prints a tf.profile of one call per kernel (bench/profile-models.ts, bench/profile-objective.ts):
 * a title line with the wall time and the kernels' total, the `top` kernels by total time with their
 * share and number of calls, then the `shapes` top (kernel, input shapes) pairs. Kernels run inside
 * other kernels count in both.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** What tf.profile resolves to (tfjs does not export its name). */
type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

export function printKernelProfile(
  title: string,
  prof: ProfileInfo,
  wallMs: number,
  top: number,
  shapes: number,
): void {
  const byName = new Map<string, [number, number]>();
  const byShape = new Map<string, [number, number]>();
  for (const k of prof.kernels) {
    const ms = k.kernelTimeMs as number;
    const a = byName.get(k.name) ?? [0, 0];
    byName.set(k.name, [a[0] + ms, a[1] + 1]);
    const key = `${k.name} ${k.inputShapes.map((s: number[]) => `[${s}]`).join(' ')}`;
    const b = byShape.get(key) ?? [0, 0];
    byShape.set(key, [b[0] + ms, b[1] + 1]);
  }
  const total = [...byName.values()].reduce((t, [ms]) => t + ms, 0);
  console.log(`${title}: wall ${wallMs.toFixed(0)} ms, kernels ${total.toFixed(0)} ms`);
  for (const [k, [ms, n]] of [...byName].sort((p, q) => q[1][0] - p[1][0]).slice(0, top))
    console.log(
      `  ${k.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  (${n} calls)`,
    );
  if (shapes <= 0) return;
  console.log('  top (kernel, input shapes):');
  for (const [k, [ms, n]] of [...byShape].sort((p, q) => q[1][0] - p[1][0]).slice(0, shapes))
    console.log(`    ${ms.toFixed(0).padStart(7)} ms  ${k}  (${n} calls)`);
}
