import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../src/errors.ts';
import { CIFAR_RECORD_BYTES, cifarDataset, parseBatchesMeta, parseCifarBatch } from '../../src/data/cifar.ts';
import { CIFAR10_CLASSES } from '../../src/data/catalog.ts';
import { loadDataset } from '../../src/node/loadData.ts';

/** A CIFAR-10 record: label, then R, G, B planes where plane c of pixel p holds (p + 7 * c + label) % 256. */
function record(label: number): Uint8Array {
  const r = new Uint8Array(CIFAR_RECORD_BYTES);
  r[0] = label;
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) r[1 + c * 1024 + p] = (p + 7 * c + label) % 256;
  return r;
}

function batch(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD_BYTES);
  labels.forEach((l, i) => out.set(record(l), i * CIFAR_RECORD_BYTES));
  return out;
}

test('parseCifarBatch turns planar records into [32, 32, 3] pixels with their labels', () => {
  const b = parseCifarBatch(batch([3, 9]), 'b.bin');
  assert.deepEqual(Array.from(b.labels), [3, 9]);
  assert.equal(b.pixels.length, 2 * 32 * 32 * 3);
  // Image 1 (label 9), row 2, column 5: pixel index p = 2 * 32 + 5 = 69.
  const at = 1 * 3072 + 69 * 3;
  assert.deepEqual(Array.from(b.pixels.subarray(at, at + 3)), [69 + 9, 69 + 7 + 9, 69 + 14 + 9]);
  assert.equal(parseCifarBatch(batch([3, 9, 1]), 'b.bin', 2).labels.length, 2);
});

test('a CIFAR batch of the wrong length or with a label past 9 is a user error naming the file', () => {
  const whole = batch([1, 2]);
  assert.throws(
    () => parseCifarBatch(whole.subarray(0, whole.length - 5), 'data_batch_1.bin'),
    (e: unknown) =>
      e instanceof UserError &&
      /data_batch_1\.bin: 6141 bytes is not a whole number.*advlens data fetch cifar10/.test(e.message),
  );
  whole[CIFAR_RECORD_BYTES] = 12;
  assert.throws(
    () => parseCifarBatch(whole, 'test_batch.bin'),
    (e: unknown) => e instanceof UserError && /test_batch\.bin: record 1 has label 12/.test(e.message),
  );
});

test('class names come from batches.meta.txt, or the standard list', () => {
  assert.deepEqual(parseBatchesMeta(CIFAR10_CLASSES.join('\n') + '\n\n'), CIFAR10_CLASSES);
  assert.deepEqual(parseBatchesMeta(undefined), CIFAR10_CLASSES);
  assert.deepEqual(parseBatchesMeta('just\ntwo'), CIFAR10_CLASSES);
  const ds = cifarDataset([parseCifarBatch(batch([0, 1]), 'a'), parseCifarBatch(batch([2, 3]), 'b')], {
    name: 'c',
    source: 's',
    limit: 3,
  });
  assert.deepEqual(Array.from(ds.labels), [0, 1, 2]);
  assert.deepEqual(ds.shape, [32, 32, 3]);
});

test('loadDataset reads cifar10 from cifar-10-batches-bin, train across batch files, with a limit', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-cifar-'));
  const bin = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'test_batch.bin'), batch([4, 5, 6]));
  for (let i = 1; i <= 5; i++) fs.writeFileSync(path.join(bin, `data_batch_${i}.bin`), batch([i, i]));
  fs.writeFileSync(
    path.join(bin, 'batches.meta.txt'),
    CIFAR10_CLASSES.map((c) => c.toUpperCase()).join('\n'),
  );
  const opts = { dataDir: dir, env: {}, home: dir };
  const test = await loadDataset('cifar10', opts);
  assert.equal(test.name, 'cifar10:test');
  assert.deepEqual(Array.from(test.labels), [4, 5, 6]);
  assert.equal(test.classNames[0], 'AIRPLANE');
  const train = await loadDataset('cifar10:train', opts);
  assert.deepEqual(Array.from(train.labels), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  const three = await loadDataset('cifar10:train', { ...opts, limit: 3 });
  assert.deepEqual(Array.from(three.labels), [1, 1, 2]);
  fs.rmSync(dir, { recursive: true });
});
