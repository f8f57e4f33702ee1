import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { advlens, hasShared, SHARED } from './helpers.ts';
import { loadDataset } from '../../src/node/loadData.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-stylize-'));

/** A class-per-folder tree of 8x8 RGB PNGs: classes a and b, three images each. */
async function sourceTree(): Promise<string> {
  const root = path.join(tmp, 'src');
  for (const [ci, cls] of ['a', 'b'].entries())
    for (let i = 0; i < 3; i++) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      const px = Buffer.alloc(8 * 8 * 3);
      for (let p = 0; p < 64; p++) {
        const inside = p % 8 >= 2 && p % 8 < 6 && p >> 3 >= 2 && p >> 3 < 6;
        px[p * 3] = inside ? 230 : 40 + 60 * i;
        px[p * 3 + 1] = ci ? 200 : 50;
        px[p * 3 + 2] = inside ? 30 : 120;
      }
      await sharp(px, { raw: { width: 8, height: 8, channels: 3 } })
        .png()
        .toFile(path.join(root, cls, `${i}.png`));
    }
  return root;
}

test('stylize writes class folders of PNGs and a provenance file, resumes with the same pixels, and loads as folder:', async (t) => {
  if (!hasShared('models/arbitrary-style/transfer/model.json')) return t.skip('../shared/models absent');
  const src = await sourceTree();
  const out = path.join(tmp, 'out');
  const args = [
    'stylize',
    '--data',
    `folder:${src}`,
    '--out',
    out,
    '--seed',
    '4',
    '--style-size',
    '32',
    '--style-models',
    path.join(SHARED, 'models'),
    '--paintings',
    path.join(SHARED, 'data/style-images'),
  ];
  const a = advlens([...args, '--json']);
  assert.equal(a.code, 0, a.stderr);
  const r = JSON.parse(a.stdout);
  assert.equal(r.written, 6);
  // Round-robin order of the source: a/0, b/0, a/1, b/1, a/2, b/2 -> indices 0..5.
  assert.deepEqual(fs.readdirSync(path.join(out, 'a')).sort(), ['00000.png', '00002.png', '00004.png']);
  assert.deepEqual(fs.readdirSync(path.join(out, 'b')).sort(), ['00001.png', '00003.png', '00005.png']);
  const prov = JSON.parse(fs.readFileSync(path.join(out, 'advlens-stylize.json'), 'utf8'));
  assert.equal(prov.status, 'complete');
  assert.deepEqual(prov.key, { data: `folder:${src}`, method: 'arbitrary', seed: 4, workSize: 32 });
  assert.equal(prov.stylizer.paintings.length, 5);
  assert.match(prov.command, /^advlens stylize/);

  // Resume: a deleted image comes back with the same pixels; the others are skipped.
  const file = path.join(out, 'b', '00003.png');
  const before = await sharp(file).raw().toBuffer();
  fs.rmSync(file);
  const b = advlens([...args, '--json']);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).written, 1);
  assert.equal(JSON.parse(b.stdout).skipped, 5);
  assert.deepEqual(await sharp(file).raw().toBuffer(), before);

  // The stylised images differ from the source and the folder loads with the source's classes.
  const ds = await loadDataset(`folder:${out}`);
  const orig = await loadDataset(`folder:${src}`);
  assert.deepEqual(ds.classNames, ['a', 'b']);
  assert.deepEqual(Array.from(ds.labels), Array.from(orig.labels));
  const diff =
    Array.from(ds.pixels).reduce((s, v, i) => s + Math.abs(v - orig.pixels[i]), 0) / ds.pixels.length;
  assert.ok(diff > 10, `mean change ${diff} of 255`);

  // Other options on the same folder: one line, exit 2, nothing changed.
  const c = advlens([...args.slice(0, -6), '--seed', '5', ...args.slice(-4)]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /holds a stylisation made with .*"seed":4/);
  assert.equal(c.stderr.trim().split('\n').length, 1);
});

test('stylize refuses grey data, an unknown method, a strength out of [0, 1] or with a fast network, and a non-empty foreign folder with one line and exit 2', (t) => {
  const cases: [string[], RegExp][] = [
    [['--method', 'van-gogh'], /--method van-gogh is unknown/],
    [['--strength', '1.5'], /--strength must be a number from 0 to 1 \(got '1.5'\)/],
    [['--method', 'fast:wave', '--strength', '0.5'], /--strength 0.5 needs --method arbitrary/],
  ];
  if (hasShared('data/mnist/t10k-images-idx3-ubyte.gz') && hasShared('models/arbitrary-style'))
    cases.push([
      ['--data', 'mnist:test', '--data-dir', path.join(SHARED, 'data'), '--limit', '2'],
      /needs colour images/,
    ]);
  const foreign = path.join(tmp, 'foreign');
  fs.mkdirSync(foreign, { recursive: true });
  fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
  if (hasShared('data/cifar10-jpeg/test') && hasShared('models/style-transfer'))
    cases.push([
      [
        '--data',
        'cifar10:test',
        '--data-dir',
        path.join(SHARED, 'data'),
        '--limit',
        '2',
        '--method',
        'fast:wave',
        '--out',
        foreign,
      ],
      /is not empty/,
    ]);
  if (cases.length < 4) t.diagnostic('../shared absent: only the option checks run');
  for (const [extra, want] of cases) {
    const args = ['stylize', '--data', 'cifar10:test', '--out', path.join(tmp, 'x'), ...extra];
    const r = advlens(args);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.deepEqual(fs.readdirSync(foreign), ['notes.txt']);
});

test('eval --transform: saturate:2 is the identity row, shuffle rows are counted, --json carries the definition', (t) => {
  if (!hasShared('data/mnist/t10k-images-idx3-ubyte.gz')) return t.skip('../shared/data/mnist absent');
  const base = [
    'eval',
    '--model',
    'models/mnist-gap-cnn',
    '--data',
    'mnist:test',
    '--data-dir',
    path.join(SHARED, 'data'),
    '--limit',
    '60',
  ];
  const r = advlens([...base, '--transform', 'saturate:2,shuffle:4', '--seed', '3', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.examples, 60);
  assert.equal(j.options.seed, 3);
  assert.match(j.definition, /right both clean and transformed \/ right clean/);
  const [sat, shuf] = j.rows;
  assert.equal(sat.transform, 'saturate:2');
  assert.equal(sat.correct, j.clean.correct);
  assert.equal(sat.relative, 1);
  assert.equal(shuf.transform, 'shuffle:4');
  assert.equal(shuf.relative, shuf.bothCorrect / j.clean.correct);
  assert.ok(shuf.bothCorrect <= shuf.correct && shuf.bothCorrect <= j.clean.correct);
  for (const [extra, want] of [
    [['--transform', 'blur:2'], /unknown transform 'blur:2'/],
    [
      ['--transform', 'stylize', '--style-models', path.join(SHARED, 'models')],
      /stylize needs colour images/,
    ],
  ] as [string[], RegExp][]) {
    const e = advlens([...base, ...extra]);
    assert.equal(e.code, 2, `${extra.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, want);
    assert.equal(e.stderr.trim().split('\n').length, 1);
  }
});
