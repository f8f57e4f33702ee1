import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { UserError } from '../../src/errors.ts';
import { prepareTrainOutput } from '../../src/node/trainOutput.ts';
import { LOCK_FILE } from '../../src/node/folderLock.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-out-'));
const folder = (name: string, files: Record<string, string> = {}) => {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
};
const refused = (f: () => unknown, message: RegExp) =>
  assert.throws(
    f,
    (e: Error) => e instanceof UserError && message.test(e.message) && !e.message.includes('\n'),
  );

test('a folder holding a model.json without a card is not overwritten without --force', () => {
  const dir = folder('bare-model', { 'model.json': '{}' });
  refused(() => prepareTrainOutput(dir, { epochs: 1 }), /already holds a model \(model\.json\); use --force/);
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'the lock is released');
  const o = prepareTrainOutput(dir, { epochs: 1, force: true });
  assert.equal(o.finished, null);
  o.release();
});

test('an unfinished run is neither overwritten nor silently restarted: --resume or --force', () => {
  const dir = folder('unfinished', { 'checkpoint/state.json': '{}' });
  refused(
    () => prepareTrainOutput(dir, { epochs: 1 }),
    /holds an unfinished run \(checkpoint\); continue it with --resume, or start over with --force/,
  );
});

test('--resume without a checkpoint is refused; on a finished run it reports that and holds nothing', () => {
  const empty = folder('empty');
  refused(
    () => prepareTrainOutput(empty, { epochs: 1, resume: true }),
    /holds no checkpoint to resume; drop --resume/,
  );
  const done = folder('done', { 'advlens.json': '{}', 'model.json': '{}' });
  const o = prepareTrainOutput(done, { epochs: 1, resume: true });
  assert.match(o.finished ?? '', /holds a finished run .* nothing to resume/);
  assert.ok(!fs.existsSync(path.join(done, LOCK_FILE)));
});

test('a damaged checkpoint state is reported before any work, with what to do', () => {
  const dir = folder('damaged', { 'checkpoint/state.json': '{"epochsDone": 1' });
  refused(
    () => prepareTrainOutput(dir, { epochs: 1, resume: true }),
    /is damaged \(state\.json is not valid JSON.*remove that folder.*or drop --resume/,
  );
});

test("a second writer is refused with the holder's pid; a dead holder's lock is taken over; a folder made for nothing is removed", () => {
  const dir = path.join(tmp, 'locked');
  const a = prepareTrainOutput(dir, { epochs: 1 });
  refused(
    () => prepareTrainOutput(dir, { epochs: 1 }),
    new RegExp(`being written by another run \\(process ${process.pid},`),
  );
  a.release();
  assert.ok(!fs.existsSync(dir), 'the empty folder it created is gone');

  // A lock left by a process that was killed (it is dead now).
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const stale = folder('stale', {
    [LOCK_FILE]: JSON.stringify({ pid: Number(dead.stdout), host: os.hostname(), since: 'then' }),
  });
  const b = prepareTrainOutput(stale, { epochs: 1 });
  assert.equal(JSON.parse(fs.readFileSync(path.join(stale, LOCK_FILE), 'utf8')).pid, process.pid);
  b.release();
  assert.ok(!fs.existsSync(path.join(stale, LOCK_FILE)));
});

test('a file given as the output folder is refused', () => {
  const f = path.join(tmp, 'a-file');
  fs.writeFileSync(f, 'x');
  refused(() => prepareTrainOutput(f, { epochs: 1 }), /is a file; give a folder/);
});
