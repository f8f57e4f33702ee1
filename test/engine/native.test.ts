/**
 * The native build of the C kernels (scripts/build-native.mjs; src/engine/kernels/native.ts) against
 * the WebAssembly module, in both builds (plain and fused multiply-add): one scenario that reaches
 * every exported kernel (asserted: each of the addon's functions ran) runs once on each, and every
 * output must be bit for bit the same. The scenario: ResNet-20 and the small CNN (logits, input
 * gradient, a PGD-7 training step through train(), which covers the Winograd convolutions and filter
 * gradients, training-mode batch norm, global average pooling, min/max/sign), then single ops for the
 * rest (strided and 1x1 convolutions through the patch product and their gradients, one-output-channel
 * convolutions, pooling and its gradient, leaky ReLU, inference batch norm and its gradient,
 * comparisons, selects, sums, Gaussian noise). Skips, naming clang, where the addon was not built.
 */
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { setWinogradFma, setWinogradNative, winogradNative } from '../../src/engine/kernels/winograd.ts';
import { nativeAddons, nativeCalls, nativeStatus } from '../../src/engine/kernels/native.ts';
import { versions } from '../../src/version.ts';
import { scenario, scenarioHashes } from './nativeScenario.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
await initNodeBackend('wasm');
const addons = nativeAddons();
const skip = addons
  ? false
  : `native kernels not available (${nativeStatus().reason}); building them needs clang (Debian: clang)`;

test(
  "native kernels: every exported kernel runs, and gives the WebAssembly module's bits, in both builds",
  { skip },
  async () => {
    for (const fma of [true, false]) {
      setWinogradFma(fma);
      setWinogradNative(false);
      assert.equal(winogradNative(), false);
      const wasm = await scenario();
      for (const k of Object.keys(nativeCalls)) delete nativeCalls[k];
      setWinogradNative(true);
      assert.equal(winogradNative(), true);
      assert.match(versions().kernelsBuild ?? '', /^native/);
      const native = await scenario();
      const missed = Object.keys(addons!.plain).filter(
        (k) => typeof addons!.plain[k] === 'function' && !nativeCalls[k],
      );
      assert.deepEqual(missed, [], `native functions the scenario did not reach (${fma ? 'fma' : 'plain'})`);
      assert.deepEqual([...native.keys()], [...wasm.keys()]);
      for (const [name, a] of wasm) {
        const b = native.get(name)!;
        const ua = new Uint32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
        const ub = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
        let diff = 0;
        for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) diff++;
        assert.equal(
          diff,
          0,
          `${name} (${fma ? 'fma' : 'plain'} build): ${diff} of ${ua.length} values differ`,
        );
      }
    }
    setWinogradFma(true);
  },
);

// The AVX2 variant (8 lanes; processors without AVX-512), which this machine's own build does not
// run: built for x86-64-v3 into a folder of its own, the scenario in a child process that loads it
// must hash as the WebAssembly module's here.
const cpuFlags = (() => {
  try {
    return (
      fs
        .readFileSync('/proc/cpuinfo', 'utf8')
        .match(/^flags\s*:(.*)$/m)?.[1]
        .split(/\s+/) ?? []
    );
  } catch {
    return [];
  }
})();
const skipAvx2 =
  skip ||
  (process.arch !== 'x64'
    ? 'the AVX2 variant is x86-64 only'
    : !['avx2', 'fma'].every((f) => cpuFlags.includes(f))
      ? 'this processor lacks AVX2 or FMA'
      : false);

test(
  "native kernels built for AVX2 (x86-64-v3) give the WebAssembly module's bits",
  { skip: skipAvx2 },
  async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-native-v3-'));
    try {
      const env = { ...process.env, ADVLENS_NATIVE_MARCH: 'x86-64-v3', ADVLENS_NATIVE_OUT: out };
      const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-native.mjs')], {
        env,
        encoding: 'utf8',
      });
      assert.equal(b.status, 0, b.stderr);
      const info = JSON.parse(fs.readFileSync(path.join(out, 'build.json'), 'utf8'));
      assert.ok(
        info.features.includes('avx2') && !info.features.includes('avx512f'),
        info.features.join(' '),
      );
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'test/engine/nativeScenario.ts')],
        {
          env: { ...process.env, ADVLENS_NATIVE_DIR: out },
          encoding: 'utf8',
          cwd: ROOT,
          maxBuffer: 1 << 24,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      const child = JSON.parse(r.stdout) as { native: boolean; hashes: Record<string, string> };
      assert.equal(child.native, true, 'the child ran the x86-64-v3 build');
      setWinogradNative(false);
      const here = await scenarioHashes();
      setWinogradNative(true);
      const differ = Object.keys(here).filter((k) => child.hashes[k] !== here[k]);
      assert.deepEqual(differ, [], 'outputs of the AVX2 build that differ from the module');
      assert.equal(Object.keys(child.hashes).length, Object.keys(here).length);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  },
);

test('a native build of other sources than these is refused (the WebAssembly module runs)', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-native-stale-'));
  try {
    for (const f of fs.readdirSync(path.join(ROOT, 'native/build')))
      fs.copyFileSync(path.join(ROOT, 'native/build', f), path.join(dir, f));
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'build.json'), 'utf8'));
    info.sources = '0'.repeat(40);
    fs.writeFileSync(path.join(dir, 'build.json'), JSON.stringify(info));
    const script =
      "import { nativeAddons, nativeStatus } from './src/engine/kernels/native.ts';" +
      'nativeAddons(); console.log(JSON.stringify(nativeStatus()));';
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, ADVLENS_NATIVE_DIR: dir },
      encoding: 'utf8',
      cwd: ROOT,
    });
    assert.equal(r.status, 0, r.stderr);
    const status = JSON.parse(r.stdout);
    assert.equal(status.loaded, false);
    assert.match(status.reason, /other sources than these: run npm run build:native/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
