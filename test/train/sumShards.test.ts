import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sumShards } from '../../src/train/shards.ts';

/**
 * The reference: per value, a float64 accumulator from +0, each shard's weighted gradient added in
 * shard order, rounded once to float32 (written as a plain loop over shards, then values).
 */
function reference(grads: Float32Array[], wgts: number[], from: number, to: number): number[] {
  const acc = new Float64Array(to - from); // +0
  grads.forEach((g, j) => {
    for (let i = from; i < to; i++) acc[i - from] += wgts[j] * g[i];
  });
  return Array.from(Float32Array.from(acc));
}

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

test('sumShards: the shards weighted and summed in float64 in shard order, rounded once, bit for bit (signed zeros too)', () => {
  // Values whose float32 sum differs from the double one rounded once (1 + 2^-24 + 2^-24 ...), signed
  // zeros (-0 + -0 must give +0 from the +0 start), large and tiny magnitudes.
  const base = [1, 2 ** -24, -0, -0, 3.4e38, -3.4e38, 1e-45, 0.1, -7.25, 2 ** -24 + 2 ** -47];
  for (const k of [1, 2, 3]) {
    const grads = Array.from({ length: k }, (_, j) =>
      Float32Array.from(base, (v, i) => (j % 2 && i > 4 ? -v * (j + 1) : v / (j + 1))),
    );
    const wgts = Array.from({ length: k }, (_, j) => (j + 1) / ((k * (k + 1)) / 2)); // shares summing to 1
    const out = new Float32Array(base.length).fill(NaN);
    const view = sumShards(
      grads.map((g) => ({ grads: g })),
      wgts,
      out,
      2,
      9,
    );
    assert.equal(view.length, 7);
    assert.deepEqual(bits(view), bits(reference(grads, wgts, 2, 9)), `${k} shards`);
    // Only values 2..8 were written.
    assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[1]) && Number.isNaN(out[9]));
  }
  // Two shards of -0: +0, as the reference's accumulator from +0 gives.
  const z = new Float32Array([-0]);
  const s = sumShards([{ grads: z }, { grads: z }], [0.5, 0.5], new Float32Array(1), 0, 1);
  assert.ok(Object.is(s[0], 0));
});
