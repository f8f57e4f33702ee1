import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { UserError } from '../../src/errors.ts';
import { locateSplit, notFoundError, searchDirs, type Probe } from '../../src/data/locate.ts';
import { dataSearchDirs, fsProbe, loadDataset } from '../../src/node/loadData.ts';

/** A probe over an imaginary file system given as a list of files (their folders exist too). */
function fakeFs(files: string[]): Probe {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/') || '/');
  }
  return (p) => (files.includes(p) ? 'file' : dirs.has(p) ? 'dir' : undefined);
}

test('search order is --data-dir, $ADVLENS_DATA (a list), the cache, then system paths', () => {
  const dirs = searchDirs({ dataDir: '/d', env: { ADVLENS_DATA: '/e1:/e2:/d' }, home: '/home/u' });
  assert.deepEqual(
    dirs.map((d) => `${d.origin} ${d.path}`),
    [
      '--data-dir /d',
      '$ADVLENS_DATA /e1',
      '$ADVLENS_DATA /e2',
      'cache /home/u/.cache/advlens',
      'system /usr/share/datasets',
      'system /usr/local/share/datasets',
    ],
  );
  assert.equal(dataSearchDirs({ env: {}, home: '/h' })[0].path.replaceAll('\\', '/'), '/h/.cache/advlens');
});

test('MNIST is found in a sub-folder or directly in a named dir, gzipped or plain, first dir first', () => {
  const dirs = searchDirs({ dataDir: '/d', env: { ADVLENS_DATA: '/e' }, home: '/h' });
  const probe = fakeFs([
    '/d/mnist/t10k-images-idx3-ubyte.gz',
    '/d/mnist/t10k-labels-idx1-ubyte',
    '/e/train-images.idx3-ubyte',
    '/e/train-labels.idx1-ubyte.gz',
    '/h/.cache/advlens/mnist/t10k-images-idx3-ubyte.gz',
    '/h/.cache/advlens/mnist/t10k-labels-idx1-ubyte.gz',
  ]);
  assert.deepEqual(locateSplit('mnist', 'test', dirs, probe), {
    format: 'idx',
    dir: '/d/mnist',
    images: '/d/mnist/t10k-images-idx3-ubyte.gz',
    labels: '/d/mnist/t10k-labels-idx1-ubyte',
  });
  assert.equal(locateSplit('mnist', 'train', dirs, probe)?.dir, '/e');
  assert.equal(locateSplit('fashion-mnist', 'test', dirs, probe), undefined);
});

test('files directly in the cache or a system dir, or in a fashion folder, are not taken for MNIST', () => {
  const probe = fakeFs([
    '/h/.cache/advlens/t10k-images-idx3-ubyte.gz',
    '/h/.cache/advlens/t10k-labels-idx1-ubyte.gz',
  ]);
  assert.equal(locateSplit('mnist', 'test', searchDirs({ env: {}, home: '/h' }), probe), undefined);
  const fashion = fakeFs(['/x/fashion/t10k-images-idx3-ubyte.gz', '/x/fashion/t10k-labels-idx1-ubyte.gz']);
  const dirs = searchDirs({ dataDir: '/x/fashion', env: {} });
  assert.equal(locateSplit('mnist', 'test', dirs, fashion), undefined);
  assert.equal(locateSplit('fashion-mnist', 'test', dirs, fashion)?.dir, '/x/fashion');
  const system = fakeFs([
    '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
    '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz',
  ]);
  assert.equal(
    locateSplit('fashion-mnist', 'test', searchDirs({ env: {} }), system)?.dir,
    '/usr/share/datasets/fashion-mnist',
  );
});

test('CIFAR-10 is found as binary batches (preferred) or as a class-per-folder tree', () => {
  const dirs = searchDirs({ dataDir: '/d', env: {} });
  const tree = fakeFs(['/d/cifar10-jpeg/test/cat/0000.jpg', '/d/cifar10-jpeg/train/cat/0000.jpg']);
  assert.deepEqual(locateSplit('cifar10', 'test', dirs, tree), {
    format: 'tree',
    dir: '/d/cifar10-jpeg/test',
  });
  const both = fakeFs(['/d/cifar10/test/cat/0.png', '/d/cifar10/cifar-10-batches-bin/test_batch.bin']);
  assert.deepEqual(locateSplit('cifar10', 'test', dirs, both), {
    format: 'cifar',
    dir: '/d/cifar10/cifar-10-batches-bin',
    files: ['/d/cifar10/cifar-10-batches-bin/test_batch.bin'],
    meta: undefined,
  });
  assert.equal(locateSplit('cifar10', 'train', dirs, both), undefined);
});

test('not found says where it looked and how to get the data', async () => {
  const dirs = searchDirs({ dataDir: '/d', env: {}, home: '/h' });
  const e = notFoundError('mnist', 'train', dirs);
  assert.ok(e instanceof UserError);
  assert.match(e.message, /^mnist:train not found; looked for mnist\/train-images-idx3-ubyte\[\.gz\]/);
  assert.match(
    e.message,
    /\/d \(--data-dir\), \/h\/\.cache\/advlens \(cache\), \/usr\/share\/datasets \(system\)/,
  );
  assert.match(e.message, /advlens data fetch mnist/);
  const empty = fs.mkdtempSync('/tmp/advlens-none-');
  await assert.rejects(
    loadDataset('mnist:train', { dataDir: empty, env: {}, home: empty }),
    (err: unknown) => err instanceof UserError && err.message.includes(empty),
  );
  fs.rmSync(empty, { recursive: true });
});

test("Debian's dataset-fashion-mnist is found under /usr/share/datasets/fashion-mnist", async (t) => {
  if (fsProbe('/usr/share/datasets/fashion-mnist') !== 'dir')
    return t.skip('dataset-fashion-mnist not installed');
  const found = locateSplit(
    'fashion-mnist',
    'test',
    dataSearchDirs({ env: {}, home: '/nonexistent' }),
    fsProbe,
  );
  assert.equal(found?.format, 'idx');
  const ds = await loadDataset('fashion-mnist:test', { env: {}, home: '/nonexistent', limit: 100 });
  assert.equal(ds.size, 100);
  assert.equal(ds.classNames[9], 'Ankle boot');
  assert.match(ds.source, /^\/usr\/share\/datasets\/fashion-mnist\/t10k-images-idx3-ubyte\.gz/);
});
