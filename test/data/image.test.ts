import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../../src/errors.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { decodeImage, encodePng, fitDataset, loadImageDataset } from '../../src/node/image.ts';

/** A PNG of raw uint8 pixels [h, w, c]. */
function png(pixels: number[], h: number, w: number, c: 1 | 3 | 4): Promise<Buffer> {
  const img = sharp(Uint8Array.from(pixels), { raw: { width: w, height: h, channels: c } });
  return (c === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}

/** 2 rows x 6 columns: columns 0-1 red, 2-3 green, 4-5 blue. */
function stripes(): number[] {
  const colours = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  const out: number[] = [];
  for (let r = 0; r < 2; r++) for (let col = 0; col < 6; col++) out.push(...colours[Math.floor(col / 2)]);
  return out;
}

test('decodeImage gives float pixels in [0, 1] equal to the PNG bytes / 255', async () => {
  const bytes = [0, 51, 102, 153, 204, 255];
  const img = await decodeImage(await png(bytes, 2, 1, 3));
  assert.deepEqual(img.shape, [2, 1, 3]);
  assert.deepEqual(
    Array.from(img.data),
    bytes.map((b) => Math.fround(b / 255)),
  );
});

test("fit 'cover' keeps the centre and crops the long side; 'fill' stretches", async () => {
  const buf = await png(stripes(), 2, 6, 3);
  const cover = await decodeImage(buf, { size: [2, 2], fit: 'cover' });
  assert.deepEqual(cover.shape, [2, 2, 3]);
  for (let p = 0; p < 4; p++) assert.deepEqual(Array.from(cover.data.subarray(3 * p, 3 * p + 3)), [0, 1, 0]);
  const fill = await decodeImage(buf, { size: [2, 2], fit: 'fill' });
  // Stretched, the left pixel is mostly red and the right one mostly blue.
  assert.ok(fill.data[0] > 0.5 && fill.data[2] < 0.5, `left pixel ${Array.from(fill.data.subarray(0, 3))}`);
  assert.ok(fill.data[5] > 0.5 && fill.data[3] < 0.5, `right pixel ${Array.from(fill.data.subarray(3, 6))}`);
});

test('channels converts colour to gray and gray to three equal channels; transparency becomes white', async () => {
  const gray = await decodeImage(await png([10, 200, 10, 200], 2, 2, 1));
  assert.deepEqual(gray.shape, [2, 2, 1]);
  const rgb = await decodeImage(await png([10, 200, 10, 200], 2, 2, 1), { channels: 3 });
  assert.deepEqual(rgb.shape, [2, 2, 3]);
  assert.deepEqual(
    Array.from(rgb.data.subarray(0, 3)).map((v) => Math.round(v * 255)),
    [10, 10, 10],
  );
  const toGray = await decodeImage(await png([90, 90, 90, 30, 30, 30], 1, 2, 3), { channels: 1 });
  assert.deepEqual(
    Array.from(toGray.data).map((v) => Math.round(v * 255)),
    [90, 30],
  );
  const clear = await decodeImage(await png([0, 0, 0, 0], 1, 1, 4));
  assert.deepEqual(Array.from(clear.data), [1, 1, 1]);
});

test('encodePng is lossless for uint8 and for float pixels in [0, 1]', async () => {
  const u8 = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const back = await sharp(await encodePng(u8, [4, 3, 3]))
    .raw()
    .toBuffer();
  assert.deepEqual(new Uint8Array(back), u8);
  const f = Float32Array.from({ length: 6 }, (_, i) => i / 5);
  const img = await decodeImage(await encodePng(f, [2, 3, 1]));
  assert.deepEqual(
    Array.from(img.data).map((v) => Math.round(v * 255)),
    Array.from(f, (v) => Math.round(v * 255)),
  );
  const clamped = await encodePng(Float32Array.of(-1, 2), [1, 2, 1]);
  assert.equal((await sharp(clamped).metadata()).channels, 1);
  assert.deepEqual(Array.from((await decodeImage(clamped)).data), [0, 1]);
});

test('a missing file, a folder and a file that is not an image are user errors naming the path', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-img-'));
  const text = path.join(dir, 'notes.png');
  fs.writeFileSync(text, 'this is not a picture');
  await assert.rejects(
    decodeImage(path.join(dir, 'nope.jpg')),
    (e: unknown) => e instanceof UserError && e.message === `image not found: ${path.join(dir, 'nope.jpg')}`,
  );
  await assert.rejects(
    decodeImage(dir),
    (e: unknown) => e instanceof UserError && /is a folder, not an image/.test(e.message),
  );
  await assert.rejects(
    decodeImage(text),
    (e: unknown) =>
      e instanceof UserError && e.message.startsWith(`${text} is not an image advlens can read`),
  );
  fs.rmSync(dir, { recursive: true });
});

test('loadImageDataset fits every image to the first one, with label 0 of the class unknown', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-img-'));
  const a = path.join(dir, 'a.png');
  const b = path.join(dir, 'b.png');
  fs.writeFileSync(a, await png(Array(2 * 3 * 3).fill(40), 2, 3, 3));
  fs.writeFileSync(b, await png(Array(5 * 5 * 3).fill(220), 5, 5, 3));
  const ds = await loadImageDataset([a, b]);
  assert.deepEqual(ds.shape, [2, 3, 3]);
  assert.deepEqual(ds.classNames, ['unknown']);
  assert.deepEqual(Array.from(ds.labels), [0, 0]);
  assert.ok(Array.from(ds.pixels.subarray(18)).every((v) => v === 220));
  const small = await loadImageDataset([a, b], { size: [1, 1], channels: 1 });
  assert.deepEqual(Array.from(small.pixels), [40, 220]);
  fs.rmSync(dir, { recursive: true });
});

test('fitDataset resizes and converts a dataset, and leaves one of the right shape alone', async () => {
  const ds = makeDataset({
    name: 'd',
    source: 's',
    classNames: ['a'],
    shape: [2, 2, 1],
    pixels: Uint8Array.of(7, 7, 7, 7),
    labels: Int32Array.of(0),
  });
  assert.equal(await fitDataset(ds, { size: [2, 2], channels: 1 }), ds);
  const big = await fitDataset(ds, { size: [3, 4], channels: 3 });
  assert.deepEqual(big.shape, [3, 4, 3]);
  assert.ok(Array.from(big.pixels).every((v) => v === 7));
});
