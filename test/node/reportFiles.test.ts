import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { nodeImageEncoder, writeReportFiles } from '../../src/node/reportFiles.ts';

test('writeReportFiles writes the folder whole, replaces an old one, and leaves nothing on an error', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-report-files-'));
  const dir = path.join(tmp, 'r');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'stale.txt'), 'old');
  const out = writeReportFiles(dir, [
    { path: 'index.html', content: '<p>hi</p>' },
    { path: 'img/a.bin', content: Uint8Array.from([1, 2, 3]) },
  ]);
  assert.equal(out, path.resolve(dir));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['img', 'index.html']);
  assert.deepEqual([...fs.readFileSync(path.join(dir, 'img/a.bin'))], [1, 2, 3]);
  assert.throws(() => writeReportFiles(path.join(tmp, 'bad'), [{ path: '../x', content: '' }]), /outside/);
  assert.ok(!fs.existsSync(path.join(tmp, 'bad')));
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary folder left',
  );
});

test('nodeImageEncoder: lossless PNG, and labels drawn over a picture from SVG', async () => {
  const px = Uint8Array.from([0, 128, 255, 7]);
  const png = await nodeImageEncoder.png(px, [2, 2, 1]);
  assert.equal((await sharp(png).metadata()).channels, 1, 'a grayscale PNG');
  const back = await sharp(png).extractChannel(0).raw().toBuffer();
  assert.deepEqual([...back], [0, 128, 255, 7]);
  const white = new Uint8Array(40 * 20 * 3).fill(255);
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect x="0" y="0" width="10" height="20" fill="#000"/></svg>';
  const { data, info } = await sharp(await nodeImageEncoder.pngWithSvg(white, [20, 40, 3], svg))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [40, 20, 3]);
  assert.deepEqual([...data.subarray(0, 3)], [0, 0, 0], 'drawn');
  assert.deepEqual([...data.subarray(39 * 3, 40 * 3)], [255, 255, 255], 'untouched');
});
