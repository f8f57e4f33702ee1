/**
 * What the batch-norm kernel tests (kernels-bn-grad, kernels-bn-train) share: the wasm backend with
 * the engine's kernel checks on, seeded uniform values, the epsilon, and the relative difference
 * (which kernels-conv-padded uses too); and a function run on fresh tensors on one backend with a
 * Winograd tile forced (the Winograd and FMA kernel tests).
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { createRng } from '../../src/engine/rng.ts';
import { forceWinogradTile } from '../../src/engine/kernels/winograd.ts';

/** The batch-norm epsilon of these tests. */
export const EPS = 1e-3;

/** Starts the wasm backend (with the project's kernels) and the engine's checks of kernel outputs. */
export async function initBnTests(): Promise<void> {
  await initNodeBackend('wasm');
  tf.env().set('IS_TEST', true);
}

/** A generator of float32 values uniform in [lo, hi) (default [-1, 1)), seeded. */
export function uniformValues(seed: number): (n: number, lo?: number, hi?: number) => Float32Array {
  const rng = createRng(seed);
  return (n, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/** max |a - b| / max |b| (b not all zero). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  assert.ok(m > 0);
  return d / m;
}

/**
 * max |a - b| / max |b| (the denominator at least 1e-6), Infinity where a difference is NaN: the
 * kernel tests' measure of a result against the cpu backend's.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-6);
}

/**
 * `f` on fresh tensors of `values` on `backend`, read back, with F(tile x tile) forced on wasm (null:
 * the module's own choice); the backend and the tile are restored afterwards.
 */
export async function onBackend(
  backend: 'cpu' | 'wasm',
  values: [Float32Array, number[]][],
  f: (...t: tf.Tensor[]) => tf.Tensor,
  tile: 2 | 4 | null,
): Promise<Float32Array> {
  await tf.setBackend(backend);
  forceWinogradTile(tile);
  try {
    const ts = values.map(([v, s]) => tf.tensor(v, s));
    const out = f(...ts);
    const r = Float32Array.from(out.dataSync());
    tf.dispose([out, ...ts]);
    return r;
  } finally {
    forceWinogradTile(null);
    await tf.setBackend('wasm');
  }
}
