import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kendallTau, kendallTauNaive } from '../../src/metrics/kendall.ts';
import { createRng } from '../../src/engine/rng.ts';
import { UserError } from '../../src/errors.ts';

test('kendallTau equals the O(n^2) tau-b on random arrays with ties, for several sizes and tie levels', () => {
  const rng = createRng(5);
  let cases = 0;
  for (const n of [2, 3, 7, 50, 301, 1000]) {
    for (const levels of [2, 3, 10, 1000, 0]) {
      // levels 0: continuous values (no ties); otherwise values drawn from `levels` distinct ones
      const draw = () => (levels ? rng.int(levels) : rng.next());
      const a = Array.from({ length: n }, draw);
      const b = Array.from({ length: n }, (_, i) => (rng.next() < 0.5 ? a[i] + draw() : draw()));
      const fast = kendallTau(a, b);
      const slow = kendallTauNaive(a, b);
      if (Number.isNaN(slow)) assert.ok(Number.isNaN(fast), `n ${n} levels ${levels}: ${fast} vs NaN`);
      else assert.ok(Math.abs(fast - slow) < 1e-12, `n ${n} levels ${levels}: ${fast} vs ${slow}`);
      cases++;
    }
  }
  assert.equal(cases, 30);
});

test('kendallTau on hand-computed cases: identity 1, reversal -1, and a tied example', () => {
  assert.equal(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // a = [1,1,2,3], b = [1,2,2,3]: pairs (0,1) tied in a; (1,2) tied in b; other 4 concordant.
  // tau_b = (4 - 0) / sqrt((6 - 1)(6 - 1)) = 0.8
  assert.ok(Math.abs(kendallTau([1, 1, 2, 3], [1, 2, 2, 3]) - 0.8) < 1e-15);
  assert.ok(Math.abs(kendallTauNaive([1, 1, 2, 3], [1, 2, 2, 3]) - 0.8) < 1e-15);
});

test('kendallTau is NaN when a list is constant or too short, and rejects bad input', () => {
  assert.ok(Number.isNaN(kendallTau([3, 3, 3, 3], [1, 2, 3, 4])));
  assert.ok(Number.isNaN(kendallTau([1, 2, 3], [5, 5, 5])));
  assert.ok(Number.isNaN(kendallTau([7, 7], [7, 7])));
  assert.ok(Number.isNaN(kendallTau([1], [2])));
  assert.ok(Number.isNaN(kendallTauNaive([3, 3, 3], [1, 2, 3])));
  assert.throws(() => kendallTau([1, 2], [1]), UserError);
  assert.throws(() => kendallTau([1, NaN], [1, 2]), UserError);
});

test('kendallTau of two 224x224 maps (50,176 values, with ties) takes well under a second', () => {
  const rng = createRng(9);
  const n = 224 * 224;
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = Math.round(rng.normal() * 50) / 50; // quantised: many ties
    b[i] = a[i] + rng.normal() * 0.5;
  }
  kendallTau(a.subarray(0, 1000), b.subarray(0, 1000)); // warm up
  const t0 = performance.now();
  const tau = kendallTau(a, b);
  const ms = performance.now() - t0;
  console.log(`kendallTau on ${n} values: ${ms.toFixed(1)} ms, tau ${tau.toFixed(4)}`);
  assert.ok(ms < 500, `${ms} ms`);
  // Check the value against the naive count on a subsample whose answer is known independently.
  const m = 2000;
  assert.ok(
    Math.abs(
      kendallTau(a.subarray(0, m), b.subarray(0, m)) - kendallTauNaive(a.subarray(0, m), b.subarray(0, m)),
    ) < 1e-12,
  );
  assert.ok(tau > 0.5 && tau < 0.95, `tau ${tau}`);
});
