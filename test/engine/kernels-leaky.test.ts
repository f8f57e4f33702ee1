/**
 * Leaky ReLU on wasm (engine/leakyRelu.ts): the forward kernel bit for bit the stock kernel's result
 * and within float32 rounding of cpu's (which multiplies by alpha in float64), the fused gradient bit
 * for bit cpu's where(greater(x, 0), dy, mul(dy, alpha)) with NaN, infinities and signed zeros, its
 * second order against the formula, through tf.grad as models use it, and no leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { setWinogradEnabled, winogradCalls } from '../../src/engine/kernels/winograd.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);

const rng = createRng(99);
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, -3e38];
const n = 3 * 7 * 5 * 6 + 3; // odd: the SIMD loop's tail
const xv = Float32Array.from({ length: n }, (_, i) => (i < 64 ? SPECIAL[i % 8] : rng.next() * 2 - 1));
const dv = Float32Array.from({ length: n }, (_, i) =>
  i < 64 ? SPECIAL[Math.floor(i / 8)] : rng.next() * 2 - 1,
);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer.slice(0)));

async function on(backend: string, f: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const x = tf.tensor1d(xv);
  const dy = tf.tensor1d(dv);
  const before = tf.memory().numTensors;
  const out = f(x, dy);
  const r = Float32Array.from(out.dataSync() as Float32Array);
  out.dispose();
  assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
  tf.dispose([x, dy]);
  await tf.setBackend('wasm');
  return r;
}

test('LeakyRelu equals the stock kernel bit for bit and cpu to float32 rounding (NaN stays NaN)', async () => {
  for (const alpha of [0.1, 0.2, 0, 1.5]) {
    const f = (x: tf.Tensor) => tf.leakyRelu(x, alpha);
    const c0 = winogradCalls();
    const ours = await on('wasm', f);
    assert.equal(winogradCalls() - c0, 1, 'the module ran');
    setWinogradEnabled(false);
    const stock = await on('wasm', f).finally(() => setWinogradEnabled(true));
    const cpu = await on('cpu', f);
    assert.deepEqual(bits(ours), bits(stock), `alpha ${alpha}: vs stock, bit for bit`);
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(cpu[i])) assert.ok(Number.isNaN(ours[i]), `[${i}] NaN`);
      else if (ours[i] === cpu[i]) continue;
      else
        assert.ok(
          Math.abs(ours[i] - cpu[i]) <= 2 ** -22 * Math.abs(cpu[i]),
          `alpha ${alpha} [${i}]: ${ours[i]} vs ${cpu[i]}`,
        );
    }
  }
});

test("LeakyRelu's gradient (one fused kernel) equals cpu's where(greater(x, 0), dy, dy * alpha) bit for bit", async () => {
  for (const alpha of [0.1, 0.3]) {
    const g = (x: tf.Tensor, dy: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.leakyRelu(v, alpha))(x, dy);
    const c0 = winogradCalls();
    const ours = await on('wasm', g);
    assert.ok(winogradCalls() - c0 >= 1, 'the module ran');
    setWinogradEnabled(false);
    const fallback = await on('wasm', g).finally(() => setWinogradEnabled(true));
    const cpu = await on('cpu', g);
    assert.deepEqual(bits(ours), bits(cpu), `alpha ${alpha}: vs cpu, bit for bit`);
    assert.deepEqual(bits(fallback), bits(cpu), `alpha ${alpha}: JavaScript fallback vs cpu`);
  }
});

test("LeakyRelu's gradient has a gradient: d/d dy of sum(w * grad) = w * (x > 0 ? 1 : alpha)", async () => {
  const alpha = 0.1;
  const w = Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
  const second = (x: tf.Tensor, dy: tf.Tensor) =>
    tf.grad((u: tf.Tensor) =>
      tf.sum(tf.mul(tf.grad((v: tf.Tensor) => tf.leakyRelu(v, alpha))(x, u), tf.tensor1d(w))),
    )(dy);
  const ours = await on('wasm', second);
  const a = Math.fround(alpha);
  for (let i = 0; i < n; i++) {
    const want = xv[i] > 0 ? w[i] : Math.fround(w[i] * a);
    assert.equal(ours[i], want, `[${i}] x ${xv[i]}`);
  }
});
