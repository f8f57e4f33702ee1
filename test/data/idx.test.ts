import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { UserError } from '../../src/errors.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, idxDataset, isGzip, parseIdx } from '../../src/data/idx.ts';
import { loadDataset, readDataFile } from '../../src/node/loadData.ts';

/** An IDX file of unsigned bytes with the given dims and values, built by hand. */
function idxBytes(magic: number, dims: number[], values: ArrayLike<number>): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  head.setUint32(0, magic);
  dims.forEach((d, i) => head.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(head.byteLength + values.length);
  out.set(new Uint8Array(head.buffer), 0);
  out.set(Array.from(values), head.byteLength);
  return out;
}

/** Three 2x3 images whose pixel k of image i is 10 * i + k, labelled 2, 0, 1. */
function tinySet() {
  const pixels = Array.from({ length: 18 }, (_, j) => 10 * Math.floor(j / 6) + (j % 6));
  return {
    images: idxBytes(IDX_IMAGES_MAGIC, [3, 2, 3], pixels),
    labels: idxBytes(IDX_LABELS_MAGIC, [3], [2, 0, 1]),
    pixels,
  };
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-idx-'));
}

test('parseIdx reads the dimensions and the values of a hand-built file', () => {
  const { images } = tinySet();
  const idx = parseIdx(images, IDX_IMAGES_MAGIC, { file: 'x' });
  assert.deepEqual(idx.dims, [3, 2, 3]);
  assert.deepEqual(Array.from(idx.data.subarray(6, 9)), [10, 11, 12]);
});

test('idxDataset gives uint8 pixels [rows, cols, 1] and the labels in file order', () => {
  const { images, labels, pixels } = tinySet();
  const ds = idxDataset(
    { bytes: images, file: 'img' },
    { bytes: labels, file: 'lab' },
    { name: 't', source: 's', classNames: ['a', 'b', 'c'] },
  );
  assert.deepEqual(ds.shape, [2, 3, 1]);
  assert.equal(ds.size, 3);
  assert.ok(ds.pixels instanceof Uint8Array);
  assert.deepEqual(Array.from(ds.pixels), pixels);
  assert.deepEqual(Array.from(ds.labels), [2, 0, 1]);
  const two = idxDataset(
    { bytes: images, file: 'img' },
    { bytes: labels, file: 'lab' },
    { name: 't', source: 's', classNames: ['a', 'b', 'c'], limit: 2 },
  );
  assert.equal(two.size, 2);
  assert.deepEqual(Array.from(two.pixels), pixels.slice(0, 12));
});

test('a wrong magic number, a truncated file and trailing bytes are user errors naming the file', () => {
  const { images, labels } = tinySet();
  const cases: [Uint8Array, number, RegExp][] = [
    [
      labels,
      IDX_IMAGES_MAGIC,
      /img\.idx: magic number 0x00000801 \(labels\), expected 0x00000803 \(images\)/,
    ],
    [
      images.subarray(0, images.length - 1),
      IDX_IMAGES_MAGIC,
      /img\.idx: truncated: 17 data bytes where \[3, 2, 3\] needs 18/,
    ],
    [images.subarray(0, 10), IDX_IMAGES_MAGIC, /header truncated/],
    [new Uint8Array([...images, 0]), IDX_IMAGES_MAGIC, /1 bytes of trailing data/],
    [
      new TextEncoder().encode('<html>not found</html>'),
      IDX_IMAGES_MAGIC,
      /not an IDX file \(starts with 3c 68 74 6d/,
    ],
  ];
  for (const [bytes, magic, re] of cases) {
    assert.throws(
      () =>
        parseIdx(bytes, magic, { file: 'img.idx', fix: 're-download it with `advlens data fetch mnist`' }),
      (e: unknown) =>
        e instanceof UserError && re.test(e.message) && /advlens data fetch mnist/.test(e.message),
    );
  }
});

test('image and label files with different counts are a user error naming both', () => {
  const { images } = tinySet();
  const labels = idxBytes(IDX_LABELS_MAGIC, [4], [0, 1, 2, 0]);
  assert.throws(
    () =>
      idxDataset(
        { bytes: images, file: 'a-images' },
        { bytes: labels, file: 'b-labels' },
        { name: 't', source: 's', classNames: ['a', 'b', 'c'] },
      ),
    (e: unknown) =>
      e instanceof UserError && /a-images holds 3 images but b-labels holds 4 labels/.test(e.message),
  );
});

test('a label outside the class list is a user error', () => {
  const { images } = tinySet();
  const labels = idxBytes(IDX_LABELS_MAGIC, [3], [0, 7, 1]);
  assert.throws(
    () =>
      idxDataset(
        { bytes: images, file: 'i' },
        { bytes: labels, file: 'l' },
        { name: 't', source: 's', classNames: ['a', 'b', 'c'] },
      ),
    (e: unknown) => e instanceof UserError && /label 7 at example 1/.test(e.message),
  );
});

test('readDataFile gunzips by the magic bytes, reads plain files as they are, and reports damaged gzip', () => {
  const dir = tmpDir();
  const { images } = tinySet();
  fs.writeFileSync(path.join(dir, 'plain'), images);
  fs.writeFileSync(path.join(dir, 'packed.gz'), zlib.gzipSync(images));
  const gz = zlib.gzipSync(images);
  fs.writeFileSync(path.join(dir, 'cut.gz'), gz.subarray(0, gz.length - 8));
  assert.ok(isGzip(fs.readFileSync(path.join(dir, 'packed.gz'))));
  assert.deepEqual(new Uint8Array(readDataFile(path.join(dir, 'plain'), 'fix')), images);
  assert.deepEqual(new Uint8Array(readDataFile(path.join(dir, 'packed.gz'), 'fix')), images);
  assert.throws(
    () => readDataFile(path.join(dir, 'cut.gz'), 'run advlens data fetch mnist'),
    (e: unknown) =>
      e instanceof UserError && /cut\.gz is a damaged gzip file.*advlens data fetch mnist/.test(e.message),
  );
  fs.rmSync(dir, { recursive: true });
});

test('loadDataset reads mnist:test from a data dir, gzipped or plain, and names the files in errors', async () => {
  const dir = tmpDir();
  const { images, labels, pixels } = tinySet();
  fs.mkdirSync(path.join(dir, 'mnist'));
  fs.writeFileSync(path.join(dir, 'mnist', 't10k-images-idx3-ubyte.gz'), zlib.gzipSync(images));
  fs.writeFileSync(path.join(dir, 'mnist', 't10k-labels-idx1-ubyte'), labels);
  const env = {};
  const ds = await loadDataset('mnist', { dataDir: dir, env, home: dir });
  assert.equal(ds.name, 'mnist:test');
  assert.deepEqual(Array.from(ds.pixels), pixels);
  assert.deepEqual(Array.from(ds.labels), [2, 0, 1]);
  assert.match(ds.source, /t10k-images-idx3-ubyte\.gz/);
  assert.equal((await loadDataset('mnist:test', { dataDir: dir, env, home: dir, limit: 1 })).size, 1);

  fs.writeFileSync(
    path.join(dir, 'mnist', 't10k-labels-idx1-ubyte'),
    idxBytes(IDX_LABELS_MAGIC, [2], [0, 1]),
  );
  await assert.rejects(
    loadDataset('mnist:test', { dataDir: dir, env, home: dir }),
    (e: unknown) =>
      e instanceof UserError &&
      /holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels.*advlens data fetch mnist/.test(e.message),
  );
  fs.rmSync(dir, { recursive: true });
});
