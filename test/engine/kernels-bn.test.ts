/**
 * The wasm kernels of batch normalisation's paths against the cpu backend: `Multiply`, `Sub`,
 * `RealDiv` and `Add` of a tensor and a vector along its last axis (bit for bit: one float32 operation
 * per element either way), `FusedBatchNorm` (cpu computes in float64: a few float32 ulps apart),
 * `Mean` over leading axes (against a float64 mean), the hand-off of other cases to the stock kernels
 * (and the stock path without the module), gradients through training-mode batch norm, and leaks.
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

const rng = createRng(4242);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -3e38];
/** Random values in [-1, 1], the first few special (NaN, infinities, zeros, tiny, huge) when `special`. */
const values = (n: number, special = true) =>
  Float32Array.from({ length: n }, (_, i) =>
    special && i < SPECIAL.length ? SPECIAL[i] : rng.next() * 2 - 1,
  );

type Arr = { values: Float32Array | Int32Array; shape: number[] };

async function run(backend: string, name: string, inputs: Record<string, Arr | null>, attrs: object) {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs))
    if (v) ts[k] = tf.tensor(v.values, v.shape, v.values instanceof Int32Array ? 'int32' : 'float32');
  const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const r = { shape: out.shape, values: Float32Array.from(out.dataSync()) };
  tf.dispose([out, ...Object.values(ts)]);
  await tf.setBackend('wasm');
  return r;
}

/** `f` with the module on, then off: both results and the module calls each made. */
async function bothPaths<T>(f: () => Promise<T>): Promise<[T, T, number, number]> {
  const c0 = winogradCalls();
  const on = await f();
  const c1 = winogradCalls();
  setWinogradEnabled(false);
  try {
    const off = await f();
    return [on, off, c1 - c0, winogradCalls() - c1];
  } finally {
    setWinogradEnabled(true);
  }
}

/** Equal, NaN where NaN, or within `tol` * (1 + |ref|) elementwise. */
function near(a: Float32Array, b: Float32Array, tol: number, label: string) {
  assert.equal(a.length, b.length, label);
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    if (a[i] === b[i]) continue; // 0 and -0
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${label}: [${i}] ${a[i]} vs ${b[i]}`);
  }
}

test('Multiply, Sub, RealDiv, Add of a tensor and a last-axis vector equal cpu bit for bit, either order; other cases go to stock', async () => {
  const cases: [number[], number[], boolean][] = [
    [[2, 5, 3, 32], [32], true],
    [[2, 5, 3, 16], [1, 1, 1, 16], true], // batch norm's keepDims statistics
    [[1, 1, 1, 16], [2, 5, 3, 16], true], // the vector first
    [[3, 5, 7], [7], true], // 7: not a multiple of four
    [[6, 1], [1], true],
    [[2, 3, 4], [1, 4], true],
    [[2, 3], [2, 3], false], // equal shapes: stock
    [[2, 3, 4], [3, 1], false], // not the last axis
    [[2, 3, 4], [1, 1, 1, 4], false], // the vector's rank above x's
    [[2, 3], [1], false], // a scalar-like vector on a last axis of 3
    [[2, 0, 4], [4], true], // empty: no module call, an empty output
  ];
  for (const name of ['Multiply', 'Sub', 'RealDiv', 'Add']) {
    for (const [sa, sb, ours] of cases) {
      const a = { values: values(size(sa)), shape: sa };
      // Divisors include zeros and NaN too: x / 0 and 0 / 0 must match.
      const b = { values: values(size(sb)), shape: sb };
      const [on, off, calls, offCalls] = await bothPaths(() => run('wasm', name, { a, b }, {}));
      const cpu = await run('cpu', name, { a, b }, {});
      const label = `${name} [${sa}] [${sb}]`;
      assert.equal(calls, ours && size(sa) > 0 && size(sb) > 0 ? 1 : 0, `${label}: module calls`);
      assert.equal(offCalls, 0, label);
      assert.deepEqual(on.shape, cpu.shape, label);
      assert.deepEqual(Array.from(on.values), Array.from(cpu.values), `${label}: vs cpu, bit for bit`);
      assert.deepEqual(Array.from(off.values), Array.from(cpu.values), `${label}: stock vs cpu`);
    }
  }
  const ai = { values: Int32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
  const bi = { values: Int32Array.from([10, 20, 30]), shape: [3] };
  const [on, , calls] = await bothPaths(() => run('wasm', 'Multiply', { a: ai, b: bi }, {}));
  assert.equal(calls, 0, 'int32 goes to stock');
  assert.deepEqual(Array.from(on.values), [10, 40, 90, 40, 100, 180]);
});

test('FusedBatchNorm equals cpu to float32 rounding: NaN, zero variance, absent or one-value offset and scale; stock otherwise', async () => {
  const cases: {
    x: number[];
    stat: number[];
    offset: number[] | null;
    scale: number[] | null;
    ours: boolean;
  }[] = [
    { x: [2, 5, 3, 16], stat: [16], offset: [16], scale: [16], ours: true },
    { x: [3, 4, 7], stat: [7], offset: null, scale: null, ours: true }, // odd channels, no offset/scale
    { x: [4, 6], stat: [1], offset: [1], scale: [1], ours: true }, // one value for every channel
    { x: [2, 3, 3, 5], stat: [5], offset: null, scale: [5], ours: true },
    { x: [2, 3, 4, 8], stat: [1, 1, 1, 8], offset: [1, 1, 1, 8], scale: [1, 1, 1, 8], ours: true },
    { x: [2, 3, 4, 6], stat: [4, 6], offset: [4, 6], scale: [4, 6], ours: false }, // not per channel: stock
  ];
  for (const c of cases) {
    const k = c.stat.reduce((a, b) => a * b, 1);
    const x = { values: values(size(c.x)), shape: c.x };
    const mean = { values: values(k, false), shape: c.stat };
    // Variances >= 0, one of them 0 (epsilon alone), one NaN when there are several.
    const v = Float32Array.from({ length: k }, () => rng.next() * 3);
    v[0] = 0;
    if (k > 2) v[2] = NaN;
    const variance = { values: v, shape: c.stat };
    const offset = c.offset ? { values: values(size(c.offset), false), shape: c.offset } : null;
    const scale = c.scale ? { values: values(size(c.scale), false), shape: c.scale } : null;
    const inputs = { x, mean, variance, offset, scale };
    const attrs = { varianceEpsilon: 1e-3 };
    const [on, off, calls] = await bothPaths(() => run('wasm', 'FusedBatchNorm', inputs, attrs));
    const cpu = await run('cpu', 'FusedBatchNorm', inputs, attrs);
    const label = JSON.stringify(c);
    assert.equal(calls, c.ours ? 1 : 0, `${label}: module calls`);
    assert.deepEqual(on.shape, cpu.shape, label);
    near(on.values, cpu.values, 1e-6, `${label}: vs cpu`);
    near(off.values, cpu.values, 1e-6, `${label}: stock vs cpu`);
  }
});

test('Mean over leading axes equals a float64 mean (keepDims, negative axes); other axes and int32 go to stock', async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[128, 4, 4, 16], [0, 1, 2], false, true],
    [[3, 5, 7, 6], [0, 1, 2], true, true],
    [[3, 5, 7], [-3], false, true], // a negative axis
    [[9, 5], [0], true, true],
    [[3, 5, 7], [1, 2], false, false], // global average pooling's axes: stock
    [[3, 5, 7], [0, 1, 2], false, false], // every axis: stock
  ];
  for (const [shape, axis, keepDims, ours] of cases) {
    const x = { values: values(size(shape), false).map((v) => v + 3), shape };
    const [on, off, calls] = await bothPaths(() => run('wasm', 'Mean', { x }, { axis, keepDims }));
    const cpu = await run('cpu', 'Mean', { x }, { axis, keepDims });
    const label = `[${shape}] over [${axis}]`;
    assert.equal(calls, ours ? 1 : 0, `${label}: module calls`);
    assert.deepEqual(on.shape, cpu.shape, label);
    near(on.values, cpu.values, 1e-6, `${label}: vs cpu`);
    near(off.values, cpu.values, 1e-5, `${label}: stock vs cpu`);
    if (ours) {
      const inner = on.values.length;
      const outer = size(shape) / inner;
      const exact = Float32Array.from({ length: inner }, (_, j) => {
        let s = 0;
        for (let i = 0; i < outer; i++) s += x.values[i * inner + j];
        return s / outer;
      });
      near(on.values, exact, 2e-7, `${label}: vs float64`);
    }
  }
  const xi = { values: Int32Array.from([1, 2, 3, 4, 5, 7]), shape: [2, 3] };
  const [on, , calls] = await bothPaths(() => run('wasm', 'Mean', { x: xi }, { axis: [0], keepDims: false }));
  assert.equal(calls, 0, 'int32: stock');
  assert.deepEqual(Array.from(on.values), [2.5, 3.5, 5]);
});

test('gradients through training-mode batch norm (moments of the batch, scale, offset) equal cpu', async () => {
  const shape = [4, 5, 3, 12];
  const xv = values(size(shape), false);
  const gv = values(12, false);
  const bv = values(12, false);
  const wv = values(size(shape), false);
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(xv, shape as [number, number, number, number]);
    const gamma = tf.tensor1d(gv);
    const beta = tf.tensor1d(bv);
    const w = tf.tensor4d(wv, shape as [number, number, number, number]);
    const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      const y = tf.batchNorm(
        xx as tf.Tensor4D,
        mean as tf.Tensor4D,
        variance as tf.Tensor4D,
        b as tf.Tensor1D,
        g as tf.Tensor1D,
        1e-3,
      );
      return tf.sum(tf.mul(tf.tanh(y), w)) as tf.Scalar;
    };
    const out = tf
      .grads(f)([x, gamma, beta])
      .map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([x, gamma, beta, w]);
    return out;
  };
  const w = await grads('wasm');
  const c = await grads('cpu');
  await tf.setBackend('wasm');
  for (let i = 0; i < 3; i++) {
    let d = 0;
    let m = 0;
    for (let j = 0; j < c[i].length; j++) {
      d = Math.max(d, Math.abs(w[i][j] - c[i][j]));
      m = Math.max(m, Math.abs(c[i][j]));
    }
    assert.ok(m > 0 && d / m < 1e-4, `gradient ${i}: relative difference ${d / m}`);
  }
});

test('the batch-norm kernels leave no tensors or backend buffers behind', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend();
  const x = tf.randomUniform([2, 9, 7, 8], -1, 1, 'float32', 1);
  const v = tf.randomUniform([8], 0.5, 1, 'float32', 2);
  const v4 = tf.reshape(v, [1, 1, 1, 8]);
  const calls: [string, tf.NamedTensorMap, object][] = [
    ['Multiply', { a: x, b: v }, {}],
    ['Multiply', { a: v4, b: x }, {}],
    ['Sub', { a: x, b: v4 }, {}],
    ['RealDiv', { a: v, b: x }, {}],
    ['Multiply', { a: x, b: x }, {}], // stock
    ['FusedBatchNorm', { x, mean: v, variance: v, offset: v, scale: v }, { varianceEpsilon: 1e-3 }],
    ['FusedBatchNorm', { x, mean: v, variance: v }, { varianceEpsilon: 1e-3 }],
    ['Mean', { x }, { axis: [0, 1, 2], keepDims: true }],
    ['Mean', { x }, { axis: [1, 2], keepDims: false }], // stock
  ];
  for (const [name, inputs, attrs] of calls) {
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
    out.dataSync();
    out.dispose();
    assert.equal(tf.memory().numTensors, tensors, `${name} leaves no tensors`);
    assert.equal(backend.numDataIds(), buffers, `${name} leaves no backend buffers`);
  }
  tf.dispose([x, v, v4]);
});

test("Mean's gradient (no ones tensor): dx = dy / n, broadcast over the reduced axes, bit for bit, on wasm and cpu", async () => {
  const cases: [number[], number[] | undefined, boolean][] = [
    [[4, 3, 2, 5], [0, 1, 2], false],
    [[4, 3, 2, 5], [0, 1, 2], true],
    [[3, 7], [-1], false],
    [[2, 3, 4], undefined, false], // every axis
    [[2, 3, 4], [1], true],
  ];
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    for (const [shape, axis, keepDims] of cases) {
      const x = tf.tensor(values(size(shape), false), shape);
      const outShape = tf.mean(x, axis, keepDims).shape;
      const dyv = values(size(outShape), false);
      const dy = tf.tensor(dyv, outShape);
      const before = tf.memory().numTensors;
      const g = tf.grad((v: tf.Tensor) => tf.mean(v, axis, keepDims))(x, dy);
      const got = g.dataSync();
      g.dispose();
      assert.equal(tf.memory().numTensors, before, 'leaked tensors');
      const axes =
        axis === undefined ? shape.map((_, i) => i) : axis.map((a) => (a + shape.length) % shape.length);
      const n = axes.reduce((p, a) => p * shape[a], 1);
      // The reduced index of each element: its coordinates with the reduced axes dropped (or set to 0).
      const strides = shape.map((_, i) => size(shape.slice(i + 1)));
      const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const kStrides = kept.map((_, i) => size(kept.slice(i + 1)));
      for (let e = 0; e < got.length; e++) {
        let r = 0;
        for (let i = 0; i < shape.length; i++) {
          const c = Math.floor(e / strides[i]) % shape[i];
          if (!axes.includes(i)) r += c * kStrides[i];
        }
        assert.equal(got[e], Math.fround(dyv[r] / n), `${backend} [${shape}] axis ${axis}: [${e}]`);
      }
      tf.dispose([x, dy]);
    }
  }
  await tf.setBackend('wasm');
});
