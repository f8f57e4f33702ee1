/**
 * Issue 6's "every method resumes after an interruption": for each training method, a run stopped
 * after epoch 1 (its checkpoint on disk) and resumed to epoch 2 on a model with other initial
 * weights ends with the weights of the uninterrupted 2-epoch run. The inner attacks draw their
 * random starts from the epoch's generator, so this also checks that nothing random escapes the
 * checkpoint. Resuming with other method options is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { makeDataset, type Dataset } from '../../src/data/dataset.ts';
import { createRng } from '../../src/engine/rng.ts';
import { train, type TrainOptions } from '../../src/train/loop.ts';
import { makeObjective, OBJECTIVES } from '../../src/train/objectives/index.ts';
import { folderCheckpoint } from '../../src/node/checkpoint.ts';
import { C, H, tinyGapCnn } from './tinyGapCnn.ts';

await initNodeBackend('wasm');

function data(n: number): Dataset {
  const rng = createRng(11);
  const pixels = new Float32Array(n * H * H);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % C;
    for (let k = 0; k < H * H; k++) pixels[i * H * H + k] = 0.3 * rng.next();
    for (let k = 0; k < H; k++) pixels[i * H * H + labels[i] * 2 * H + k] = 0.9; // a bright row per class
  }
  return makeDataset({
    name: 'rows',
    source: 'test',
    shape: [H, H, 1],
    classNames: ['a', 'b', 'c'],
    pixels,
    labels,
  });
}

/** Small, fast settings each method accepts (makeObjective refuses options a method does not use). */
function optionsFor(method: string): Record<string, unknown> {
  if (method === 'normal' || method === 'underfit') return {};
  const inner = { eps: 0.2, attackSteps: 2, attackStepSize: 0.1, epsRamp: [0, 0.5] };
  if (method === 'fgsm') return { eps: 0.2, epsRamp: [0, 0.5] };
  if (method === 'trades') return { ...inner, beta: 1 };
  if (method.startsWith('int')) return { ...inner, gamma: 0.05 };
  return inner;
}

const base = (method: string, over: Partial<TrainOptions>): TrainOptions => ({
  objective: makeObjective(method, optionsFor(method)),
  epochs: 2,
  batchSize: 6,
  seed: 3,
  optimizer: 'adam',
  lr: 1e-2,
  momentum: 0.9,
  schedule: { kind: 'cosine' },
  augment: [],
  ...over,
});

const weights = (c: ReturnType<typeof tinyGapCnn>) =>
  c.trainableVariables().map((v) => Array.from(v.dataSync()));

const set = data(12);

for (const method of Object.keys(OBJECTIVES)) {
  test(`${method}: interrupted after epoch 1 and resumed, it ends with the uninterrupted run's weights`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `advlens-resume-${method}-`));
    const pool = method.startsWith('ig-norm'); // IG-Norm's second-order pass through max-pooling
    try {
      const full = tinyGapCnn(4, { pool });
      const before = tf.memory().numTensors;
      await train(full, set, base(method, {}));
      assert.equal(tf.memory().numTensors, before, 'no tensors leaked');

      // The same command, stopped after epoch 1's checkpoint (as a kill would stop it).
      const stop = () => {
        throw new Error('interrupted');
      };
      await assert.rejects(
        train(
          tinyGapCnn(4, { pool }),
          set,
          base(method, { checkpoint: folderCheckpoint(dir), onEpoch: stop }),
        ),
        /interrupted/,
      );
      const resumed = tinyGapCnn(99, { pool }); // other initial weights: all must come from the checkpoint
      const r = await train(resumed, set, base(method, { checkpoint: folderCheckpoint(dir), resume: true }));
      assert.equal(r.resumedFrom, 1);
      assert.equal(r.history.length, 2);

      const a = weights(full);
      const b = weights(resumed);
      const init = weights(tinyGapCnn(4, { pool }));
      let moved = 0;
      for (let i = 0; i < a.length; i++)
        for (let k = 0; k < a[i].length; k++) {
          assert.ok(
            Object.is(a[i][k], b[i][k]),
            `weight ${i}[${k}]: ${a[i][k]} vs ${b[i][k]} (a resume is bit-exact)`,
          );
          moved = Math.max(moved, Math.abs(a[i][k] - init[i][k]));
        }
      assert.ok(moved > 1e-3, `training changed the weights (largest change ${moved})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('resuming with other method options is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-resume-opts-'));
  try {
    await train(tinyGapCnn(4), set, base('pgd', { epochs: 1, checkpoint: folderCheckpoint(dir) }));
    const other = { ...base('pgd', { checkpoint: folderCheckpoint(dir), resume: true }) };
    other.objective = makeObjective('pgd', { ...optionsFor('pgd'), eps: 0.1 });
    await assert.rejects(train(tinyGapCnn(4), set, other), /other options/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
