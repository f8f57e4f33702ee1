import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { UserError } from '../../src/errors.ts';
import { SEED_ROWS, SEED_ROW_OF, type SeedRow } from '../../src/zoo/seedTable.ts';
import { SEED_TABLE3, seedTau } from '../../src/zoo/seedTable3.ts';
import {
  AAI200,
  aaiCell,
  aaiRunOf,
  addAaiCell,
  parseAaiRecord,
  tauStats,
  type AaiCell,
} from '../../src/zoo/aaiRecord.ts';
import {
  buildZooTable3,
  findings3,
  zooTable3Html,
  zooTable3Markdown,
  type Table3Model,
} from '../../src/zoo/table3.ts';
import { ZOO_METHODS, zooEntry, type ZooEntry } from '../../src/zoo/zoo.ts';
import type { ModelCard } from '../../src/models/card.ts';
import { hasShared, SHARED } from '../cli/helpers.ts';

const SEED_FILE = 'seeds/000_eb6fcf1d185bb3ea.txt';
const EPS = [...SEED_TABLE3.eps];

test('the embedded Table 3 (MNIST, Small) equals the seed document, row by row', (t) => {
  if (!hasShared(SEED_FILE)) return t.skip(`needs ../shared/${SEED_FILE}`);
  const lines = fs.readFileSync(SHARED + SEED_FILE, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.includes('Experiment: Attack Against Interpretability'));
  const end = lines.findIndex((l, i) => i > start && l.includes('2/255'));
  assert.ok(start >= 0 && end > start);
  const parsed: Record<string, number[]> = {};
  for (const l of lines.slice(start, end)) {
    const cells = l.split('\t').map((c) => c.trim());
    const k = cells.findIndex((c) => (SEED_ROWS as readonly string[]).includes(c));
    if (k >= 0) parsed[cells[k]] = cells.slice(k + 1, k + 7).map(Number);
  }
  assert.deepEqual(Object.keys(parsed), [...SEED_ROWS]);
  for (const r of SEED_ROWS) assert.deepEqual(SEED_TABLE3.rows[r], parsed[r], r);
  assert.equal(seedTau('int2', 0.35), 0.612);
  assert.equal(seedTau('pgd-linf', 0.4), 0.136);
  assert.equal(seedTau('underfit', 0.1), null);
  assert.equal(seedTau('int', 0), null);
});

test('tauStats: mean and median of the defined taus (NaN skipped), null when none', () => {
  assert.deepEqual(tauStats([0.5, NaN, -0.25, 1]), { mean: 1.25 / 3, median: 0.5, counted: 3 });
  assert.deepEqual(tauStats([0.2, 0.9, NaN, 0.4, 0.1]), {
    mean: 0.4,
    median: 0.30000000000000004,
    counted: 4,
  });
  assert.deepEqual(tauStats([NaN]), { mean: null, median: null, counted: 0 });
});

/** A lookup of mean tau from a table of rows (by seed row name) at EPS. */
const lookup =
  (rows: Partial<Record<SeedRow, readonly number[]>>) =>
  (method: string, eps: number): number | null => {
    const r = SEED_ROW_OF[method];
    const j = EPS.indexOf(eps);
    return r && rows[r] && j >= 0 ? rows[r]![j] : null;
  };

test("the paper's own numbers reproduce every finding; the lines carry the numbers", () => {
  const f = findings3(EPS, lookup(SEED_TABLE3.rows));
  assert.deepEqual(
    f.map((x) => [x.answer, x.seed]),
    [
      ['reproduced', 'holds'],
      ['reproduced', 'holds'],
      ['reproduced', 'holds'],
    ],
  );
  assert.match(f[0].detail, /eps 0\.4: Int 0\.320, Int2 0\.351 > Normal -0\.085/);
  assert.match(f[1].detail, /eps 0\.35: Int 0\.504, Int2 0\.612 >= Adv 0\.467, TRADES 0\.450/);
  // margins min(Int, Int2) - max(Adv, TRADES): 0.35: 0.037, 0.4: 0.184 (mean 0.1105); 0.05: 0.004, 0.1: 0.012 (mean 0.008)
  assert.match(f[2].detail, /large eps mean 0\.110 \(0\.35: 0\.037, 0\.4: 0\.184\) > small eps mean 0\.008/);
});

test('findings come out not reproduced when the numbers say so, and not measured when a row is missing', () => {
  const base = {
    Normal: [0.9, 0.8, 0.4, 0.1, 0.0, -0.1],
    Adv: [0.97, 0.95, 0.9, 0.85, 0.5, 0.2],
    TRADES: [0.97, 0.95, 0.9, 0.85, 0.45, 0.1],
  };
  // Int below Adv at eps 0.35; Int2 below Normal at 0.05; margins wider at small eps than at large.
  const ours = {
    ...base,
    Int: [0.99, 0.97, 0.93, 0.9, 0.49, 0.21],
    Int2: [0.89, 0.99, 0.95, 0.9, 0.6, 0.3],
  };
  const f = findings3(EPS, lookup(ours));
  assert.equal(f[0].answer, 'not reproduced');
  assert.match(f[0].detail, /eps 0\.05: Int 0\.990, Int2 0\.890 not all > Normal 0\.900/);
  assert.equal(f[1].answer, 'not reproduced');
  assert.match(f[1].detail, /eps 0\.35: Int 0\.490, Int2 0\.600 not all >= Adv 0\.500, TRADES 0\.450/);
  // margins: 0.05: 0.89 - 0.97 = -0.08, 0.1: 0.02 (mean -0.03); 0.35: -0.01, 0.4: 0.01 (mean 0) -> reproduced
  assert.equal(f[2].answer, 'reproduced');
  const wider = { ...ours, Int: [1, 1, 0.93, 0.9, 0.51, 0.21], Int2: [1, 1, 0.95, 0.9, 0.6, 0.3] };
  // margins: small 0.03, 0.05 (mean 0.04); large 0.01, 0.01 (mean 0.01): not wider at large eps
  const g = findings3(EPS, lookup(wider));
  assert.deepEqual(
    g.map((x) => x.answer),
    ['reproduced', 'reproduced', 'not reproduced'],
  );
  assert.match(g[2].detail, /large eps mean 0\.010 .* <= small eps mean 0\.040/);
  const noTrades = findings3(EPS, lookup({ ...ours, TRADES: undefined }));
  assert.deepEqual(
    noTrades.map((x) => x.answer),
    ['not reproduced', 'not measured', 'not measured'],
  );
  assert.match(noTrades[1].detail, /not measured: TRADES at eps 0\.05/);
  // Only some budgets in the table: the third finding needs both groups.
  assert.equal(findings3([0.1, 0.4], lookup(SEED_TABLE3.rows))[2].answer, 'not measured');
});

const run = (eps: number, seconds = 1) => ({
  measuredAt: `2026-12-05T0${Math.round(eps * 10)}:00:00.000Z`,
  command: `advlens zoo table --table 3 --eps ${eps}`,
  versions: { advlens: '0.1.0' },
  seconds,
});
const cell = (eps: number, tau: number | null): AaiCell => ({
  eps,
  tauMean: tau,
  tauMedian: tau,
  counted: tau === null ? 0 : 3,
  changed: tau === null ? 4 : 1,
});
const base = { data: 'mnist:test', source: 'x', examples: 4, accuracy: 0.75, attack: { ...AAI200 } };

test('cells are added one at a time with their own run; another setting or other weights start afresh', () => {
  let r = addAaiCell(null, base, cell(0.3, 0.5), run(0.3, 10));
  r = addAaiCell(r, base, cell(0.1, 0.9), run(0.1, 20));
  r = addAaiCell(r, base, cell(0.4, null), run(0.4, 5));
  assert.deepEqual(r.eps, [0.1, 0.3, 0.4]);
  assert.deepEqual(r.tauMean, [0.9, 0.5, null]);
  assert.equal(r.seconds, 35);
  assert.equal(r.measuredAt, run(0.4).measuredAt);
  assert.deepEqual(
    r.runs.map((u) => u.eps),
    [[0.3], [0.1], [0.4]],
  );
  assert.deepEqual(parseAaiRecord(JSON.parse(JSON.stringify(r)), 'card'), JSON.parse(JSON.stringify(r)));
  // The cell at a budget already there is replaced, with its run.
  const again = addAaiCell(r, base, cell(0.3, 0.6), run(0.3, 7));
  assert.deepEqual(again.tauMean, [0.9, 0.6, null]);
  assert.equal(again.seconds, 32);
  assert.equal(aaiRunOf(again, 0.3)!.seconds, 7);
  assert.deepEqual(aaiCell(again, base, 0.1), cell(0.1, 0.9));
  assert.equal(aaiCell(again, base, 0.2), null);
  // Another clean accuracy (other weights), number of steps or batch size: the cells do not count.
  for (const other of [
    { ...base, accuracy: 0.5 },
    { ...base, attack: { ...AAI200, steps: 2 } },
    { ...base, attack: { ...AAI200, batchSize: 50 } },
    { ...base, examples: 5 },
  ]) {
    assert.equal(aaiCell(again, other, 0.1), null);
    const fresh = addAaiCell(again, { ...other, source: 'x' }, cell(0.2, 0.7), run(0.2));
    assert.deepEqual(fresh.eps, [0.2]);
  }
});

test('a malformed AAI record is a user error naming the card and the problem', () => {
  const good = addAaiCell(null, base, cell(0.3, 0.5), run(0.3));
  const bad = (change: Record<string, unknown>, what: RegExp) =>
    assert.throws(
      () => parseAaiRecord({ ...good, ...change }, 'models/m/advlens.json'),
      (e: unknown) =>
        e instanceof UserError && /models\/m\/advlens\.json/.test(e.message) && what.test(e.message),
    );
  bad({ tauMean: [1.5] }, /tauMean\[0\]/);
  bad({ tauMean: [null] }, /null exactly when no example is counted/);
  bad({ eps: [0] }, /eps\[0\] must be a number > 0/);
  bad({ counted: [4] }, /exceeds examples/);
  bad({ runs: [] }, /runs must be a non-empty list/);
  bad({ attack: { ...AAI200, name: 'pgd-linf' } }, /attack\.name/);
});

const model = (method: string, taus: (number | null)[]): Table3Model => ({
  method,
  cardPath: `models/mnist-${method}/advlens.json`,
  cells: EPS.map((e, j) => (taus[j] === null ? null : cell(e, taus[j]))),
  fromCard: EPS.filter((_, j) => taus[j] !== null),
  measured: [],
  unmeasured: EPS.filter((_, j) => taus[j] === null),
  recorded: false,
  runs: EPS.filter((_, j) => taus[j] !== null).map((e) => ({ ...run(e), eps: [e] })),
});

test('the table: ours (paper) per cell, medians with counts, seed-only rows marked, a plot per source in the HTML', () => {
  const t = buildZooTable3({
    eps: EPS,
    methods: ZOO_METHODS.filter((m) => SEED_ROW_OF[m.method]),
    models: [
      model('normal', [0.9, 0.8, 0.4, 0.1, null, -0.1]),
      model('int2', [0.99, 0.97, 0.95, 0.9, 0.6, 0.3]),
    ],
    missing: [],
    data: { spec: 'mnist:test', source: 'x', examples: 4 },
    attack: { ...AAI200 },
    command: 'advlens zoo table --table 3',
    versions: { advlens: '0.1.0' },
  });
  assert.equal(t.rows.length, 10);
  const md = zooTable3Markdown(t);
  assert.match(
    md,
    /\| Normal \| 0\.900 \(0\.907\) \| 0\.800 \(0\.797\) \| 0\.400 \(0\.366\) \| 0\.100 \(-0\.085\) \| - \(-0\.085\) \| -0\.100 \(-0\.085\) \|/,
  );
  assert.match(md, /\| Int2 \| 0\.990 \[3\] \|/);
  assert.match(md, /\| Adv \(PGD L-inf\) \(seed only: not in the zoo\) \| - \(0\.978\) \|/);
  assert.match(md, /not measured: Int at eps 0\.05; .*; Int, Normal at eps 0\.35/);
  assert.match(
    md,
    /normal: models\/mnist-normal\/advlens\.json; nothing measured, read eps 0\.05, 0\.1, 0\.2, 0\.3, 0\.4 from the card; not measured: eps 0\.35/,
  );
  const html = zooTable3Html(t);
  assert.equal((html.match(/<svg /g) ?? []).length, 2, 'ours and the paper');
  assert.match(html, /<td>0\.990 \(0\.982\)<\/td>/);
  // Our chart has two lines with points (Normal with 5, Int2 with 6), the other eight rows in the
  // legend only (the same colours as in the paper's); the paper's has ten lines.
  const [ours, paper] = html.split('<svg ').slice(1);
  assert.equal((ours.match(/<polyline[^>]*points="\d/g) ?? []).length, 2);
  assert.equal((ours.match(/ \(-\)</g) ?? []).length, 8);
  assert.equal((ours.match(/<circle/g) ?? []).length, 11);
  assert.equal((paper.match(/<polyline/g) ?? []).length, 10);
  // Ten lines, eight colours: the ninth and tenth (Int2, Int2-Adv) are dashed.
  assert.equal((paper.match(/<polyline[^>]*stroke-dasharray/g) ?? []).length, 2);
});

test("a card's AAI record is not taken for a clean evaluation in the zoo listing", () => {
  const rec = addAaiCell(null, base, cell(0.3, 0.5), run(0.3));
  const card = {
    format: 'advlens-card/1',
    name: 'm',
    architecture: 'gap-cnn',
    training: { recipe: { method: 'normal' } },
    metrics: { 'aai200:mnist:test': rec },
  } as unknown as ModelCard;
  const where = { folder: 'mnist-normal', dir: 'd', cardPath: 'd/advlens.json' };
  const e = zooEntry(ZOO_METHODS[0], where, card) as ZooEntry;
  assert.equal(e.clean, null);
  const withEval = {
    ...card,
    metrics: {
      ...card.metrics,
      'mnist:test': {
        data: 'mnist:test',
        source: 's',
        examples: 10000,
        accuracy: 0.98,
        measuredAt: run(0.1).measuredAt,
      },
    },
  } as ModelCard;
  assert.equal((zooEntry(ZOO_METHODS[0], where, withEval) as ZooEntry).clean?.accuracy, 0.98);
});
