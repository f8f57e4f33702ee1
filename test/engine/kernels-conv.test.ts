/**
 * The project's wasm convolution-gradient kernels against the cpu backend (and against a direct
 * loop on the definition where the cpu backend cannot be the reference). Error measure, per output
 * tensor: max |wasm - ref| / max(max |ref|, 1e-6), which must stay below 1e-4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { createRng } from '../../src/engine/rng.ts';
import { dwByConv, dwByGemm, prepare } from '../../src/engine/kernels/conv2dBackpropFilter.ts';
import type { KernelArgs } from '../../src/engine/kernels/wasmCalls.ts';
import { relErr } from './bnHelpers.ts';

await initNodeBackend('wasm');
// Makes the engine check that every kernel leaves exactly its outputs behind on the backend.
tf.env().set('IS_TEST', true);

const rng = createRng(20240601);
const randInt = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
const randArray = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);

type Arr = { values: Float32Array; shape: number[] };

/** Runs kernel `name` on `backend` with fresh tensors holding `inputs`; returns its output values. */
async function run(
  backend: string,
  name: string,
  inputs: Record<string, Arr>,
  attrs: object,
): Promise<Float32Array> {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape);
  const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = out.dataSync() as Float32Array;
  tf.dispose([out, ...Object.values(ts)]);
  return values;
}

async function wasmVsCpu(
  name: string,
  inputs: Record<string, Arr>,
  attrs: object,
  label: string,
): Promise<void> {
  const w = await run('wasm', name, inputs, attrs);
  const c = await run('cpu', name, inputs, attrs);
  const e = relErr(w, c);
  assert.ok(e < 1e-4, `${name} ${label}: max rel err ${e}`);
}

type Pad =
  'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  n: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'ceil' | 'round';
}

/** Kernel sizes 1-5, strides 1-3, same / valid / explicit padding, batch 1-3, odd input sizes. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const k of [1, 2, 3, 4, 5]) {
    for (const s of [1, 2, 3]) {
      for (const p of ['same', 'valid', 'explicit'] as const) {
        const h = k + randInt(0, 8);
        const w = k + randInt(0, 8);
        const pad: Pad =
          p === 'explicit'
            ? [
                [0, 0],
                [randInt(0, k), randInt(0, k)],
                [randInt(0, k), randInt(0, k)],
                [0, 0],
              ]
            : p;
        out.push({ n: randInt(1, 3), h, w, kh: k, kw: k, stride: [s, s], pad });
      }
    }
  }
  // Rectangular kernels and strides, even input sizes, a numeric pad with rounding.
  out.push({ n: 2, h: 10, w: 7, kh: 3, kw: 2, stride: [2, 3], pad: 'same' });
  out.push({ n: 1, h: 9, w: 12, kh: 2, kw: 4, stride: [3, 1], pad: 'valid' });
  out.push({ n: 2, h: 16, w: 16, kh: 3, kw: 3, stride: [2, 2], pad: 'same' });
  out.push({ n: 2, h: 8, w: 9, kh: 3, kw: 3, stride: [2, 2], pad: 1, dimRoundingMode: 'ceil' });
  out.push({ n: 1, h: 9, w: 9, kh: 3, kw: 3, stride: [2, 2], pad: 1, dimRoundingMode: 'floor' });
  return out;
}

const CASES = cases();
const describe = (c: Case, ch: string) =>
  `n${c.n} ${c.h}x${c.w} k${c.kh}x${c.kw} s${c.stride} pad ${JSON.stringify(c.pad)} ${ch}`;

test('Conv2DBackpropFilter and Conv2DBackpropInput on wasm equal the cpu backend (k 1-5, strides 1-3, all paddings)', async () => {
  for (const c of CASES) {
    const ci = randInt(1, 4);
    const co = randInt(1, 5);
    const filterShape = [c.kh, c.kw, ci, co] as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      [c.n, c.h, c.w, ci],
      filterShape,
      c.stride,
      1,
      c.pad,
      c.dimRoundingMode,
    );
    const x = { values: randArray(c.n * c.h * c.w * ci), shape: [c.n, c.h, c.w, ci] };
    const dyShape = [c.n, info.outHeight, info.outWidth, co];
    const dy = { values: randArray(dyShape.reduce((a, b) => a * b)), shape: dyShape };
    const filter = { values: randArray(c.kh * c.kw * ci * co), shape: filterShape };
    const common = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };
    const label = describe(c, `ci${ci} co${co}`);
    await wasmVsCpu('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape }, label);
    await wasmVsCpu('Conv2DBackpropInput', { dy, filter }, { ...common, inputShape: x.shape }, label);
  }
});

test('both Conv2DBackpropFilter strategies (matrix product, convolution) equal the cpu backend', async () => {
  const registered = tf.getKernel('Conv2DBackpropFilter', 'wasm')!;
  const force = (strategy: typeof dwByConv) => {
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: (args) => {
        const p = prepare(args as KernelArgs);
        return strategy(p.backend, p.x, p.dy, p.info);
      },
    });
  };
  try {
    for (const strategy of [dwByGemm, dwByConv]) {
      force(strategy);
      for (const c of CASES.filter((_, i) => i % 2 === 0)) {
        const ci = randInt(1, 3);
        const co = randInt(1, 4);
        const filterShape = [c.kh, c.kw, ci, co] as [number, number, number, number];
        const n = c.n * 6; // the convolution strategy is meant for larger batches
        const info = tf.backend_util.computeConv2DInfo(
          [n, c.h, c.w, ci],
          filterShape,
          c.stride,
          1,
          c.pad,
          c.dimRoundingMode,
        );
        const x = { values: randArray(n * c.h * c.w * ci), shape: [n, c.h, c.w, ci] };
        const dyShape = [n, info.outHeight, info.outWidth, co];
        const dy = { values: randArray(dyShape.reduce((a, b) => a * b)), shape: dyShape };
        const attrs = {
          strides: c.stride,
          pad: c.pad,
          dataFormat: 'NHWC',
          dimRoundingMode: c.dimRoundingMode,
          filterShape,
        };
        await wasmVsCpu(
          'Conv2DBackpropFilter',
          { x, dy },
          attrs,
          `${strategy.name} ${describe({ ...c, n }, `ci${ci} co${co}`)}`,
        );
      }
    }
  } finally {
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    tf.registerKernel(registered);
  }
});

test('DepthwiseConv2dNativeBackpropFilter and -Input on wasm equal the cpu backend (multipliers 1 and 2)', async () => {
  for (const c of CASES) {
    const ch = randInt(1, 4);
    const mult = randInt(1, 2);
    const filterShape = [c.kh, c.kw, ch, mult] as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      [c.n, c.h, c.w, ch],
      filterShape,
      c.stride,
      1,
      c.pad,
      c.dimRoundingMode,
      true,
    );
    const x = { values: randArray(c.n * c.h * c.w * ch), shape: [c.n, c.h, c.w, ch] };
    const dyShape = [c.n, info.outHeight, info.outWidth, ch * mult];
    const dy = { values: randArray(dyShape.reduce((a, b) => a * b)), shape: dyShape };
    const filter = { values: randArray(c.kh * c.kw * ch * mult), shape: filterShape };
    const common = { strides: c.stride, pad: c.pad, dilations: 1, dimRoundingMode: c.dimRoundingMode };
    const label = describe(c, `c${ch} m${mult}`);
    await wasmVsCpu('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape }, label);
    await wasmVsCpu(
      'DepthwiseConv2dNativeBackpropInput',
      { dy, filter },
      { ...common, inputShape: x.shape },
      label,
    );
  }
});

/**
 * The gradients by their definition, with a dilation: y[n,i,j,o] = sum_{p,q,c} x[n, i*s + p*d - top,
 * j*s + q*d - left, c] W[p,q,c,o] (depthwise: o = c*M + m and only that c), accumulated in float64.
 */
function directGrads(
  x: Arr,
  filter: Arr,
  dy: Arr,
  s: number,
  d: number,
  top: number,
  left: number,
  depthwise: boolean,
): { dx: Float64Array; dw: Float64Array } {
  const [n, h, w, c] = x.shape;
  const [kh, kw, , fo] = filter.shape;
  const [, oh, ow, co] = dy.shape;
  const dx = new Float64Array(x.values.length);
  const dw = new Float64Array(filter.values.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let p = 0; p < kh; p++)
          for (let q = 0; q < kw; q++) {
            const r = i * s + p * d - top;
            const col = j * s + q * d - left;
            if (r < 0 || r >= h || col < 0 || col >= w) continue;
            for (let o = 0; o < co; o++) {
              const g = dy.values[((b * oh + i) * ow + j) * co + o];
              const cs = depthwise ? [Math.floor(o / fo)] : Array.from({ length: c }, (_, k) => k);
              for (const k of cs) {
                const xi = ((b * h + r) * w + col) * c + k;
                const wi = depthwise
                  ? ((p * kw + q) * c + k) * fo + (o % fo)
                  : ((p * kw + q) * c + k) * co + o;
                dw[wi] += x.values[xi] * g;
                dx[xi] += filter.values[wi] * g;
              }
            }
          }
  return { dx, dw };
}

test('conv2d filter and input gradients on wasm equal a direct loop over the definition', async () => {
  // n 2, 7x8x3 input, 3x3x3x4 filter, stride 2, 'same': output 4x4, padding top 1 (of 2), left 0 (of 1).
  const x = { values: randArray(2 * 7 * 8 * 3), shape: [2, 7, 8, 3] };
  const filter = { values: randArray(3 * 3 * 3 * 4), shape: [3, 3, 3, 4] };
  const dy = { values: randArray(2 * 4 * 4 * 4), shape: [2, 4, 4, 4] };
  const ref = directGrads(x, filter, dy, 2, 1, 1, 0, false);
  const common = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
  const dw = await run('wasm', 'Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: filter.shape });
  const dx = await run('wasm', 'Conv2DBackpropInput', { dy, filter }, { ...common, inputShape: x.shape });
  assert.ok(relErr(dw, ref.dw) < 1e-5, `dW: ${relErr(dw, ref.dw)}`);
  assert.ok(relErr(dx, ref.dx) < 1e-5, `dx: ${relErr(dx, ref.dx)}`);
});

test('depthwise gradients on wasm with dilation 2 equal a direct loop (the cpu kernels ignore dilations)', async () => {
  // n 2, 9x10x3, 3x3 filter with multiplier 2, dilation 2, 'same' (effective 5x5: pads 2, 2).
  const x = { values: randArray(2 * 9 * 10 * 3), shape: [2, 9, 10, 3] };
  const filter = { values: randArray(3 * 3 * 3 * 2), shape: [3, 3, 3, 2] };
  const dy = { values: randArray(2 * 9 * 10 * 6), shape: [2, 9, 10, 6] };
  const ref = directGrads(x, filter, dy, 1, 2, 2, 2, true);
  const common = { strides: 1, pad: 'same', dilations: 2 };
  const dw = await run(
    'wasm',
    'DepthwiseConv2dNativeBackpropFilter',
    { x, dy },
    { ...common, filterShape: filter.shape },
  );
  const dx = await run(
    'wasm',
    'DepthwiseConv2dNativeBackpropInput',
    { dy, filter },
    { ...common, inputShape: x.shape },
  );
  assert.ok(relErr(dw, ref.dw) < 1e-5, `dW: ${relErr(dw, ref.dw)}`);
  assert.ok(relErr(dx, ref.dx) < 1e-5, `dx: ${relErr(dx, ref.dx)}`);
});

test('the conv kernels reject NCHW data with a message that says what to do', async () => {
  await tf.setBackend('wasm');
  const x = tf.zeros([1, 2, 5, 5]);
  const dy = tf.zeros([1, 2, 5, 5]);
  assert.throws(
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] },
        ),
    /supports dataFormat 'NHWC'.*transpose/,
  );
  tf.dispose([x, dy]);
});
