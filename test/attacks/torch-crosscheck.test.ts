/**
 * Cross-check of the project's FGSM and PGD against an independent PyTorch float64 reference
 * (test/fixtures/torch-attacks.json, made by bench/torch-crosscheck.py; see bench/README.md).
 * Same model, same images, same options: the clean logits, the perturbations xAdv - x and the
 * adversarial logits must agree within the fixture's tolerance (1e-4, max abs difference).
 *
 * float32 vs float64: sign(g) is not settled in float32 for gradient components within float32
 * error of 0, and a sign flipped at one PGD step moves every later step. The reference bounds that
 * error per component and lists, per FGSM attack, the components below their bound (`excluded`,
 * left out here and required to be few); it picks images whose first gradient has no such component
 * and whose attacks rerun in float32 torch land within 1e-5 of float64 (see the script's header).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { attack, type AttackOptions } from '../../src/attacks/index.ts';

interface FixtureAttack {
  name: string;
  attack: string;
  options: AttackOptions;
  delta: number[][];
  logits: number[][];
  success: boolean[];
  excluded: [number, number][];
}
interface Fixture {
  torch: string;
  model: string;
  data: string;
  tolerance: number;
  images: { indices: number[]; labels: number[]; pixels: number[][] };
  clean: { logits: number[][] };
  attacks: FixtureAttack[];
}

// ADVLENS_TORCH_FIXTURE points the test at another fixture (e.g. one written with --all, for diagnosis).
const FIXTURE =
  process.env.ADVLENS_TORCH_FIXTURE ?? new URL('../fixtures/torch-attacks.json', import.meta.url);
const fixture: Fixture | null = fs.existsSync(FIXTURE)
  ? (JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Fixture)
  : null;
const skip = fixture
  ? false
  : 'test/fixtures/torch-attacks.json is missing; regenerate it as bench/README.md describes';
/** At most this many FGSM components may be left out as float32-ambiguous, per attack. */
const MAX_EXCLUDED = Number(process.env.ADVLENS_TORCH_MAX_EXCLUDED ?? 8);

/** max |a - b| over the entries where `keep` holds. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, keep?: (i: number) => boolean): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) if (!keep || keep(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('the project agrees with the PyTorch reference on FGSM and PGD', { skip }, async (t) => {
  const fx = fixture!;
  const tol = fx.tolerance;
  await initNodeBackend('wasm');
  const model = await loadClassifier(fx.model);
  const data = await loadDataset(fx.data);
  const idx = fx.images.indices;
  const per = data.shape[0] * data.shape[1] * data.shape[2];
  const k = model.labels.length;

  await t.test(`the fixture's images are ${fx.data} as the project loads them`, () => {
    idx.forEach((j, i) => {
      assert.equal(data.labels[j], fx.images.labels[i], `label of image ${j}`);
      assert.deepEqual(
        Array.from(data.pixels.subarray(j * per, (j + 1) * per)),
        fx.images.pixels[i],
        `pixels of image ${j}`,
      );
    });
  });

  const batch = getBatch(data, idx);
  const x = batch.x.dataSync();
  const flat = (rows: number[][]) => rows.flat();

  await t.test('clean logits', () => {
    const z = tf.tidy(() => model.logits(batch.x).dataSync());
    const d = maxDiff(z, flat(fx.clean.logits));
    t.diagnostic(`clean logits: max |diff| ${d.toExponential(2)}`);
    assert.ok(d < tol, `clean logits differ by ${d}`);
  });

  for (const a of fx.attacks) {
    await t.test(a.name, () => {
      const r = attack(a.attack)(model, batch, a.options);
      const xa = r.xAdv.dataSync();
      const z = r.logits.dataSync();
      tf.dispose([r.xAdv, r.logits]);
      assert.ok(a.excluded.length <= MAX_EXCLUDED, `${a.excluded.length} components excluded as ambiguous`);
      const excluded = new Set(a.excluded.map(([i, j]) => i * per + j));
      // xAdv - x in double from the float32 values, against the reference's perturbation
      const delta = Float64Array.from(xa, (v, i) => v - x[i]);
      const ref = flat(a.delta);
      const dDelta = maxDiff(delta, ref, (i) => !excluded.has(i));
      // an excluded component that did flip moves that image's logits: those are not compared
      const moved = new Set(
        [...excluded].filter((i) => Math.abs(delta[i] - ref[i]) >= tol).map((i) => Math.floor(i / per)),
      );
      const dLogits = maxDiff(z, flat(a.logits), (i) => !moved.has(Math.floor(i / k)));
      t.diagnostic(
        `${a.name}: perturbation max |diff| ${dDelta.toExponential(2)}, adversarial logits ${dLogits.toExponential(2)}; ${excluded.size} components excluded, ${moved.size} images with a flipped one`,
      );
      assert.ok(dDelta < tol, `perturbations differ by ${dDelta}`);
      assert.ok(dLogits < tol, `adversarial logits differ by ${dLogits}`);
      r.success.forEach(
        (v, i) => moved.has(i) || assert.equal(v, a.success[i], `success of image ${idx[i]}`),
      );
    });
  }
  tf.dispose([batch.x, batch.y]);
});
