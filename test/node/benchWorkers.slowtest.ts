import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../cli/helpers.ts';

test('npm run bench --workers 2 (quick): input_grad, train_step, smoothgrad, ig and pgd also on 2 workers, no tensor left anywhere', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-bench-workers-'));
  const file = path.join(tmp, 'latest.json');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/run.ts',
      '--seconds',
      '0.05',
      '--skip-darknet',
      '--quick',
      '--json',
      '--workers',
      '2',
      '--results',
      file,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(
    j.workloads.map((w: { name: string }) => w.name),
    ['forward', 'input_grad', 'train_step', 'smoothgrad5', 'ig5', 'pgd4'],
    'the one-thread workloads are unchanged',
  );
  assert.equal(j.parallel.workers, 2);
  assert.deepEqual(
    j.parallel.workloads.map((w: { name: string; torchKey: string | null }) => [w.name, w.torchKey]),
    [
      ['input_grad', 'input_grad'],
      ['train_step', 'train_step'],
      ['smoothgrad5', null],
      ['ig5', null],
      ['pgd4', null],
    ],
  );
  for (const w of j.parallel.workloads) {
    assert.equal(w.batch, 8);
    assert.ok(w.imagesPerSec > 0 && w.reps >= 3, w.name);
    assert.ok(w.cpuMsPerCall > 0, `${w.name}: CPU time of all threads per call`);
    assert.equal(w.tensorsAfter, w.tensorsBefore, `${w.name} leaks tensors in the main thread`);
  }
  assert.deepEqual(j.parallel.workerTensorsAtEnd, [0, 0]);
  assert.equal(j.ok, true);
  fs.rmSync(tmp, { recursive: true, force: true });
});
