import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAccuracy, fisherGreater } from '../../src/metrics/significance.ts';

/** The hypergeometric tail in exact integers: sum over x >= a of C(na, x) C(nb, k - x) / C(na + nb, k). */
function exactTail(a: number, na: number, b: number, nb: number): number {
  const choose = (n: number, k: number): bigint => {
    if (k < 0 || k > n) return 0n;
    let r = 1n;
    for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
    return r;
  };
  const k = a + b;
  let num = 0n;
  for (let x = a; x <= Math.min(k, na); x++) num += choose(na, x) * choose(nb, k - x);
  const den = choose(na + nb, k);
  // 18 significant digits of num / den, then to a float.
  const scale = 10n ** 18n;
  return Number((num * scale) / den) / 1e18;
}

test('Fisher one-sided p: a hand-computed case and exact big-integer tails', () => {
  // 3 of 3 against 0 of 3: only the most extreme table, 1 / C(6, 3) = 1/20.
  assert.ok(Math.abs(fisherGreater(3, 3, 0, 3) - 0.05) < 1e-12);
  for (const [a, na, b, nb] of [
    [3, 200, 1, 200],
    [20, 200, 10, 200],
    [143, 200, 1, 200],
    [12, 200, 10, 200],
    [7, 50, 2, 80],
    [250, 500, 230, 500],
  ]) {
    const want = exactTail(a, na, b, nb);
    const got = fisherGreater(a, na, b, nb);
    assert.ok(
      Math.abs(got - want) <= 1e-9 * Math.max(want, 1e-300) + 1e-15,
      `${a}/${na} vs ${b}/${nb}: ${got} vs ${want}`,
    );
  }
  // Nothing above: the tail is everything.
  assert.equal(fisherGreater(0, 10, 4, 10), 1);
  assert.throws(() => fisherGreater(11, 10, 0, 10), /a <= na/);
  assert.throws(() => fisherGreater(1.5, 10, 0, 10), /whole number/);
});

test('compareAccuracy: above beyond sampling error, within it, or not above', () => {
  assert.deepEqual(compareAccuracy(0.5, 200, 0.5, 200), { verdict: 'not above', p: 1 });
  assert.equal(compareAccuracy(0.4, 200, 0.5, 200).verdict, 'not above');
  const within = compareAccuracy(0.015, 200, 0.005, 200);
  assert.equal(within.verdict, 'within');
  assert.ok(Math.abs(within.p - exactTail(3, 200, 1, 200)) < 1e-12);
  assert.equal(compareAccuracy(0.715, 200, 0.005, 200).verdict, 'above');
  // Exactly at the level (1/20) is not below it.
  assert.equal(compareAccuracy(1, 3, 0, 3).verdict, 'within');
  // Different sample sizes: 30% of 1,000 against 20% of 100 is beyond sampling error, 25% is not.
  assert.equal(compareAccuracy(0.3, 1000, 0.2, 100).verdict, 'above');
  assert.equal(compareAccuracy(0.25, 1000, 0.2, 100).verdict, 'within');
  assert.throws(() => compareAccuracy(1.2, 10, 0, 10), /not in \[0, 1\]/);
});
