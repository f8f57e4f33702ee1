/**
 * The module's build with fused multiply-adds (relaxed SIMD's f32x4.relaxed_madd in its matrix
 * products and multiply-accumulate loops; gemm.h's MADD), which `initNodeBackend` turns on (Node 20
 * needs V8's --experimental-wasm-relaxed-simd, set there; ADVLENS_FMA=0 keeps the plain build):
 * both builds against the cpu backend on the kernels whose loops changed (3x3 forward by F(2x2) and
 * F(4x4), the input gradient, the filter gradient, a strided and a 1x1 convolution through the
 * patch product, the one-input-channel direct kernel), the switch, the probe module, the versions
 * record, and ADVLENS_FMA=0 in a fresh process.
 *
 * Tolerance as the other kernel tests: max |got - cpu| / max |cpu| below 1e-5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import {
  RELAXED_SIMD_PROBE,
  relaxedSimdAvailable,
  setWinogradFma,
  winogradCalls,
  winogradFma,
} from '../../src/engine/kernels/winograd.ts';
import { versions } from '../../src/version.ts';
import { createRng } from '../../src/engine/rng.ts';
import { onBackend, relErr } from './bnHelpers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fmaOff = process.env.ADVLENS_FMA === '0';
await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);
const rng = createRng(7);
const rand = (shape: number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);

type Case = {
  name: string;
  inputs: [Float32Array, number[]][];
  f: (...t: tf.Tensor[]) => tf.Tensor;
  tile?: 2 | 4;
};
const x4 = (t: tf.Tensor) => t as tf.Tensor4D;
const CASES: Case[] = [
  {
    name: 'F(2x2) forward 16->32',
    inputs: [
      [rand([2, 9, 11, 16]), [2, 9, 11, 16]],
      [rand([3, 3, 16, 32]), [3, 3, 16, 32]],
    ],
    f: (x, w) => tf.conv2d(x4(x), x4(w), 1, 'same'),
    tile: 2,
  },
  {
    name: 'F(4x4) forward 32->64',
    inputs: [
      [rand([2, 13, 12, 32]), [2, 13, 12, 32]],
      [rand([3, 3, 32, 64]), [3, 3, 32, 64]],
    ],
    f: (x, w) => tf.conv2d(x4(x), x4(w), 1, 'same'),
    tile: 4,
  },
  {
    name: 'input gradient 64->16',
    inputs: [
      [rand([2, 10, 10, 64]), [2, 10, 10, 64]],
      [rand([3, 3, 16, 64]), [3, 3, 16, 64]],
    ],
    f: (dy, w) => tf.conv2dTranspose(x4(dy), x4(w), [2, 10, 10, 16], 1, 'same'),
  },
  {
    name: 'filter gradient 8->16',
    inputs: [
      [rand([3, 12, 12, 8]), [3, 12, 12, 8]],
      [rand([3, 12, 12, 16]), [3, 12, 12, 16]],
    ],
    f: (x, dy) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NHWC',
        dilations: 1,
        filterShape: [3, 3, 8, 16],
      } as unknown as tf.NamedAttrMap) as tf.Tensor,
  },
  {
    name: 'strided 3x3 16->32',
    inputs: [
      [rand([2, 16, 16, 16]), [2, 16, 16, 16]],
      [rand([3, 3, 16, 32]), [3, 3, 16, 32]],
    ],
    f: (x, w) => tf.conv2d(x4(x), x4(w), 2, 'same'),
  },
  {
    name: '1x1 32->64',
    inputs: [
      [rand([2, 7, 7, 32]), [2, 7, 7, 32]],
      [rand([1, 1, 32, 64]), [1, 1, 32, 64]],
    ],
    f: (x, w) => tf.conv2d(x4(x), x4(w), 1, 'same'),
  },
  {
    name: 'one input channel 1->16',
    inputs: [
      [rand([2, 14, 14, 1]), [2, 14, 14, 1]],
      [rand([3, 3, 1, 16]), [3, 3, 1, 16]],
    ],
    f: (x, w) => tf.conv2d(x4(x), x4(w), 1, 'same'),
  },
];

const run = (backend: 'cpu' | 'wasm', c: Case) => onBackend(backend, c.inputs, c.f, c.tile ?? null);

test('the probe module is well formed: valid with relaxed SIMD on, invalid with one opcode changed', (t) => {
  if (fmaOff) return t.skip('ADVLENS_FMA=0: relaxed SIMD was not turned on');
  // initNodeBackend turned relaxed SIMD on (Node 20: V8's flag; later Nodes have it already).
  assert.equal(relaxedSimdAvailable(), true);
  assert.equal(WebAssembly.validate(RELAXED_SIMD_PROBE), true);
  // One byte off (an opcode that does not exist) is refused: validate is not vacuous.
  const broken = Uint8Array.from(RELAXED_SIMD_PROBE);
  broken[broken.length - 2] = 0x7f;
  assert.equal(WebAssembly.validate(broken), false);
  // Nor is the module cut short by one byte.
  const cut = RELAXED_SIMD_PROBE.slice(0, -1);
  assert.equal(WebAssembly.validate(cut), false);
});

for (const c of CASES) {
  test(`${c.name}: the fused build and the plain one each within 1e-5 of the cpu backend, on the module`, async (t) => {
    if (fmaOff) return t.skip('ADVLENS_FMA=0: the fused build is off');
    const want = await run('cpu', c);
    for (const fused of [true, false]) {
      assert.equal(setWinogradFma(fused), fused);
      const before = winogradCalls();
      const got = await run('wasm', c);
      assert.ok(winogradCalls() > before, 'the module computed it');
      assert.ok(
        relErr(got, want) < 1e-5,
        `${fused ? 'fused' : 'plain'}: relative error ${relErr(got, want)}`,
      );
    }
    setWinogradFma(true);
  });
}

test('the switch and the versions record: kernels simd+fma by default, simd with the plain build', (t) => {
  if (fmaOff) return t.skip('ADVLENS_FMA=0: the fused build is off');
  assert.equal(winogradFma(), true);
  assert.equal(versions().kernels, 'simd+fma');
  assert.equal(setWinogradFma(false), false);
  assert.equal(winogradFma(), false);
  assert.equal(versions().kernels, 'simd');
  assert.equal(setWinogradFma(true), true);
  assert.equal(versions().kernels, 'simd+fma');
});

test('ADVLENS_FMA=0: a fresh process keeps the plain build and records kernels simd', () => {
  const code = [
    `import { initNodeBackend } from ${JSON.stringify(path.join(ROOT, 'src/node/backend.ts'))};`,
    `import { versions } from ${JSON.stringify(path.join(ROOT, 'src/version.ts'))};`,
    `await initNodeBackend('wasm');`,
    `console.log(versions().kernels);`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ADVLENS_FMA: '0' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'simd');
});
