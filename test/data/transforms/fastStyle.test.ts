import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../../src/node/backend.ts';
import {
  convLayer,
  convTransposeLayer,
  fastStyleNet,
  INSTANCE_NORM_EPSILON,
} from '../../../src/data/transforms/fastStyle.ts';
import { loadFastStyleVariables } from '../../../src/node/styleModels.ts';
import { UserError } from '../../../src/errors.ts';

await initNodeBackend('wasm');

const SHARED = path.resolve(import.meta.dirname, '../../../../shared/models/style-transfer');

/** Deterministic pseudo-random values in [-1, 1). */
const values = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => (((i + 1) * 2654435761 * (seed + 3)) % 1000) / 500 - 1);

/** Instance norm + optional ReLU of out [H][W][C] (per channel over positions), by loops. */
function instanceNormLoops(out: number[][][], shift: number[], scale: number[], relu: boolean): number[] {
  const [h, w, c] = [out.length, out[0].length, out[0][0].length];
  const res: number[] = new Array(h * w * c);
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) mean += out[r][q][ch];
    mean /= h * w;
    let variance = 0;
    for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) variance += (out[r][q][ch] - mean) ** 2;
    variance /= h * w;
    for (let r = 0; r < h; r++)
      for (let q = 0; q < w; q++) {
        const v =
          ((out[r][q][ch] - mean) / Math.sqrt(variance + INSTANCE_NORM_EPSILON)) * scale[ch] + shift[ch];
        res[(r * w + q) * c + ch] = relu ? Math.max(0, v) : v;
      }
  }
  return res;
}

test('convLayer (3x3 stride 2 SAME conv, instance norm, ReLU) equals loops on a 5x5x2 image', () => {
  const [h, w, cin, cout, k, s] = [5, 5, 2, 3, 3, 2];
  const xv = values(h * w * cin, 1);
  const wv = values(k * k * cin * cout, 2);
  const shift = [0.1, -0.2, 0.3];
  const scale = [1.5, 0.5, -1];
  // SAME with stride 2 on 5: output 3, total padding (3-1)*2 + 3 - 5 = 2, 1 before.
  const oh = Math.ceil(h / s);
  const pad = Math.floor(Math.max((oh - 1) * s + k - h, 0) / 2);
  const conv: number[][][] = [];
  for (let r = 0; r < oh; r++) {
    conv.push([]);
    for (let q = 0; q < oh; q++) {
      conv[r].push([]);
      for (let o = 0; o < cout; o++) {
        let sum = 0;
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++) {
            const [yr, xq] = [r * s + i - pad, q * s + j - pad];
            if (yr < 0 || yr >= h || xq < 0 || xq >= w) continue;
            for (let ci = 0; ci < cin; ci++)
              sum += xv[(yr * w + xq) * cin + ci] * wv[((i * k + j) * cin + ci) * cout + o];
          }
        conv[r][q].push(sum);
      }
    }
  }
  for (const relu of [true, false]) {
    const want = instanceNormLoops(conv, shift, scale, relu);
    const got = tf.tidy(() =>
      Array.from(
        convLayer(
          tf.tensor4d(xv, [1, h, w, cin]),
          tf.tensor4d(wv, [k, k, cin, cout]),
          tf.tensor1d(shift),
          tf.tensor1d(scale),
          s,
          relu,
        ).dataSync(),
      ),
    );
    assert.equal(got.length, want.length);
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `relu=${relu} ${i}: ${v} vs ${want[i]}`));
  }
});

test('convTransposeLayer (3x3 stride 2 SAME, instance norm, ReLU) equals loops on a 3x3x2 image', () => {
  const [h, w, cin, cout, k, s] = [3, 3, 2, 2, 3, 2];
  const xv = values(h * w * cin, 4);
  const wv = values(k * k * cout * cin, 5); // [k, k, out, in]
  const shift = [0.2, -0.1];
  const scale = [0.7, 1.3];
  // The gradient of a SAME stride-2 conv from 6x6 to 3x3: padding (3-1)*2 + 3 - 6 = 1 in all, 0 before.
  const [oh, ow] = [h * s, w * s];
  const pad = Math.floor(Math.max((h - 1) * s + k - oh, 0) / 2);
  const out = Array.from({ length: oh }, () => Array.from({ length: ow }, () => new Array(cout).fill(0)));
  for (let r = 0; r < h; r++)
    for (let q = 0; q < w; q++)
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          const [yr, xq] = [r * s + i - pad, q * s + j - pad];
          if (yr < 0 || yr >= oh || xq < 0 || xq >= ow) continue;
          for (let o = 0; o < cout; o++)
            for (let ci = 0; ci < cin; ci++)
              out[yr][xq][o] += xv[(r * w + q) * cin + ci] * wv[((i * k + j) * cout + o) * cin + ci];
        }
  const want = instanceNormLoops(out, shift, scale, true);
  const got = tf.tidy(() =>
    Array.from(
      convTransposeLayer(
        tf.tensor4d(xv, [1, h, w, cin]),
        tf.tensor4d(wv, [k, k, cout, cin]),
        tf.tensor1d(shift),
        tf.tensor1d(scale),
        s,
      ).dataSync(),
    ),
  );
  assert.equal(got.length, oh * ow * cout);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `${i}: ${v} vs ${want[i]}`));
});

test('the real wave network loads, keeps the shape, stays in [0, 1], and leaks no tensors', (t) => {
  if (!fs.existsSync(path.join(SHARED, 'wave'))) return t.skip('../shared/models/style-transfer absent');
  const vars = loadFastStyleVariables(path.join(SHARED, 'wave'));
  const net = fastStyleNet(vars);
  const x = tf.tidy(
    () => tf.div(tf.add(tf.tensor4d(values(2 * 16 * 16 * 3, 6), [2, 16, 16, 3]), 1), 2) as tf.Tensor4D,
  );
  const before = tf.memory().numTensors;
  const y = net(x);
  assert.deepEqual(y.shape, [2, 16, 16, 3]);
  const v = y.dataSync();
  assert.ok(v.every((a) => a >= 0 && a <= 1));
  // Not the identity: the wave style changes the picture.
  const xv = Array.from(x.dataSync());
  const d = xv.reduce((s, a, i) => s + Math.abs(a - v[i]), 0) / v.length;
  assert.ok(d > 0.05, `mean change ${d}`);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, ...Object.values(vars)]);
});

test('a truncated variable file or a wrong shape is a one-line user error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-style-'));
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ Variable: { filename: 'Variable', shape: [9, 9, 3, 32] } }),
  );
  fs.writeFileSync(path.join(dir, 'Variable'), new Uint8Array(100));
  assert.throws(
    () => loadFastStyleVariables(dir),
    (e: unknown) => e instanceof UserError && /needs 31104/.test(e.message),
  );
  fs.writeFileSync(path.join(dir, 'Variable'), new Uint8Array(31104));
  const before = tf.memory().numTensors;
  assert.throws(
    () => loadFastStyleVariables(dir),
    (e: unknown) => e instanceof UserError && /no variable Variable_1/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, before);
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ Variable: { filename: '../x', shape: [1] } }),
  );
  assert.throws(() => loadFastStyleVariables(dir), UserError);
  fs.rmSync(dir, { recursive: true });
});
