import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('npm run bench in quick mode: JSON shape, every workload frees its tensors', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-bench-'));
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
      '--models',
      'small',
      '--quick',
      '--json',
      '--results',
      file,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.tool, 'advlens bench');
  assert.equal(j.quick, true);
  assert.ok(!Number.isNaN(Date.parse(j.date)));
  assert.equal(typeof j.machine.cpuModel, 'string');
  assert.equal(j.machine.cpus, os.cpus().length);
  assert.equal(j.machine.node, process.version);
  assert.equal(j.engine.backend, 'wasm');
  assert.match(j.engine.tfjsVersion, /^\d+\.\d+\.\d+/);
  assert.equal(j.engine.versions.backend, 'wasm');
  assert.deepEqual(
    j.workloads.map((w: { name: string }) => w.name),
    ['forward', 'input_grad', 'train_step', 'smoothgrad5', 'ig5', 'pgd4'],
  );
  // The warm-up defaults to the --seconds budget: untimed calls until it has passed.
  assert.equal(j.warmupSeconds, 0.05);
  for (const w of j.workloads) {
    assert.equal(w.batch, 8, w.name);
    assert.ok(w.reps >= 3, `${w.name}: ${w.reps} reps`);
    assert.ok(
      w.warmupCalls >= 1 && w.warmupMs >= 50,
      `${w.name}: ${w.warmupCalls} warm-up calls, ${w.warmupMs} ms`,
    );
    assert.ok(w.imagesPerSec > 0 && Number.isFinite(w.imagesPerSec), w.name);
    assert.ok(w.medianMs > 0 && w.minMs <= w.medianMs && w.medianMs <= w.maxMs, w.name);
    assert.ok(w.peakRssMB > 0, w.name);
    assert.equal(w.tensorsAfter, w.tensorsBefore, `${w.name} leaks tensors`);
    assert.equal(w.tensorsOk, true, w.name);
  }
  // Quick sizes are not torch_ref's definitions past the first three.
  assert.deepEqual(
    j.workloads.map((w: { torchKey: string | null }) => w.torchKey),
    ['forward', 'input_grad', 'train_step', null, null, null],
  );
  assert.deepEqual(j.skipped, [{ name: 'darknet', reason: 'skipped (--skip-darknet)' }]);
  assert.equal(j.tensors.atEnd, j.tensors.atStart);
  assert.equal(j.torch.requested, false);
  assert.equal(j.ok, true);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), j);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('npm run bench --models resnet20 in quick mode: its own child process, the four workloads, RSS, no leak', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/run.ts',
      '--seconds',
      '0',
      '--models',
      'resnet20',
      '--quick',
      '--workers',
      '1',
      '--json',
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const m = j.models.resnet20;
  assert.deepEqual(
    m.workloads.map((w: { name: string }) => w.name),
    ['forward', 'input_grad', 'train_step', 'pgd2_train'],
  );
  assert.equal(j.warmupSeconds, 0);
  for (const w of m.workloads) {
    assert.equal(w.batch, 8, w.name);
    assert.equal(w.warmupCalls, 1, `${w.name}: a warm-up of 0 s is one call`);
    assert.ok(w.imagesPerSec > 0 && w.peakRssMB > 0, w.name);
    assert.equal(w.tensorsAfter, w.tensorsBefore, `${w.name} leaks tensors`);
  }
  assert.equal(m.tensorsOk, true);
  assert.deepEqual(j.workloads, []);
  assert.deepEqual(j.skipped, [{ name: 'small', reason: 'not in --models' }]);
  assert.equal(j.ok, true);
});

test('npm run bench --help prints the options and exits 0; an unknown option is one line and exit 2', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
  const h = run(['--help']);
  assert.equal(h.status, 0, h.stderr);
  for (const o of [
    '--compare-torch',
    '--rounds R',
    '--warmup S',
    '--torch-isa native|avx2',
    'bench/README.md',
  ])
    assert.ok(h.stdout.includes(o), `--help names ${o}`);
  const bad = run(['--out', 'x.json']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^bench: Unknown option '--out'.*npm run bench -- --help lists the options\)\n$/);
});

test('bench/leaks.ts --workers 2: the data-parallel training workloads too, main thread and each worker checked', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/leaks.ts',
      '--models',
      'resnet20',
      '--only',
      'train_step',
      '--model-steps',
      '2',
      '--workers',
      '2',
      '--json',
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 240_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ok, true);
  const pool = j.rows.find((row: { workload: string }) => row.workload === 'train_step (2 workers)');
  assert.ok(pool, 'a row for the data-parallel train_step');
  assert.equal(pool.steps, 2);
  assert.equal(pool.workerTensorsBefore.length, 2);
  // Each worker holds its copy of ResNet-20's weights between steps, and the same number after.
  for (const n of pool.workerTensorsBefore) assert.ok(n > 60, `a worker holds the model's tensors (${n})`);
  assert.deepEqual(pool.workerTensorsAfter, pool.workerTensorsBefore);
  assert.equal(pool.tensorsAfter, pool.tensorsBefore);
});
