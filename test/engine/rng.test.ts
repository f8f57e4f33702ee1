import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../src/engine/rng.ts';

test('the same seed draws the same numbers, another seed other numbers', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xa = Array.from({ length: 100 }, () => a.next());
  const xb = Array.from({ length: 100 }, () => b.next());
  const xc = Array.from({ length: 100 }, () => c.next());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

test('a generator restored from its state continues the same sequence', () => {
  const a = createRng(7);
  for (let i = 0; i < 10; i++) a.next();
  const b = createRng(a.state());
  assert.deepEqual(
    Array.from({ length: 20 }, () => a.next()),
    Array.from({ length: 20 }, () => b.next()),
  );
});

test('uniform draws have the moments of U(0,1) and normals of N(0,1)', () => {
  const r = createRng(1);
  const n = 200000;
  let s = 0;
  let s2 = 0;
  let z = 0;
  let z2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
    const g = r.normal();
    z += g;
    z2 += g * g;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005);
  assert.ok(Math.abs(s2 / n - 1 / 3) < 0.005);
  assert.ok(Math.abs(z / n) < 0.01);
  assert.ok(Math.abs(z2 / n - 1) < 0.02);
});

test('int(n) covers 0..n-1 evenly and shuffle is a permutation', () => {
  const r = createRng(3);
  const counts = new Array(5).fill(0);
  for (let i = 0; i < 50000; i++) counts[r.int(5)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, `count ${c}`);
  const a = Array.from({ length: 50 }, (_, i) => i);
  const s = r.shuffle([...a]);
  assert.notDeepEqual(s, a);
  assert.deepEqual(
    [...s].sort((x, y) => x - y),
    a,
  );
});
