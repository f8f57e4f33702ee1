/**
 * engine/unneededGrads.ts: inside a fused convolution's gradient (a customGrad, which computes every
 * derivative at once) the project's Conv2DBackpropFilter / Conv2DBackpropInput skip the derivative
 * of an input off the backprop path. Checked against the cpu backend (which computes everything):
 * input gradients, filter gradients, both at once, and a second-order gradient, for 3x3 and 1x1,
 * stride 1 and 2, with and without bias; the skip counter says which derivatives were skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { createRng } from '../../src/engine/rng.ts';
import { skippedGradients } from '../../src/engine/unneededGrads.ts';

await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);

const rng = createRng(777);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);

interface Case {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  bias: boolean;
}
const CASES: Case[] = [
  { x: [2, 9, 7, 8], k: 3, co: 16, stride: 1, bias: false },
  { x: [3, 8, 8, 5], k: 3, co: 6, stride: 2, bias: true },
  { x: [2, 6, 5, 16], k: 1, co: 8, stride: 1, bias: false },
  { x: [1, 7, 7, 4], k: 1, co: 12, stride: 2, bias: true },
];

/** Two fused linear convs (the second 3x3) and a nonlinear scalar loss, as layers models build them. */
function net(x: tf.Tensor4D, w1: tf.Tensor4D, b1: tf.Tensor1D | undefined, w2: tf.Tensor4D): tf.Scalar {
  const h = tf.fused.conv2d({ x, filter: w1, bias: b1, strides: 1, pad: 'same', activation: 'linear' });
  const a = tf.sin(h); // smooth: leaky ReLU has no second derivative in tfjs
  const o = tf.fused.conv2d({
    x: a as tf.Tensor4D,
    filter: w2,
    strides: 1,
    pad: 'same',
    activation: 'linear',
  });
  return tf.sum(tf.mul(tf.tanh(o), tf.sin(o)));
}

function tensors(c: Case) {
  const [, , , ci] = c.x;
  return {
    x: tf.tensor4d(rand(c.x.reduce((a, b) => a * b)), c.x),
    w1: tf.tensor4d(rand(c.k * c.k * ci * c.co), [c.k, c.k, ci, c.co]),
    b1: c.bias ? tf.tensor1d(rand(c.co)) : undefined,
    w2: tf.tensor4d(rand(9 * c.co * 4), [3, 3, c.co, 4]),
  };
}

/** Runs `f` on the backend with copies of the values; returns the outputs' values. */
async function on(
  backend: string,
  vals: ReturnType<typeof tensors>,
  f: (t: ReturnType<typeof tensors>) => tf.Tensor[],
) {
  await tf.setBackend(backend);
  const t = {
    x: tf.tensor4d(vals.x.dataSync(), vals.x.shape),
    w1: tf.tensor4d(vals.w1.dataSync(), vals.w1.shape),
    b1: vals.b1 ? tf.tensor1d(vals.b1.dataSync()) : undefined,
    w2: tf.tensor4d(vals.w2.dataSync(), vals.w2.shape),
  };
  const before = tf.memory().numTensors;
  const out = f(t);
  const values = out.map((o) => Float32Array.from(o.dataSync()));
  tf.dispose(out);
  assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  tf.dispose([t.x, t.w1, t.w2, ...(t.b1 ? [t.b1] : [])]);
  return values;
}

function close(a: Float32Array, b: Float32Array, label: string) {
  assert.equal(a.length, b.length, label);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Number.isNaN(a[i] - b[i]) ? Infinity : Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  assert.ok(m > 0, `${label}: reference is all zeros`);
  assert.ok(d / m < 1e-4, `${label}: max |wasm - cpu| / max |cpu| = ${d / m}`);
}

test('input gradient through fused linear convs: equal to cpu, the filter gradients skipped', async () => {
  for (const c of CASES) {
    const v = tensors(c);
    const label = JSON.stringify(c);
    // Strided: the first conv carries the stride.
    const f = (t: ReturnType<typeof tensors>, x: tf.Tensor4D) =>
      net(
        c.stride === 1
          ? x
          : tf.fused.conv2d({
              x,
              filter: tf.fill([1, 1, c.x[3], c.x[3]], 0.5) as tf.Tensor4D,
              strides: c.stride,
              pad: 'same',
            }),
        t.w1,
        t.b1,
        t.w2,
      );
    const s0 = skippedGradients();
    const [gw] = await on('wasm', v, (t) => [tf.grad((x: tf.Tensor) => f(t, x as tf.Tensor4D))(t.x)]);
    const skipped = skippedGradients() - s0;
    const [gc] = await on('cpu', v, (t) => [tf.grad((x: tf.Tensor) => f(t, x as tf.Tensor4D))(t.x)]);
    close(gw, gc, `${label} dx`);
    // One filter gradient skipped per fused conv (2, plus the strided one).
    assert.equal(skipped, c.stride === 1 ? 2 : 3, label);
    tf.dispose(Object.values(v).filter((t) => t !== undefined) as tf.Tensor[]);
  }
});

test('filter gradients (training): equal to cpu, the first layer input gradient skipped; both at once: nothing skipped', async () => {
  for (const c of CASES) {
    const v = tensors(c);
    const label = JSON.stringify(c);
    const s0 = skippedGradients();
    const w = await on('wasm', v, (t) =>
      tf.grads((w1: tf.Tensor, w2: tf.Tensor) => net(t.x, w1 as tf.Tensor4D, t.b1, w2 as tf.Tensor4D))([
        t.w1,
        t.w2,
      ]),
    );
    assert.equal(skippedGradients() - s0, 1, `${label}: the first conv's dx`);
    const cpu = await on('cpu', v, (t) =>
      tf.grads((w1: tf.Tensor, w2: tf.Tensor) => net(t.x, w1 as tf.Tensor4D, t.b1, w2 as tf.Tensor4D))([
        t.w1,
        t.w2,
      ]),
    );
    close(w[0], cpu[0], `${label} dw1`);
    close(w[1], cpu[1], `${label} dw2`);
    const s1 = skippedGradients();
    const both = (t: ReturnType<typeof tensors>) =>
      tf.grads((x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor) =>
        net(x as tf.Tensor4D, w1 as tf.Tensor4D, t.b1, w2 as tf.Tensor4D),
      )([t.x, t.w1, t.w2]);
    const bw = await on('wasm', v, both);
    assert.equal(skippedGradients() - s1, 0, `${label}: everything wanted`);
    const bc = await on('cpu', v, both);
    for (let i = 0; i < 3; i++) close(bw[i], bc[i], `${label} both ${i}`);
    tf.dispose(Object.values(v).filter((t) => t !== undefined) as tf.Tensor[]);
  }
});

test('second order (gradient of an input-gradient norm with respect to the filters): equal to cpu', async () => {
  const c = CASES[0];
  const v = tensors(c);
  const f = (t: ReturnType<typeof tensors>) =>
    tf.grads((w1: tf.Tensor, w2: tf.Tensor) => {
      const g = tf.grad((x: tf.Tensor) => net(x as tf.Tensor4D, w1 as tf.Tensor4D, t.b1, w2 as tf.Tensor4D))(
        t.x,
      );
      return tf.sum(tf.square(g)) as tf.Scalar;
    })([t.w1, t.w2]);
  const w = await on('wasm', v, f);
  const cpu = await on('cpu', v, f);
  close(w[0], cpu[0], 'd|dx|^2/dw1');
  close(w[1], cpu[1], 'd|dx|^2/dw2');
  tf.dispose(Object.values(v).filter((t) => t !== undefined) as tf.Tensor[]);
});

test("an input on the path with the filter's shape: nothing skipped, the input gradient right", async () => {
  // x [3, 3, 4, 4] and the filter [3, 3, 4, 4]: a derivative of that shape could be either one's.
  const x = tf.tensor4d(rand(144), [3, 3, 4, 4]);
  const w = tf.tensor4d(rand(144), [3, 3, 4, 4]);
  const f = (a: tf.Tensor4D, b: tf.Tensor4D) => () => {
    const g = tf.grad((v: tf.Tensor) =>
      tf.sum(
        tf.sin(
          tf.fused.conv2d({ x: v as tf.Tensor4D, filter: b, strides: 1, pad: 'same', activation: 'linear' }),
        ),
      ),
    )(a);
    return [g];
  };
  const vals = { x, w1: w, b1: undefined, w2: w };
  const s0 = skippedGradients();
  const [gw] = await on('wasm', vals, (t) => f(t.x, t.w1)());
  assert.equal(skippedGradients() - s0, 0);
  const [gc] = await on('cpu', vals, (t) => f(t.x, t.w1)());
  close(gw, gc, 'dx');
  tf.dispose([x, w]);
});
