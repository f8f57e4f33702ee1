/**
 * The module's convolutions over unrolled patches (patches.c, engine/kernels/patches.ts): through the
 * wasm kernels that use them for strided convolutions (Conv2D, FusedConv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter) against the cpu backend, and called directly on stride-1 and odd geometries
 * against a loop on the definition. Error measure: max |wasm - ref| / max |ref| below 1e-5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBnTests, maxRel, uniformValues } from './bnHelpers.ts';
import { winogradCalls } from '../../src/engine/kernels/winograd.ts';
import {
  convGemm,
  convGemmFilterGrad,
  convGemmInputGrad,
  flipFilterModule,
  patchesFit,
  type PatchGeometry,
} from '../../src/engine/kernels/patches.ts';

await initBnTests();
const values = uniformValues(20261205);

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  kh: number;
  kw: number;
  stride: [number, number];
  pad: Pad;
}

/** Strided cases (ResNet's downsampling layers, 3x3 and 1x1, stride 2; odd sizes, paddings, strides) and a 1x1 stride-1 one. */
const CASES: Case[] = [
  { n: 3, h: 16, w: 16, c: 16, k: 32, kh: 3, kw: 3, stride: [2, 2], pad: 'same' },
  { n: 3, h: 16, w: 16, c: 16, k: 32, kh: 1, kw: 1, stride: [2, 2], pad: 'same' },
  { n: 2, h: 9, w: 7, c: 8, k: 8, kh: 3, kw: 3, stride: [2, 2], pad: 'same' },
  { n: 1, h: 11, w: 10, c: 4, k: 16, kh: 5, kw: 3, stride: [3, 2], pad: 'valid' },
  {
    n: 2,
    h: 8,
    w: 13,
    c: 12,
    k: 8,
    kh: 2,
    kw: 4,
    stride: [2, 3],
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
  { n: 1, h: 7, w: 7, c: 8, k: 24, kh: 7, kw: 7, stride: [2, 2], pad: 'same' },
  // 1x1, stride 1 (darknet's bottlenecks, its 1000-class head).
  { n: 2, h: 5, w: 6, c: 12, k: 40, kh: 1, kw: 1, stride: [1, 1], pad: 'valid' },
];

async function run(
  backend: string,
  name: string,
  inputs: Record<string, [Float32Array, number[]]>,
  attrs: object,
) {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [key, [v, shape]] of Object.entries(inputs)) ts[key] = tf.tensor(v, shape);
  const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { values: out.dataSync() as Float32Array, shape: out.shape };
  tf.dispose([out, ...Object.values(ts)]);
  return result;
}

/** The kernel on wasm and on cpu: both results, and whether the module ran on wasm. */
async function both(name: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object) {
  const calls = winogradCalls();
  const wasm = await run('wasm', name, inputs, attrs);
  const ran = winogradCalls() > calls;
  const cpu = await run('cpu', name, inputs, attrs);
  await tf.setBackend('wasm');
  return { wasm, cpu, ran };
}

const label = (c: Case) =>
  `n${c.n} ${c.h}x${c.w}x${c.c} -> ${c.k} k${c.kh}x${c.kw} s${c.stride} ${JSON.stringify(c.pad)}`;

test('strided and 1x1 Conv2D, FusedConv2D (bias, ReLU), Conv2DBackpropInput and -Filter on wasm run the module and equal the cpu backend', async () => {
  for (const c of CASES) {
    const xShape = [c.n, c.h, c.w, c.c];
    const fShape = [c.kh, c.kw, c.c, c.k];
    const info = tf.backend_util.computeConv2DInfo(xShape as never, fShape as never, c.stride, 1, c.pad);
    const dyShape = [c.n, info.outHeight, info.outWidth, c.k];
    const x = values(xShape.reduce((a, b) => a * b));
    const filter = values(fShape.reduce((a, b) => a * b));
    const dy = values(dyShape.reduce((a, b) => a * b));
    const bias = values(c.k);
    const common = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' };
    const checks = [
      await both('Conv2D', { x: [x, xShape], filter: [filter, fShape] }, { ...common, dilations: 1 }),
      await both(
        'FusedConv2D',
        { x: [x, xShape], filter: [filter, fShape], bias: [bias, [c.k]] },
        { ...common, dilations: 1, activation: 'relu' },
      ),
      await both(
        'Conv2DBackpropInput',
        { dy: [dy, dyShape], filter: [filter, fShape] },
        { ...common, inputShape: xShape },
      ),
      await both(
        'Conv2DBackpropFilter',
        { x: [x, xShape], dy: [dy, dyShape] },
        { ...common, filterShape: fShape },
      ),
    ];
    for (const [i, name] of [
      'Conv2D',
      'FusedConv2D',
      'Conv2DBackpropInput',
      'Conv2DBackpropFilter',
    ].entries()) {
      const { wasm, cpu, ran } = checks[i];
      assert.ok(ran, `${name} ${label(c)}: the module did not run`);
      assert.deepEqual(wasm.shape, cpu.shape, `${name} ${label(c)}: shape`);
      const e = maxRel(wasm.values, cpu.values);
      assert.ok(e < 1e-5, `${name} ${label(c)}: max rel err ${e}`);
    }
    // The ReLU is really applied: some of the unfused outputs are negative, none of the fused ones.
    assert.ok(checks[0].cpu.values.some((v) => v < 0) && checks[1].wasm.values.every((v) => v >= 0));
  }
});

/** The three passes by loops on their definitions (float64 sums). */
function direct(g: PatchGeometry, x: Float32Array, filter: Float32Array, dy: Float32Array) {
  const y = new Float64Array(g.n * g.oh * g.ow * g.k);
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  const dw = new Float64Array(g.kh * g.kw * g.c * g.k);
  for (let n = 0; n < g.n; n++)
    for (let i = 0; i < g.oh; i++)
      for (let j = 0; j < g.ow; j++)
        for (let a = 0; a < g.kh; a++)
          for (let b = 0; b < g.kw; b++) {
            const r = i * g.sh + a - g.top;
            const s = j * g.sw + b - g.left;
            if (r < 0 || r >= g.h || s < 0 || s >= g.w) continue;
            for (let ch = 0; ch < g.c; ch++)
              for (let o = 0; o < g.k; o++) {
                const xi = ((n * g.h + r) * g.w + s) * g.c + ch;
                const fi = ((a * g.kw + b) * g.c + ch) * g.k + o;
                const yi = ((n * g.oh + i) * g.ow + j) * g.k + o;
                y[yi] += x[xi] * filter[fi];
                dx[xi] += dy[yi] * filter[fi];
                dw[fi] += x[xi] * dy[yi];
              }
          }
  return { y, dx, dw };
}

test('convGemm, convGemmInputGrad and convGemmFilterGrad equal loops on the definitions (stride 1, odd rows, wide padding)', () => {
  const geometries: PatchGeometry[] = [
    // 37 output positions: the last block is not a multiple of 4 rows.
    { n: 1, h: 37, w: 1, c: 4, k: 8, oh: 37, ow: 1, kh: 3, kw: 1, sh: 1, sw: 1, top: 1, left: 0 },
    // More rows than a block (32 and 64), padding wider than the filter reaches on one side.
    { n: 3, h: 6, w: 7, c: 8, k: 16, oh: 8, ow: 5, kh: 3, kw: 3, sh: 1, sw: 2, top: 2, left: 1 },
    { n: 2, h: 5, w: 5, c: 4, k: 8, oh: 5, ow: 5, kh: 1, kw: 1, sh: 1, sw: 1, top: 0, left: 0 },
  ];
  for (const g of geometries) {
    const x = values(g.n * g.h * g.w * g.c);
    const filter = values(g.kh * g.kw * g.c * g.k);
    const dy = values(g.n * g.oh * g.ow * g.k);
    const ref = direct(g, x, filter, dy);
    const y = new Float32Array(ref.y.length);
    const dx = new Float32Array(ref.dx.length).fill(7); // overwritten, not added to
    const dw = new Float32Array(ref.dw.length).fill(7);
    convGemm(x, filter, undefined, y, g);
    convGemmInputGrad(dy, filter, dx, g);
    convGemmFilterGrad(x, dy, dw, g);
    const tag = JSON.stringify(g);
    assert.ok(maxRel(y, ref.y) < 1e-5, `forward ${tag}: ${maxRel(y, ref.y)}`);
    assert.ok(maxRel(dx, ref.dx) < 1e-5, `input grad ${tag}: ${maxRel(dx, ref.dx)}`);
    assert.ok(maxRel(dw, ref.dw) < 1e-5, `filter grad ${tag}: ${maxRel(dw, ref.dw)}`);
  }
});

test('patchesFit: channels the module cannot take are refused (the kernels then use XNNPACK)', () => {
  const g = { n: 1, h: 4, w: 4, c: 4, k: 8, oh: 2, ow: 2, kh: 3, kw: 3, sh: 2, sw: 2, top: 0, left: 0 };
  assert.equal(patchesFit(g, 'forward'), true);
  assert.equal(patchesFit({ ...g, k: 12 }, 'forward'), false);
  assert.equal(patchesFit({ ...g, k: 12 }, 'filter'), false);
  assert.equal(patchesFit({ ...g, k: 12 }, 'input'), true);
  assert.equal(patchesFit({ ...g, c: 3 }, 'input'), false);
  assert.throws(
    () =>
      convGemm(new Float32Array(16 * 4), new Float32Array(9 * 4 * 12), undefined, new Float32Array(4 * 12), {
        ...g,
        k: 12,
      }),
    /do not fit/,
  );
});

test('flipFilterModule turns the filter 180 degrees and swaps its channels (odd sizes, blocks of 8 cut)', () => {
  for (const [kh, kw, c, k] of [
    [3, 2, 5, 11],
    [1, 1, 16, 3],
    [3, 3, 9, 17],
  ]) {
    const f = values(kh * kw * c * k);
    const out = new Float32Array(f.length).fill(NaN);
    flipFilterModule(f, [kh, kw, c, k], out);
    for (let a = 0; a < kh; a++)
      for (let b = 0; b < kw; b++)
        for (let i = 0; i < c; i++)
          for (let o = 0; o < k; o++)
            assert.equal(
              out[((a * kw + b) * k + o) * c + i],
              f[(((kh - 1 - a) * kw + (kw - 1 - b)) * c + i) * k + o],
              `[${kh},${kw},${c},${k}] at ${a},${b},${o},${i}`,
            );
  }
});
