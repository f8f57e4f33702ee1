/**
 * Registration of the project's wasm kernels, MaxPoolGrad and UnsortedSegmentSum against the cpu
 * backend and direct loops, leaks, and whole-model gradients on wasm against cpu. Error measure, per
 * output tensor: max |wasm - ref| / max(max |ref|, 1e-6) < 1e-4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { registeredKernels } from '../../src/engine/backend.ts';
import { registerWasmKernels, WASM_KERNELS } from '../../src/engine/kernels/index.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { createRng } from '../../src/engine/rng.ts';
import { relErr } from './bnHelpers.ts';

await initNodeBackend('wasm');
// Makes the engine check that every kernel leaves exactly its outputs behind on the backend. (Off
// for whole models: tfjs's own fused ops with custom gradients fail that check.)
tf.env().set('IS_TEST', true);

const rng = createRng(7);
const randInt = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
const randArray = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);

type Arr = { values: Float32Array | Int32Array; shape: number[] };

async function run(
  backend: string,
  name: string,
  inputs: Record<string, Arr>,
  attrs: object,
): Promise<Float32Array> {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    ts[k] = tf.tensor(v.values, v.shape, v.values instanceof Int32Array ? 'int32' : 'float32');
  }
  const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = Float32Array.from(out.dataSync());
  tf.dispose([out, ...Object.values(ts)]);
  return values;
}

test('registerWasmKernels registers every kernel once, on wasm, and is idempotent', () => {
  const names = registerWasmKernels();
  assert.deepEqual(names, registerWasmKernels());
  assert.deepEqual([...names].sort(), [...registeredKernels()].sort());
  for (const k of [
    'Conv2DBackpropFilter',
    'DepthwiseConv2dNativeBackpropFilter',
    'DepthwiseConv2dNativeBackpropInput',
    'UnsortedSegmentSum',
  ]) {
    assert.ok(names.includes(k), `${k} registered`);
  }
  for (const k of WASM_KERNELS.filter((k) => names.includes(k.kernelName))) {
    assert.equal(tf.getKernel(k.kernelName, 'wasm')?.kernelFunc, k.kernelFunc, `${k.kernelName} is ours`);
  }
});

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
          dx[at] += dy.values[((b * oh + i) * ow + j) * c + ch];
        }
  return dx;
}

test('MaxPoolGrad on wasm equals the cpu backend, with negative windows and ties (k 1-5, strides 1-3)', async () => {
  for (const k of [1, 2, 3, 4, 5]) {
    for (const s of [1, 2, 3]) {
      for (const pad of ['same', 'valid'] as const) {
        const shape = [randInt(1, 3), k + randInt(0, 7), k + randInt(0, 7), randInt(1, 4)];
        const size = shape.reduce((a, b) => a * b);
        // Half the cases draw from {-2, -1, 0, 1} (ties, all-negative and all-zero windows).
        const values =
          k % 2
            ? randArray(size).map((v) => v - 0.5)
            : Float32Array.from({ length: size }, () => rng.int(4) - 2);
        const x = { values, shape };
        const info = tf.backend_util.computePool2DInfo(
          shape as [number, number, number, number],
          k,
          s,
          1,
          pad,
        );
        const dyShape = [shape[0], info.outHeight, info.outWidth, shape[3]];
        const dy = { values: randArray(dyShape.reduce((a, b) => a * b)), shape: dyShape };
        const y = { values: new Float32Array(dyShape.reduce((a, b) => a * b)), shape: dyShape }; // unused by both
        const attrs = { filterSize: k, strides: s, pad };
        const w = await run('wasm', 'MaxPoolGrad', { dy, input: x, output: y }, attrs);
        const c = await run('cpu', 'MaxPoolGrad', { dy, input: x, output: y }, attrs);
        const label = `[${shape}] k${k} s${s} ${pad}`;
        assert.ok(relErr(w, c) < 1e-6, `${label}: vs cpu ${relErr(w, c)}`);
        const ref = directMaxPoolGrad(x, dy, k, s, info.padInfo.top, info.padInfo.left);
        assert.ok(relErr(w, ref) < 1e-6, `${label}: vs direct ${relErr(w, ref)}`);
      }
    }
  }
});

test('UnsortedSegmentSum on wasm equals the cpu backend and a direct sum, dropping out-of-range ids', async () => {
  const x = { values: randArray(9 * 3 * 4), shape: [9, 3, 4] };
  const ids = { values: Int32Array.from([0, 4, 2, 2, -1, 0, 5, 4, 2]), shape: [9] };
  const w = await run('wasm', 'UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 5 });
  const c = await run('cpu', 'UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 5 });
  const ref = new Float64Array(5 * 12);
  ids.values.forEach((s, i) => {
    if (s >= 0 && s < 5) for (let k = 0; k < 12; k++) ref[s * 12 + k] += x.values[i * 12 + k];
  });
  assert.ok(relErr(w, c) < 1e-6, `vs cpu ${relErr(w, c)}`);
  assert.ok(relErr(w, ref) < 1e-6, `vs direct ${relErr(w, ref)}`);
  // Ids of rank 2 (TensorFlow's semantics: the output is [numSegments, ...x.shape[2:]]).
  const x2 = { values: randArray(2 * 3 * 2), shape: [2, 3, 2] };
  const ids2 = { values: Int32Array.from([1, 0, 1, 2, 2, 0]), shape: [2, 3] };
  const w2 = await run('wasm', 'UnsortedSegmentSum', { x: x2, segmentIds: ids2 }, { numSegments: 3 });
  const ref2 = new Float64Array(3 * 2);
  ids2.values.forEach((s, i) => {
    for (let k = 0; k < 2; k++) ref2[s * 2 + k] += x2.values[i * 2 + k];
  });
  assert.ok(relErr(w2, ref2) < 1e-6, `rank-2 ids vs direct ${relErr(w2, ref2)}`);
});

test('the gradient of tf.gather (UnsortedSegmentSum) on wasm equals cpu', async () => {
  const p = randArray(6 * 5);
  const grads: Float32Array[] = [];
  for (const b of ['wasm', 'cpu']) {
    await tf.setBackend(b);
    const g = tf.tidy(() => {
      const idx = tf.tensor1d([0, 2, 2, 5, 1, 2], 'int32');
      const f = (v: tf.Tensor) => tf.sum(tf.square(tf.gather(v, idx)));
      const h = (v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, tf.tensor1d([4, 4, 0], 'int32'), 1), 2));
      return tf.concat([tf.grad(f)(tf.tensor2d(p, [6, 5])), tf.grad(h)(tf.tensor2d(p, [6, 5]))]);
    });
    grads.push(g.dataSync() as Float32Array);
    g.dispose();
  }
  assert.ok(relErr(grads[0], grads[1]) < 1e-6, `${relErr(grads[0], grads[1])}`);
});

test('no kernel leaves tensors or backend buffers behind', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend();
  const x = tf.randomUniform([2, 9, 7, 3], -1, 1, 'float32', 1);
  const f = tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 2);
  const dyConv = tf.randomUniform([2, 5, 4, 4], -1, 1, 'float32', 3); // stride 2, same
  const dyDw = tf.randomUniform([2, 5, 4, 6], -1, 1, 'float32', 4);
  const dyPool = tf.randomUniform([2, 5, 4, 3], -1, 1, 'float32', 5);
  const fDw = tf.randomUniform([3, 3, 3, 2], -1, 1, 'float32', 6);
  const ids = tf.tensor1d([1, 0], 'int32');
  const dyValid = tf.randomUniform([2, 3, 2, 4], -1, 1, 'float32', 7); // k 2, stride 3, valid: crops x
  // Batch 16, 8 output channels: the convolution strategy, with x cropped.
  const x16 = tf.randomUniform([16, 7, 7, 16], -1, 1, 'float32', 8);
  const dy16 = tf.randomUniform([16, 2, 2, 8], -1, 1, 'float32', 9);
  const calls: [string, tf.NamedTensorMap, object][] = [
    [
      'Conv2DBackpropFilter',
      { x, dy: dyConv },
      { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] },
    ],
    [
      'Conv2DBackpropInput',
      { dy: dyConv, filter: f },
      { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 9, 7, 3] },
    ],
    [
      'Conv2DBackpropFilter',
      { x, dy: dyValid },
      { strides: 3, pad: 'valid', dataFormat: 'NHWC', filterShape: [2, 2, 3, 4] },
    ],
    [
      'Conv2DBackpropFilter',
      { x: x16, dy: dy16 },
      { strides: 3, pad: 'valid', dataFormat: 'NHWC', filterShape: [2, 2, 16, 8] },
    ],
    [
      'DepthwiseConv2dNativeBackpropFilter',
      { x, dy: dyDw },
      { strides: 2, pad: 'same', dilations: 1, filterShape: [3, 3, 3, 2] },
    ],
    [
      'DepthwiseConv2dNativeBackpropInput',
      { dy: dyDw, filter: fDw },
      { strides: 2, pad: 'same', dilations: 1, inputShape: [2, 9, 7, 3] },
    ],
    ['MaxPoolGrad', { dy: dyPool, input: x, output: dyPool }, { filterSize: 2, strides: 2, pad: 'same' }],
    ['UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 3 }],
    ['Tile', { x }, { reps: [1, 2, 1, 3] }],
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
  tf.dispose([x, f, dyConv, dyDw, dyPool, fDw, ids, dyValid, x16, dy16]);
});

/** The CE loss's gradients w.r.t. all weights of `arch`, in training mode, on `backend`. */
async function modelGrads(
  backend: string,
  arch: string,
  shape: [number, number, number],
  n: number,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  tf.env().set('IS_TEST', false);
  const before = tf.memory().numTensors;
  const m: tfl.LayersModel = buildArchitecture(arch, shape, 10, 5);
  const r = createRng(3);
  const x = tf.tensor4d(
    Float32Array.from({ length: n * shape[0] * shape[1] * shape[2] }, () => r.next()),
    [n, ...shape],
  );
  const y = tf.tidy(() =>
    tf.oneHot(
      tf.tensor1d(
        Array.from({ length: n }, (_, i) => (3 * i) % 10),
        'int32',
      ),
      10,
    ),
  );
  const vars = m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    vars,
  );
  const out = [value, ...vars.map((v) => grads[v.name])].map((t) => t.dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads), x, y]);
  m.dispose();
  assert.equal(tf.memory().numTensors, before, `${arch} gradient pass on ${backend} leaks no tensors`);
  tf.env().set('IS_TEST', true);
  return out;
}

for (const [arch, shape, n] of [
  ['small-cnn', [28, 28, 1], 2],
  ['resnet', [16, 16, 3], 2],
] as const) {
  test(`the gradient of ${arch}'s loss w.r.t. every weight is the same on wasm and cpu`, async () => {
    const w = await modelGrads('wasm', arch, [...shape], n);
    const c = await modelGrads('cpu', arch, [...shape], n);
    assert.equal(w.length, c.length);
    w.forEach((g, i) => assert.ok(relErr(g, c[i]) < 1e-4, `${arch} output ${i}: ${relErr(g, c[i])}`));
  });
}

test('Tile on wasm equals the cpu backend (ranks 0-5, float32, int32 and bool)', async () => {
  const shapes: [number[], number[]][] = [
    [[], []],
    [[3], [4]],
    [
      [1, 1, 1, 5],
      [2, 3, 4, 1],
    ],
    [
      [2, 3],
      [1, 1],
    ],
    [
      [2, 1, 3],
      [3, 4, 2],
    ],
    [
      [2, 3, 1, 2, 2],
      [1, 2, 3, 1, 2],
    ],
    [
      [4, 0, 2],
      [2, 3, 1],
    ],
  ];
  for (const [shape, reps] of shapes) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: size }, () => (dtype === 'float32' ? rng.next() : rng.int(3)));
      const outs: number[][] = [];
      for (const b of ['wasm', 'cpu']) {
        await tf.setBackend(b);
        const x = tf.tensor(values, shape, dtype);
        const y = tf.engine().runKernel('Tile', { x }, { reps }) as tf.Tensor;
        outs.push([...y.shape, -1, ...y.dataSync()]);
        tf.dispose([x, y]);
      }
      assert.deepEqual(outs[0], outs[1], `[${shape}] x [${reps}] ${dtype}`);
    }
  }
});

test('Sign on wasm equals the cpu backend down to tiny magnitudes (stock wasm returned 0 below ~1e-6)', async () => {
  const v = [1e-30, -1e-30, 1e-9, -1e-9, 1e-7, -3e-7, 1e-6, 0.5, -2, 0, -0, NaN, Infinity, -Infinity];
  const values = Float32Array.from(v);
  const wasm = await run('wasm', 'Sign', { x: { values, shape: [v.length] } }, {});
  const cpu = await run('cpu', 'Sign', { x: { values, shape: [v.length] } }, {});
  await tf.setBackend('wasm');
  assert.deepEqual(Array.from(wasm), Array.from(cpu));
  assert.deepEqual(Array.from(wasm.slice(0, 6)), [1, -1, 1, -1, 1, -1]);
  const ints = await run('wasm', 'Sign', { x: { values: Int32Array.from([-5, 0, 7]), shape: [3] } }, {});
  await tf.setBackend('wasm');
  assert.deepEqual(Array.from(ints), [-1, 0, 1]);
});
