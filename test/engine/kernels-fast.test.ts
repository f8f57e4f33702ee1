/**
 * The wasm kernels that replace slow stock ones (MaxPoolGrad's 2x2 path, Sum over leading axes,
 * Identity and same-dtype Cast sharing buffers) against the cpu backend and direct loops, their
 * hand-off to the stock kernels, restoring the stock kernels, and leaks. Error measure, per output:
 * max |wasm - ref| / max(max |ref|, 1e-6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// Registers the gradients of the core ops (tfjs-core alone does not).
import '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { registerWasmKernels, restoreStockWasmKernels } from '../../src/engine/kernels/index.ts';
import { batchMatMul } from '../../src/engine/kernels/batchMatMul.ts';
import { cast, identity } from '../../src/engine/kernels/identity.ts';
import { add } from '../../src/engine/kernels/add.ts';
import { gatherV2 } from '../../src/engine/kernels/gather.ts';
import { maxPool } from '../../src/engine/kernels/maxPool.ts';
import { maxPoolGrad } from '../../src/engine/kernels/maxPoolGrad.ts';
import { RELU_GRAD } from '../../src/engine/reluGrad.ts';
import { sum } from '../../src/engine/kernels/sum.ts';
import { setWinogradEnabled, winogradCalls, winogradReady } from '../../src/engine/kernels/winograd.ts';
import { createRng } from '../../src/engine/rng.ts';
import { relErr } from './bnHelpers.ts';

await initNodeBackend('wasm');
// Makes the engine check that every kernel leaves exactly its outputs behind on the backend.
tf.env().set('IS_TEST', true);

const rng = createRng(11);
const randInt = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
const randArray = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

type Arr = { values: Float32Array | Int32Array; shape: number[] };

/** Runs kernel `name` on `backend` with fresh tensors holding `inputs`: [shape, values] of the output. */
async function run(
  backend: string,
  name: string,
  inputs: Record<string, Arr>,
  attrs: object,
): Promise<{ shape: number[]; dtype: string; values: Float32Array }> {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    ts[k] = tf.tensor(v.values, v.shape, v.values instanceof Int32Array ? 'int32' : 'float32');
  }
  const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const r = { shape: out.shape, dtype: out.dtype, values: Float32Array.from(out.dataSync()) };
  tf.dispose([out, ...Object.values(ts)]);
  await tf.setBackend('wasm');
  return r;
}

/** MaxPool gradient by definition: each window's dy goes to its first maximum (row-major). */
function directMaxPoolGrad(x: Arr, dy: Arr, k: number, s: number, top: number, left: number): Float32Array {
  const [n, h, w, c] = x.shape;
  const [, oh, ow] = dy.shape;
  const dx = new Float32Array(x.values.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let p = 0; p < k; p++)
            for (let q = 0; q < k; q++) {
              const r = i * s + p - top;
              const col = j * s + q - left;
              if (r < 0 || r >= h || col < 0 || col >= w) continue;
              const idx = ((b * h + r) * w + col) * c + ch;
              if (x.values[idx] > best) [best, at] = [x.values[idx], idx];
            }
          if (at >= 0) dx[at] += dy.values[((b * oh + i) * ow + j) * c + ch];
        }
  return dx;
}

/** MaxPool by definition (the max over each window's elements, -Infinity for none; NaN skipped). */
function directMaxPool(x: Arr, oh: number, ow: number, k: number, s: number, top: number, left: number): Arr {
  const [n, h, w, c] = x.shape;
  const y = new Float32Array(n * oh * ow * c).fill(-Infinity);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let ch = 0; ch < c; ch++)
          for (let p = 0; p < k; p++)
            for (let q = 0; q < k; q++) {
              const r = i * s + p - top;
              const col = j * s + q - left;
              if (r < 0 || r >= h || col < 0 || col >= w) continue;
              const v = x.values[((b * h + r) * w + col) * c + ch];
              const at = ((b * oh + i) * ow + j) * c + ch;
              if (v > y[at]) y[at] = v;
            }
  return { values: y, shape: [n, oh, ow, c] };
}

type PoolPad = 'same' | 'valid' | number;

/**
 * MaxPoolGrad on wasm against cpu and the direct loop, for `x` of `shape` (drawn by `draw`, or
 * `values`), with each possible `output` input on wasm: the forward result (as in a gradient),
 * another tensor of its shape (the result must not depend on it), and none (the kernel recomputes
 * it). Returns the direct loop's dx.
 */
async function checkMaxPoolGrad(
  shape: number[],
  k: number,
  s: number,
  pad: PoolPad,
  draw: () => number,
  values?: Float32Array,
): Promise<Float32Array> {
  const x = { values: values ?? Float32Array.from({ length: size(shape) }, draw), shape };
  const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], k, s, 1, pad);
  const { outHeight: oh, outWidth: ow, padInfo } = info;
  const dyShape = [shape[0], oh, ow, shape[3]];
  const dy = { values: randArray(size(dyShape)), shape: dyShape };
  const y = directMaxPool(x, oh, ow, k, s, padInfo.top, padInfo.left);
  const attrs = { filterSize: k, strides: s, pad };
  const c = await run('cpu', 'MaxPoolGrad', { dy, input: x, output: y }, attrs);
  const ref = directMaxPoolGrad(x, dy, k, s, padInfo.top, padInfo.left);
  const outputs: [string, Record<string, Arr>][] = [
    ['forward output', { output: y }],
    ['other output', { output: dy }],
    ['no output', {}],
  ];
  // The WebAssembly module's kernel, then the JavaScript one (before the module loads).
  assert.ok(winogradReady(), 'the module is loaded');
  for (const module of [true, false]) {
    setWinogradEnabled(module);
    try {
      for (const [which, output] of outputs) {
        const before = winogradCalls();
        const w = await run('wasm', 'MaxPoolGrad', { dy, input: x, ...output }, attrs);
        const label = `[${shape}] k${k} s${s} ${pad}, ${which}, ${module ? 'module' : 'JavaScript'}`;
        assert.equal(winogradCalls() - before, module ? 1 : 0, `${label}: the module ran`);
        assert.deepEqual(w.shape, shape, label);
        assert.ok(relErr(w.values, c.values) < 1e-6, `${label}: vs cpu ${relErr(w.values, c.values)}`);
        assert.deepEqual(Array.from(w.values), Array.from(ref), `${label}: vs direct, bit for bit`);
      }
    } finally {
      setWinogradEnabled(true);
    }
  }
  return ref;
}

// Continuous values, and values from {-2, -1, 0, 1} (ties, all-negative and all-zero windows).
const continuous = () => rng.next() * 2 - 1.2;
const ties = () => rng.int(4) - 2;
const negative = () => -1 - rng.int(3);

test("MaxPoolGrad equals cpu on the project's pools: small-cnn / gap-cnn 2x2/2 and darknet's 2x2/1 'same'", async () => {
  for (const draw of [continuous, ties, negative]) {
    await checkMaxPoolGrad([2, 28, 28, 32], 2, 2, 'valid', draw); // pool1
    await checkMaxPoolGrad([2, 14, 14, 64], 2, 2, 'valid', draw); // pool2
    await checkMaxPoolGrad([1, 13, 13, 16], 2, 1, 'same', draw); // darknet tiny at 416x416
    await checkMaxPoolGrad([2, 7, 7, 8], 2, 1, 'same', draw); // darknet tiny at 224x224
  }
});

test('MaxPoolGrad equals cpu with odd sizes, padding, strides 1-3 and filters 1-4', async () => {
  const pads: PoolPad[] = ['same', 'valid', 1];
  for (const k of [1, 2, 3, 4]) {
    for (const s of [1, 2, 3]) {
      for (const pad of pads) {
        if (typeof pad === 'number' && (pad >= k || (randInt(3, 9) - k + 2 * pad) % s !== 0)) continue;
        const shape = [randInt(1, 3), k + randInt(0, 8), k + randInt(0, 8), randInt(1, 5)];
        if (typeof pad === 'number') {
          shape[1] = k - 2 * pad + s * randInt(1, 3); // an exact number of windows
          shape[2] = k - 2 * pad + s * randInt(1, 3);
        }
        for (const draw of [continuous, ties]) await checkMaxPoolGrad(shape, k, s, pad, draw);
      }
    }
  }
});

test('MaxPoolGrad sends each 2x2 window to its first maximum, skipping NaN; -Infinity-only windows send nothing', async () => {
  const N = NaN;
  const I = Infinity;
  // One window per case ([a, b; c, d]), and the index (0-3) that gets the gradient, -1 for none.
  const cases: [number[], number][] = [
    [[1, 1, 0, 1], 0],
    [[-3, -1, -1, -2], 1],
    [[0, 0, 0, 0], 0],
    [[-0, 0, -0, 0], 0],
    [[-2, -2, -2, -1], 3],
    [[N, 5, 1, 0], 1], // XNNPACK's MaxPool says -Infinity here
    [[1, 5, 0, N], 1], // and 1 here: its max is order-dependent with NaN
    [[5, N, 1, 0], 0],
    [[N, N, N, N], -1],
    [[-I, -I, -I, -I], -1],
    [[N, -I, -I, -I], -1],
    [[-I, N, 2, 3], 3],
    [[I, 2, I, N], 0],
  ];
  const wide = cases.length;
  // One channel, then five (four in the module's SIMD lanes and one after them), channel ch holding
  // case (j + ch) % wide in window j.
  for (const c of [1, 5]) {
    const at = (r: number, col: number, ch: number) => (r * 2 * wide + col) * c + ch;
    const values = new Float32Array(4 * wide * c);
    for (let ch = 0; ch < c; ch++) {
      cases.forEach((_, j) => {
        const [v] = cases[(j + ch) % wide];
        [at(0, 2 * j, ch), at(0, 2 * j + 1, ch), at(1, 2 * j, ch), at(1, 2 * j + 1, ch)].forEach((i, q) => {
          values[i] = v[q];
        });
      });
    }
    const dx = await checkMaxPoolGrad([1, 2, 2 * wide, c], 2, 2, 'valid', continuous, values);
    for (let ch = 0; ch < c; ch++) {
      cases.forEach((_, j) => {
        const [v, want] = cases[(j + ch) % wide];
        const got = [at(0, 2 * j, ch), at(0, 2 * j + 1, ch), at(1, 2 * j, ch), at(1, 2 * j + 1, ch)].map(
          (i) => (dx[i] !== 0 ? 1 : 0),
        );
        assert.deepEqual(
          got,
          [0, 1, 2, 3].map((q) => (q === want ? 1 : 0)),
          `window [${v}], channel ${ch} of ${c}`,
        );
      });
    }
  }
});

/** `f` with the module on and then off: [result on, result off], and how many module calls each made. */
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

test('MaxPool equals the direct loop bit for bit (NaN skipped), padding, strides 1-3, filters 1-4; stock without the module', async () => {
  const pads: PoolPad[] = ['same', 'valid'];
  for (const k of [1, 2, 3, 4])
    for (const s of [1, 2, 3])
      for (const pad of pads)
        for (const c of [1, 4, 6]) {
          const shape = [randInt(1, 3), k + randInt(0, 8), k + randInt(0, 8), c];
          // Continuous values with a few NaN and -Infinity, and ties from {-2, -1, 0, 1}.
          const values = Float32Array.from({ length: size(shape) }, (_, i) =>
            i % 17 === 3 ? NaN : i % 23 === 5 ? -Infinity : i % 2 ? rng.int(4) - 2 : rng.next() * 2 - 1,
          );
          const x = { values, shape };
          const info = tf.backend_util.computePool2DInfo(
            shape as [number, number, number, number],
            k,
            s,
            1,
            pad,
          );
          const want = directMaxPool(
            x,
            info.outHeight,
            info.outWidth,
            k,
            s,
            info.padInfo.top,
            info.padInfo.left,
          );
          const attrs = { filterSize: k, strides: s, pad };
          const [on, , calls] = await bothPaths(() => run('wasm', 'MaxPool', { x }, attrs));
          const label = `[${shape}] k${k} s${s} ${pad}`;
          assert.equal(calls, 1, `${label}: the module ran`);
          assert.deepEqual(on.shape, want.shape, label);
          assert.deepEqual(
            Array.from(on.values),
            Array.from(want.values),
            `${label}: vs direct, bit for bit`,
          );
        }
  // Without NaN the stock kernel (module off) and the cpu backend agree with it.
  const x = { values: randArray(2 * 9 * 7 * 8), shape: [2, 9, 7, 8] };
  const attrs = { filterSize: 2, strides: 2, pad: 'same' };
  const [on, off, calls, offCalls] = await bothPaths(() => run('wasm', 'MaxPool', { x }, attrs));
  const cpu = await run('cpu', 'MaxPool', { x }, attrs);
  assert.deepEqual([calls, offCalls], [1, 0]);
  assert.deepEqual(Array.from(on.values), Array.from(cpu.values));
  assert.deepEqual(Array.from(off.values), Array.from(cpu.values));
});

test('Add of a bias along the last axis equals cpu bit for bit (either operand order); other adds go to stock', async () => {
  const cases: [number[], number[], boolean][] = [
    [[2, 5, 3, 32], [32], true],
    [[7], [3, 7], true], // the vector first
    [[4, 6], [6], true],
    [[3, 5, 7], [7], true], // 7: not a multiple of four
    [[2, 3, 1], [1], true],
    [[2, 3], [2, 3], false], // equal shapes
    [[2, 3, 4], [1, 4], true], // a vector of rank 2 along the last axis
    [[2, 3, 4], [1, 1, 1, 4], false], // the vector's rank above x's: the output is rank 4
    [[2, 3, 4], [3, 1], false], // not along the last axis
    [[2, 3, 4], [2, 1, 4], false],
    [[4], [4], false],
    [[2, 3], [1], false], // a scalar-like vector of length 1 on a last axis of 3
  ];
  for (const [sa, sb, ours] of cases) {
    const a = { values: randArray(size(sa)), shape: sa };
    const b = { values: randArray(size(sb)), shape: sb };
    const [on, , calls] = await bothPaths(() => run('wasm', 'Add', { a, b }, {}));
    const cpu = await run('cpu', 'Add', { a, b }, {});
    const label = `[${sa}] + [${sb}]`;
    assert.equal(calls, ours ? 1 : 0, `${label}: the module ran`);
    assert.deepEqual(on.shape, cpu.shape, label);
    assert.deepEqual(Array.from(on.values), Array.from(cpu.values), `${label}: vs cpu, bit for bit`);
  }
  const ai = { values: Int32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
  const bi = { values: Int32Array.from([10, 20, 30]), shape: [3] };
  const [on, , calls] = await bothPaths(() => run('wasm', 'Add', { a: ai, b: bi }, {}));
  assert.equal(calls, 0, 'int32 goes to stock');
  assert.deepEqual(Array.from(on.values), [11, 22, 33, 14, 25, 36]);
});

test("ReLU's gradient (fused kernel) equals cpu's mul(dy, step(x)) bit for bit, with NaN, Infinity and zeros; so does its second order", async () => {
  const special = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30];
  const n = 2 * 5 * 5 * 6;
  const xv = Float32Array.from({ length: n }, (_, i) => (i < 49 ? special[i % 7] : rng.next() * 2 - 1));
  const dv = Float32Array.from({ length: n }, (_, i) =>
    i < 49 ? special[Math.floor(i / 7)] : rng.next() * 2 - 1,
  );
  const first = (x: tf.Tensor, dy: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.relu(v))(x, dy);
  // d/dx of sum(w * relu'(x) . dy) through the gradient's gradient: the fused kernel's own gradient.
  const second = (x: tf.Tensor, dy: tf.Tensor) =>
    tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.grad((v: tf.Tensor) => tf.relu(v))(x, u), x)))(dy);
  for (const [which, f] of [
    ['first order', first],
    ['second order', second],
  ] as const) {
    const results: Float32Array[] = [];
    for (const b of ['wasm', 'cpu']) {
      await tf.setBackend(b);
      const kernels: string[] = [];
      const out = tf.tidy(() => {
        const x = tf.tensor(xv, [2, 5, 5, 6]);
        const dy = tf.tensor(dv, [2, 5, 5, 6]);
        return f(x, dy);
      });
      results.push(Float32Array.from(out.dataSync()));
      out.dispose();
      if (b === 'wasm') {
        const p = await tf.profile(() =>
          tf.tidy(() => f(tf.tensor(xv, [2, 5, 5, 6]), tf.tensor(dv, [2, 5, 5, 6]))),
        );
        kernels.push(...p.kernels.map((k) => k.name));
        assert.ok(kernels.includes(RELU_GRAD), `${which}: the fused kernel ran on wasm`);
        assert.ok(!kernels.includes('Step'), `${which}: no Step on wasm`);
      }
    }
    await tf.setBackend('wasm');
    assert.deepEqual(Array.from(results[0]), Array.from(results[1]), `${which}: wasm vs cpu, bit for bit`);
  }
  assert.equal(tf.getKernel(RELU_GRAD, 'cpu'), undefined, "cpu computes tfjs' own formula (the reference)");
});

test('GatherV2 equals cpu bit for bit: axes 0 to -1, repeated and empty indices, index tensors of rank 0-2, float32, int32 and bool', async () => {
  await tf.setBackend('wasm');
  assert.equal(tf.getKernel('GatherV2', 'wasm')?.kernelFunc, gatherV2, 'ours is registered');
  const cases: [number[], number, number[], number[]][] = [
    // [x shape, axis, indices, indices shape]
    [[6, 28, 28, 1], 0, [5, 0, 0, 3, 5, 1], [6]],
    [[4, 3, 5], 1, [2, 2, 0], [3]],
    [[4, 3, 5], 2, [4, 0, 1, 3], [2, 2]],
    [[4, 3, 5], -1, [1], [1]],
    [[7], 0, [6, 2, 2], [3]],
    [[3, 4], 0, [2], []], // a scalar index drops the axis
    [[3, 4], 1, [], [0]], // no indices
  ];
  for (const [shape, axis, ids, idShape] of cases) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const n = size(shape);
      const values =
        dtype === 'float32'
          ? randArray(n)
          : Int32Array.from({ length: n }, () => (dtype === 'bool' ? rng.int(2) : rng.int(1000) - 500));
      const got: number[][] = [];
      for (const b of ['wasm', 'cpu']) {
        await tf.setBackend(b);
        const x = tf.tensor(values, shape, dtype);
        const i = tf.tensor(ids, idShape, 'int32');
        const y = tf.gather(x, i, axis);
        got.push([...y.shape, NaN, ...Array.from(y.dataSync())]);
        tf.dispose([x, i, y]);
      }
      await tf.setBackend('wasm');
      assert.deepEqual(got[0], got[1], `[${shape}] axis ${axis} indices [${ids}] ${dtype}`);
    }
  }
  // batchDims 1 goes to the stock kernel (the same result as cpu).
  const got: number[][] = [];
  for (const b of ['wasm', 'cpu']) {
    await tf.setBackend(b);
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const i = tf.tensor2d([2, 0, 1, 1], [2, 2], 'int32');
    const y = tf.gather(x, i, 1, 1);
    got.push(Array.from(y.dataSync()));
    tf.dispose([x, i, y]);
  }
  await tf.setBackend('wasm');
  assert.deepEqual(got[0], got[1], 'batchDims 1');
});

test('Sum over leading axes equals cpu and a float64 sum (keepDims, negative and unsorted axes)', async () => {
  const cases: [number[], number | number[]][] = [
    [
      [4, 28, 28, 32],
      [0, 1, 2],
    ], // a conv bias gradient
    [
      [3, 5, 7, 6],
      [0, 1, 2],
    ], // 105 rows: not a multiple of eight
    [[64, 10], 0], // a dense bias gradient
    [[64, 10], [0]],
    [
      [5, 3, 4],
      [0, 1],
    ],
    [
      [5, 3, 4],
      [-3, -2],
    ],
    [
      [2, 3, 4, 5],
      [2, 0, 1],
    ],
    [
      [7, 1, 9],
      [0, 1],
    ],
    [[1, 9], [0]],
  ];
  for (const [shape, axis] of cases) {
    const x = { values: randArray(size(shape)).map((v) => v + 0.3), shape };
    for (const keepDims of [false, true]) {
      // The module's sum_rows, then the JavaScript loop (before the module loads): both exact.
      const [w, wJs, calls, jsCalls] = await bothPaths(() => run('wasm', 'Sum', { x }, { axis, keepDims }));
      const c = await run('cpu', 'Sum', { x }, { axis, keepDims });
      const label = `[${shape}] axis ${axis} keepDims ${keepDims}`;
      assert.deepEqual([calls, jsCalls], [1, 0], `${label}: the module ran, then not`);
      assert.deepEqual(Array.from(wJs.values), Array.from(w.values), `${label}: module vs JavaScript`);
      assert.deepEqual(w.shape, c.shape, label);
      assert.equal(w.dtype, 'float32', label);
      assert.ok(relErr(w.values, c.values) < 1e-5, `${label}: vs cpu ${relErr(w.values, c.values)}`);
      // float64 reference: within float32 rounding of the exact sum.
      const inner = w.values.length;
      const ref = new Float64Array(inner);
      x.values.forEach((v, i) => (ref[i % inner] += v));
      w.values.forEach((v, j) => {
        assert.ok(
          Math.abs(v - ref[j]) <= Math.abs(ref[j]) * 2 ** -23 + 1e-30,
          `${label}: [${j}] ${v} vs ${ref[j]}`,
        );
      });
    }
  }
});

test('Sum over many rows is at least as accurate as the stock kernel', async () => {
  await tf.setBackend('wasm');
  const shape = [64, 28, 28, 32];
  const values = randArray(size(shape)).map((v) => v + 0.5);
  const x = tf.tensor(values, shape);
  const ours = tf.sum(x, [0, 1, 2]);
  restoreStockWasmKernels(['Sum']);
  const stock = tf.sum(x, [0, 1, 2]);
  registerWasmKernels();
  const ref = new Float64Array(32);
  values.forEach((v, i) => (ref[i % 32] += v));
  const err = (t: tf.Tensor) => Math.max(...Array.from(t.dataSync(), (v, j) => Math.abs(v - ref[j])));
  assert.ok(err(ours) <= err(stock), `ours ${err(ours)}, stock ${err(stock)}`);
  assert.ok(err(ours) <= 16 * 2 ** -23 * Math.max(...ref), `ours ${err(ours)}`); // within float32 rounding
  tf.dispose([x, ours, stock]);
});

test('Sum hands other axes, int32 and empty inputs to the stock kernel, with the same results as cpu', async () => {
  const cases: [number[], number | number[], boolean][] = [
    [[2, 3, 4, 5], [1, 2], false], // a middle block (global average pooling's axes)
    [[2, 3, 4, 5], [3], true], // innermost (softmax / logsumexp)
    [[2, 3, 4, 5], [-1], false],
    [[2, 3, 4, 5], [0, 2], true], // not contiguous
    [[2, 3, 4, 5], [0, 1, 2, 3], false], // everything
    [[2, 3, 4, 5], [0, 1, 2, 3], true],
    [[6], [0], true],
    [[2, 3], [], false],
    [[0, 4], [0], false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    const x = { values: randArray(size(shape)), shape };
    const w = await run('wasm', 'Sum', { x }, { axis, keepDims });
    const c = await run('cpu', 'Sum', { x }, { axis, keepDims });
    const label = `[${shape}] axis ${axis} keepDims ${keepDims}`;
    assert.deepEqual(w.shape, c.shape, label);
    assert.ok(relErr(w.values, c.values) < 1e-5, `${label}: ${relErr(w.values, c.values)}`);
  }
  const ints = { values: Int32Array.from({ length: 24 }, () => rng.int(100) - 50), shape: [2, 3, 4] };
  for (const axis of [[0], [0, 1], [2]]) {
    const w = await run('wasm', 'Sum', { x: ints }, { axis, keepDims: false });
    const c = await run('cpu', 'Sum', { x: ints }, { axis, keepDims: false });
    assert.equal(w.dtype, 'int32');
    assert.deepEqual([w.shape, Array.from(w.values)], [c.shape, Array.from(c.values)], `int32 axis ${axis}`);
  }
});

test('BatchMatMul with transposed operands equals cpu (dense-layer gradients, batched and 1-sized cases)', async () => {
  // [a shape, b shape, transposeA, transposeB]; a, b hold op(a) [m, k] and op(b) [k, n].
  const cases: [number[], number[], boolean, boolean][] = [
    [[64, 10], [3136, 10], false, true], // small-cnn's dense dx = dy . W^T
    [[64, 3136], [64, 10], true, false], // and dW = x^T . dy
    [[5, 7], [3, 7], false, true],
    [[7, 5], [7, 3], true, false],
    [[7, 5], [3, 7], true, true],
    [[5, 7], [7, 3], false, false],
    [[1, 5, 7], [1, 3, 7], false, true], // rank 3, batch 1
    [[1, 1, 7, 5], [1, 1, 7, 3], true, false], // rank 4, batch 1
    [[2, 5, 7], [2, 3, 7], false, true], // batched: stock
    [[2, 7, 5], [1, 7, 3], true, false], // broadcast batch: stock
    [[1, 7], [3, 7], false, true], // vectors
    [[7, 1], [7, 1], true, false],
  ];
  for (const [sa, sb, transposeA, transposeB] of cases) {
    const a = { values: randArray(size(sa)), shape: sa };
    const b = { values: randArray(size(sb)), shape: sb };
    const w = await run('wasm', 'BatchMatMul', { a, b }, { transposeA, transposeB });
    const c = await run('cpu', 'BatchMatMul', { a, b }, { transposeA, transposeB });
    const label = `[${sa}]${transposeA ? 'T' : ''} x [${sb}]${transposeB ? 'T' : ''}`;
    assert.deepEqual(w.shape, c.shape, label);
    assert.ok(relErr(w.values, c.values) < 1e-5, `${label}: ${relErr(w.values, c.values)}`);
  }
});

test('a clone shares its buffer yet outlives its source; a variable assigned from a clone keeps its value', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend();
  const tensors = tf.memory().numTensors;
  const buffers = backend.numDataIds();
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    const src = tf.tensor([1, 0, 3, 4], [2, 2], dtype);
    const copy = src.clone();
    assert.equal(backend.numDataIds(), buffers + 1, `${dtype}: the clone shares the buffer`);
    src.dispose();
    assert.deepEqual(Array.from(copy.dataSync()), dtype === 'bool' ? [1, 0, 1, 1] : [1, 0, 3, 4]);
    assert.deepEqual([copy.shape, copy.dtype], [[2, 2], dtype]);
    copy.dispose();
    assert.equal(backend.numDataIds(), buffers, `${dtype}: freed with the last reference`);
  }
  const zeros = tf.zeros([3]);
  const v = tf.variable(zeros); // shares zeros' buffer
  zeros.dispose();
  const src = tf.tensor1d([1, 2, 3]);
  const c = src.clone();
  src.dispose();
  v.assign(c);
  c.dispose();
  assert.deepEqual(Array.from(v.dataSync()), [1, 2, 3]);
  // Updating the variable (a new value, assigned) leaves the clone's old values alone.
  const kept = v.clone();
  const doubled = tf.mul(v, 2);
  v.assign(doubled);
  doubled.dispose();
  assert.deepEqual(Array.from(kept.dataSync()), [1, 2, 3]);
  assert.deepEqual(Array.from(v.dataSync()), [2, 4, 6]);
  tf.dispose([kept, v]);
  assert.equal(tf.memory().numTensors, tensors, 'no tensors left');
  assert.equal(backend.numDataIds(), buffers, 'no buffers left');
});

test('Cast to the same dtype shares the buffer; other casts equal cpu', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend();
  const buffers = backend.numDataIds();
  const x = tf.tensor1d([1.5, -2.25, 0, 3]);
  const y = tf.cast(x, 'float32');
  assert.equal(backend.numDataIds(), buffers + 1);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1.5, -2.25, 0, 3]);
  y.dispose();
  const values = Float32Array.from([1.5, -2.75, 0, 3, -0.5, 7]);
  for (const dtype of ['int32', 'float32'] as const) {
    const w = await run('wasm', 'Cast', { x: { values, shape: [6] } }, { dtype });
    const c = await run('cpu', 'Cast', { x: { values, shape: [6] } }, { dtype });
    assert.deepEqual([w.dtype, Array.from(w.values)], [c.dtype, Array.from(c.values)], `to ${dtype}`);
  }
  const ints = Int32Array.from([3, -1, 0]);
  const w = await run('wasm', 'Cast', { x: { values: ints, shape: [3] } }, { dtype: 'float32' });
  assert.deepEqual([w.dtype, Array.from(w.values)], ['float32', [3, -1, 0]]);
  assert.equal(backend.numDataIds(), buffers);
});

test('gradients through clones, and Adam steps (variables assigned every step), equal cpu', async () => {
  const init = randArray(6 * 4);
  const data = randArray(5 * 6);
  const out: Float32Array[][] = [];
  for (const b of ['wasm', 'cpu']) {
    await tf.setBackend(b);
    tf.env().set('IS_TEST', false);
    const before = tf.memory().numTensors;
    const w0 = tf.tensor2d(init, [6, 4]);
    const w = tf.variable(w0);
    w0.dispose();
    const x = tf.tensor2d(data, [5, 6]);
    const loss = () => tf.sum(tf.square(tf.relu(tf.matMul(x.clone(), w.clone())))) as tf.Scalar;
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v.clone(), v)))(x);
    const adam = tf.train.adam(0.1);
    for (let i = 0; i < 3; i++) tf.dispose(adam.minimize(loss, true, [w]) ?? []);
    out.push([g.dataSync() as Float32Array, w.dataSync() as Float32Array]);
    tf.dispose([w, x, g]);
    adam.dispose();
    assert.equal(tf.memory().numTensors, before, `${b}: no tensors left`);
    tf.env().set('IS_TEST', true);
  }
  await tf.setBackend('wasm');
  out[0].forEach((t, i) => assert.ok(relErr(t, out[1][i]) < 1e-5, `output ${i}: ${relErr(t, out[1][i])}`));
});

test('no fast kernel leaves tensors or backend buffers behind, on any path', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend();
  const x = tf.randomUniform([2, 9, 7, 3], -1, 1, 'float32', 1);
  const dyPool = tf.randomUniform([2, 5, 4, 3], -1, 1, 'float32', 2); // k2 s2 same
  const dyPool1 = tf.randomUniform([2, 9, 7, 3], -1, 1, 'float32', 3); // k2 s1 same
  const dyPool3 = tf.randomUniform([2, 3, 3, 3], -1, 1, 'float32', 4); // k3 s3 same
  const xi = tf.tensor([1, 2, 3, 4], [2, 2], 'int32');
  const yPool = tf.maxPool(x as tf.Tensor4D, 2, 2, 'same');
  const w2 = tf.randomUniform([6, 6], -1, 1, 'float32', 5);
  const bias3 = tf.tensor1d([1, 2, 3]);
  const ids = tf.tensor1d([1, 0, 1], 'int32');
  const calls: [string, tf.NamedTensorMap, object][] = [
    ['MaxPoolGrad', { dy: dyPool, input: x, output: yPool }, { filterSize: 2, strides: 2, pad: 'same' }],
    ['MaxPoolGrad', { dy: dyPool, input: x }, { filterSize: 2, strides: 2, pad: 'same' }], // recomputes y
    ['MaxPoolGrad', { dy: dyPool1, input: x, output: dyPool1 }, { filterSize: 2, strides: 1, pad: 'same' }],
    ['MaxPoolGrad', { dy: dyPool3, input: x, output: dyPool3 }, { filterSize: 3, strides: 3, pad: 'same' }],
    ['Sum', { x }, { axis: [0, 1, 2], keepDims: false }],
    ['Sum', { x }, { axis: [0, 1], keepDims: true }],
    ['Sum', { x }, { axis: [1, 2], keepDims: false }], // stock
    ['Sum', { x: xi }, { axis: [0], keepDims: false }], // stock
    ['Identity', { x }, {}],
    ['Identity', { x: xi }, {}],
    ['Cast', { x }, { dtype: 'float32' }],
    ['Cast', { x }, { dtype: 'int32' }], // stock
    ['BatchMatMul', { a: dyPool3, b: dyPool3 }, { transposeA: true, transposeB: false }], // batched: stock
    ['BatchMatMul', { a: w2, b: w2 }, { transposeA: true, transposeB: false }],
    ['BatchMatMul', { a: w2, b: w2 }, { transposeA: false, transposeB: true }],
    ['BatchMatMul', { a: w2, b: w2 }, { transposeA: true, transposeB: true }],
    ['MaxPool', { x }, { filterSize: 2, strides: 2, pad: 'same' }],
    ['Add', { a: x, b: bias3 }, {}],
    ['Add', { a: x, b: x }, {}], // stock
    [RELU_GRAD, { dy: x, x }, {}],
    ['GatherV2', { x, indices: ids }, { axis: 0, batchDims: 0 }],
  ];
  for (const [name, inputs, attrs] of calls) {
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
    out.dataSync();
    out.dispose();
    assert.equal(tf.memory().numTensors, tensors, `${name} ${JSON.stringify(attrs)} leaves no tensors`);
    assert.equal(backend.numDataIds(), buffers, `${name} ${JSON.stringify(attrs)} leaves no backend buffers`);
  }
  tf.dispose([x, dyPool, dyPool1, dyPool3, xi, w2, yPool, bias3, ids]);
});

test('restoreStockWasmKernels puts back working stock Sum, Identity, Cast, BatchMatMul and MaxPoolGrad; register undoes it', async () => {
  await tf.setBackend('wasm');
  const ours = {
    Sum: sum,
    Identity: identity,
    Cast: cast,
    MaxPoolGrad: maxPoolGrad,
    MaxPool: maxPool,
    Add: add,
  } as Record<string, unknown>;
  const names = Object.keys(ours);
  assert.deepEqual(restoreStockWasmKernels(names).sort(), [...names].sort());
  for (const k of names) assert.notEqual(tf.getKernel(k, 'wasm')?.kernelFunc, ours[k], `${k} is stock`);
  assert.equal(tf.getKernel('Tile', 'wasm') != null, true);
  // The stock kernels run (their setup ran): a leading-axes Sum, a clone, a transposed product.
  const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
  const s = tf.sum(x, [0, 1]);
  const c = x.clone();
  const m = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 2], [2, 2]), true, false);
  assert.deepEqual(Array.from(s.dataSync()), [16, 20]);
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(Array.from(m.dataSync()), [1, 6, 2, 8]);
  tf.dispose([s, c, m]);
  registerWasmKernels();
  for (const k of names) assert.equal(tf.getKernel(k, 'wasm')?.kernelFunc, ours[k], `${k} is ours again`);
  const s2 = tf.sum(x, [0, 1]);
  assert.deepEqual(Array.from(s2.dataSync()), [16, 20]);
  tf.dispose([x, s2]);
});
