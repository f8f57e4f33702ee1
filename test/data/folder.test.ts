import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../../src/errors.ts';
import { mapPool, roundRobin } from '../../src/data/folder.ts';
import { loadDataset } from '../../src/node/loadData.ts';

/** Writes a solid h x w RGB PNG of grey level `v`. */
async function solid(file: string, v: number, h = 4, w = 4): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(new Uint8Array(h * w * 3).fill(v), { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
}

/**
 * A tree with classes dog (3 images), cat (1), emu (2), each image a solid grey whose level encodes
 * class and index: cat 10, dog 20 + i, emu 30 + i. Plus a hidden file and a README at the root.
 */
async function makeTree(): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-tree-'));
  for (let i = 0; i < 3; i++) await solid(path.join(root, 'dog', `${i}.png`), 20 + i);
  await solid(path.join(root, 'cat', 'x.png'), 10);
  await solid(path.join(root, 'emu', 'a.png'), 30, 6, 2);
  await solid(path.join(root, 'emu', 'b.png'), 31);
  fs.writeFileSync(path.join(root, 'dog', '.DS_Store'), 'junk');
  fs.writeFileSync(path.join(root, 'README'), 'a tree');
  return root;
}

test('roundRobin interleaves groups, skipping those that ran out, and stops at the limit', () => {
  assert.deepEqual(roundRobin([['a1', 'a2', 'a3'], ['b1'], ['c1', 'c2']]), [
    [0, 'a1'],
    [1, 'b1'],
    [2, 'c1'],
    [0, 'a2'],
    [2, 'c2'],
    [0, 'a3'],
  ]);
  assert.deepEqual(roundRobin([['a1', 'a2'], ['b1']], 2), [
    [0, 'a1'],
    [1, 'b1'],
  ]);
});

test('mapPool keeps the order of results and never runs more than its limit at once', async () => {
  let running = 0;
  let most = 0;
  const out = await mapPool([5, 1, 4, 2, 3], 2, async (v) => {
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, v));
    running--;
    return v * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(most, 2);
});

test('folder:PATH reads sorted class folders, interleaved, resized to the first image', async () => {
  const root = await makeTree();
  const ds = await loadDataset(`folder:${root}`);
  assert.equal(ds.name, `folder:${root}`);
  assert.equal(ds.source, root);
  assert.deepEqual(ds.classNames, ['cat', 'dog', 'emu']);
  assert.deepEqual(Array.from(ds.labels), [0, 1, 2, 1, 2, 1]);
  assert.deepEqual(ds.shape, [4, 4, 3]);
  const first = (i: number) => ds.pixels[i * 48];
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(first), [10, 20, 30, 21, 31, 22]);
  // emu/a.png was 6x2 and is stretched to 4x4 (a solid image stays solid).
  assert.ok(Array.from(ds.pixels.subarray(2 * 48, 3 * 48)).every((v) => v === 30));
  fs.rmSync(root, { recursive: true });
});

test('folder:PATH with a limit decodes a prefix holding every class, at the asked size and channels', async () => {
  const root = await makeTree();
  const seen: number[] = [];
  const ds = await loadDataset(`folder:${root}`, {
    limit: 4,
    size: [2, 3],
    channels: 1,
    onProgress: (d, t) => seen.push(d, t),
  });
  assert.equal(ds.size, 4);
  assert.deepEqual(ds.shape, [2, 3, 1]);
  assert.deepEqual(Array.from(ds.labels), [0, 1, 2, 1]);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => ds.pixels[i * 6]),
    [10, 20, 30, 21],
  );
  assert.deepEqual(seen.slice(-2), [4, 4]);
  fs.rmSync(root, { recursive: true });
});

test('an image file that does not decode, an empty folder and a missing folder are user errors', async () => {
  const root = await makeTree();
  fs.writeFileSync(path.join(root, 'emu', 'c.png'), 'not an image');
  await assert.rejects(
    loadDataset(`folder:${root}`),
    (e: unknown) => e instanceof UserError && e.message.includes(path.join(root, 'emu', 'c.png')),
  );
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-empty-'));
  await assert.rejects(
    loadDataset(`folder:${empty}`),
    (e: unknown) => e instanceof UserError && /has no class sub-folders/.test(e.message),
  );
  fs.mkdirSync(path.join(empty, 'a'));
  await assert.rejects(
    loadDataset(`folder:${empty}`),
    (e: unknown) => e instanceof UserError && /no image files/.test(e.message),
  );
  await assert.rejects(
    loadDataset(`folder:${path.join(empty, 'gone')}`),
    (e: unknown) => e instanceof UserError && /folder not found/.test(e.message),
  );
  fs.rmSync(root, { recursive: true });
  fs.rmSync(empty, { recursive: true });
});

test('cifar10 accepts a JPEG tree, labels by the CIFAR-10 class list, and rejects unknown classes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-cifartree-'));
  const tree = path.join(dir, 'cifar10-jpeg', 'test');
  await solid(path.join(tree, 'truck', '0000.png'), 90, 32, 32);
  await solid(path.join(tree, 'bird', '0000.png'), 20, 32, 32);
  const opts = { dataDir: dir, env: {}, home: dir };
  const ds = await loadDataset('cifar10:test', opts);
  assert.equal(ds.classNames.length, 10);
  assert.deepEqual(Array.from(ds.labels), [2, 9]);
  assert.equal(ds.source, tree);
  await solid(path.join(tree, 'zebra', '0000.png'), 20, 32, 32);
  await assert.rejects(
    loadDataset('cifar10:test', opts),
    (e: unknown) => e instanceof UserError && /zebra/.test(e.message),
  );
  fs.rmSync(dir, { recursive: true });
});
