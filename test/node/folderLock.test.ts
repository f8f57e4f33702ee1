import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE, lockFolder } from '../../src/node/folderLock.ts';
import { UserError } from '../../src/errors.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-lock-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const folder = (name: string) => {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  return dir;
};

test('the lock file holds its pid from the moment it exists, and no temporary file is left beside it', () => {
  const dir = folder('plain');
  const lock = lockFolder(dir);
  assert.deepEqual(fs.readdirSync(dir), [LOCK_FILE]);
  const holder = JSON.parse(fs.readFileSync(lock.file, 'utf8'));
  assert.equal(holder.pid, process.pid);
  assert.equal(holder.host, os.hostname());
  lock.release();
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('an unreadable lock is refused while fresh and taken over, with a warning, once old', () => {
  const dir = folder('unreadable');
  const file = path.join(dir, LOCK_FILE);
  fs.writeFileSync(file, '{"pid": 12');
  assert.throws(
    () => lockFolder(dir, () => assert.fail('no warning while refused')),
    (e: Error) =>
      e instanceof UserError &&
      /another run \(a process whose lock file cannot be read yet\)/.test(e.message),
  );
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
  const warnings: string[] = [];
  const lock = lockFolder(dir, (w) => warnings.push(w));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /left unfinished by a process that died while creating it; taking the lock over/);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid);
  lock.release();
});

// Six processes race for one folder; the winner holds it until every other has answered. Each loser
// must name the winner's pid: with the lock created with its content in it, none can meet it empty.
test('six processes racing for one folder: exactly one holds it, every other names its pid', async () => {
  const dir = folder('race');
  const go = path.join(tmp, 'race-go');
  const done = path.join(tmp, 'race-done');
  const code = `
    import fs from 'node:fs';
    import { lockFolder } from ${JSON.stringify(path.join(ROOT, 'src/node/folderLock.ts'))};
    while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
    try {
      lockFolder(${JSON.stringify(dir)});
      console.log('held ' + process.pid);
      while (!fs.existsSync(${JSON.stringify(done)})) await new Promise((r) => setTimeout(r, 10));
    } catch (e) {
      console.log('refused ' + e.message);
    }`;
  const runs = Array.from({ length: 6 }, () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    return { child, output: new Promise<string>((resolve) => child.on('close', () => resolve(out.trim()))) };
  });
  // Each child waits for `go` before locking; those slower to load tsx than this pause find it at
  // once, so the attempts are close together, not simultaneous.
  await new Promise((r) => setTimeout(r, 200));
  fs.writeFileSync(go, '');
  // Five exit (refused, or failed otherwise: the assertions below show it); the one left holds the lock.
  while (runs.filter((r) => r.child.exitCode !== null).length < 5)
    await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(done, '');
  const lines = await Promise.all(runs.map((r) => r.output));
  const held = lines.filter((l) => l.startsWith('held '));
  assert.equal(held.length, 1, lines.join('\n'));
  const winner = Number(held[0].slice(5));
  for (const l of lines.filter((l) => !l.startsWith('held ')))
    assert.match(
      l,
      new RegExp(`^refused .*being written by another run \\(process ${winner},`),
      lines.join('\n'),
    );
  assert.deepEqual(fs.readdirSync(dir), [], 'the winner released the lock and left nothing');
});
