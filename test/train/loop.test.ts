import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { makeDataset, type Dataset } from '../../src/data/dataset.ts';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess, type ModelCard } from '../../src/models/card.ts';
import { train, type TrainOptions } from '../../src/train/loop.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { folderCheckpoint } from '../../src/node/checkpoint.ts';
import { createRng } from '../../src/engine/rng.ts';
import { parseAugment } from '../../src/train/augment.ts';

await tf.setBackend('cpu');

/** Two classes: a bright square in the top-left or in the bottom-right of a noisy 12x12 image. */
function toyData(n: number, seed: number): Dataset {
  const rng = createRng(seed);
  const pixels = new Float32Array(n * 144);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let k = 0; k < 144; k++) pixels[i * 144 + k] = 0.2 * rng.next();
    const o = labels[i] === 0 ? 1 : 7;
    for (let r = o; r < o + 4; r++) for (let c = o; c < o + 4; c++) pixels[i * 144 + r * 12 + c] = 0.9;
  }
  return makeDataset({
    name: 'toy',
    source: 'test',
    classNames: ['tl', 'br'],
    shape: [12, 12, 1],
    pixels,
    labels,
  });
}

function toyClassifier(seed = 1) {
  const card: ModelCard = {
    format: 'advlens-card/1',
    name: 'toy',
    architecture: 'toy',
    modelType: 'layers',
    preprocess: plainPreprocess(12, 12, 1),
    labels: ['tl', 'br'],
    output: 'logits',
    versions: {},
    created: '',
  };
  // A tiny conv net: the loop is what is under test, and the cpu backend's filter gradient is slow.
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: [12, 12, 1],
      filters: 4,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(
    tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
  );
  return makeClassifier(m, card);
}

const base = (over: Partial<TrainOptions> = {}): TrainOptions => ({
  objective: makeObjective('normal'),
  epochs: 3,
  batchSize: 16,
  seed: 5,
  optimizer: 'adam',
  lr: 3e-3,
  momentum: 0.9,
  schedule: { kind: 'constant' },
  augment: [],
  ...over,
});

test('training learns a separable toy task and leaks no tensors', async () => {
  const data = toyData(64, 1);
  const c = toyClassifier();
  const before = tf.memory().numTensors;
  const r = await train(c, data, base({ epochs: 8, lr: 0.01 }));
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.history.length, 8);
  assert.ok(r.history[7].loss < r.history[0].loss / 2, `loss fell: ${r.history.map((h) => h.loss)}`);
  assert.equal(r.history[7].accuracy, 1);
});

test('a run interrupted after epoch 2 and resumed ends with the same weights as an uninterrupted one', async () => {
  const data = toyData(48, 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-resume-'));
  try {
    const full = toyClassifier(9);
    await train(full, data, base({ epochs: 3, optimizer: 'sgd', lr: 0.05 }));

    const first = toyClassifier(9);
    await train(
      first,
      data,
      base({ epochs: 2, optimizer: 'sgd', lr: 0.05, checkpoint: folderCheckpoint(dir) }),
    );
    assert.ok(fs.existsSync(path.join(dir, 'checkpoint', 'state.json')));

    const resumed = toyClassifier(123); // different initial weights: all must come from the checkpoint
    const r = await train(
      resumed,
      data,
      base({ epochs: 3, optimizer: 'sgd', lr: 0.05, checkpoint: folderCheckpoint(dir), resume: true }),
    );
    assert.equal(r.resumedFrom, 2);
    assert.equal(r.history.length, 3);
    const a = full.trainableVariables().map((v) => v.dataSync());
    const b = resumed.trainableVariables().map((v) => v.dataSync());
    for (let i = 0; i < a.length; i++) {
      for (let k = 0; k < a[i].length; k++)
        assert.ok(
          Object.is(a[i][k], b[i][k]),
          `weight ${i}[${k}]: ${a[i][k]} vs ${b[i][k]} (a resume is bit-exact)`,
        );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a stop request mid-epoch checkpoints after the current batch; the resume continues there bit for bit, random augmentation and epoch totals included', async () => {
  const data = toyData(48, 3); // 3 batches an epoch
  const augment = parseAugment('shift:2,flip').hooks; // draws from the epoch's generator
  const o = base({ epochs: 3, optimizer: 'sgd', lr: 0.05, augment });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-stop-'));
  try {
    const full = toyClassifier(9);
    const ref = await train(full, data, o);
    for (const [epoch, batch] of [
      [2, 1],
      [1, 3], // the last batch of an epoch: the epoch ends and checkpoints as usual
    ]) {
      fs.rmSync(dir, { recursive: true, force: true });
      const stop = new AbortController();
      const c = toyClassifier(9);
      const before = tf.memory().numTensors;
      const stopped = await train(c, data, {
        ...o,
        checkpoint: folderCheckpoint(dir),
        signal: stop.signal,
        onProgress: (p) => void (p.epoch === epoch && p.batch === batch && stop.abort()),
      });
      assert.equal(tf.memory().numTensors, before, 'a stopped run leaks nothing');
      assert.equal(stopped.stopped, true);
      const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint', 'state.json'), 'utf8'));
      if (batch < 3) {
        assert.equal(state.epochsDone, epoch - 1);
        assert.equal(state.partial.batchesDone, batch);
        assert.equal(state.partial.seen, 16 * batch);
      } else {
        assert.equal(state.epochsDone, epoch);
        assert.equal(state.partial, undefined);
      }
      const resumed = toyClassifier(123);
      const r = await train(resumed, data, { ...o, checkpoint: folderCheckpoint(dir), resume: true });
      assert.equal(r.stopped, false);
      assert.deepEqual(
        r.history.map((h) => [h.epoch, h.loss, h.accuracy, h.lr]),
        ref.history.map((h) => [h.epoch, h.loss, h.accuracy, h.lr]),
        'the same epoch totals, to the last bit',
      );
      const a = full.trainableVariables().map((v) => v.dataSync());
      const b = resumed.trainableVariables().map((v) => v.dataSync());
      for (let i = 0; i < a.length; i++)
        for (let k = 0; k < a[i].length; k++)
          assert.ok(
            Object.is(a[i][k], b[i][k]),
            `stop at ${epoch}/${batch}: weight ${i}[${k}] ${a[i][k]} vs ${b[i][k]}`,
          );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming with another seed is refused', async () => {
  const data = toyData(16, 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-resume-'));
  try {
    await train(toyClassifier(), data, base({ epochs: 1, checkpoint: folderCheckpoint(dir) }));
    await assert.rejects(
      train(
        toyClassifier(),
        data,
        base({ epochs: 2, seed: 6, checkpoint: folderCheckpoint(dir), resume: true }),
      ),
      /other options/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('SGD follows the schedule (a rate of zero after epoch 1 freezes the weights) and leaks no tensors', async () => {
  const data = toyData(32, 4);
  const c = toyClassifier(2);
  const before = tf.memory().numTensors;
  const snapshots: number[][] = [];
  await train(
    c,
    data,
    base({
      epochs: 3,
      optimizer: 'sgd',
      lr: 0.05,
      schedule: { kind: 'step', milestones: [1], gamma: 0 },
      onEpoch: () => void snapshots.push(Array.from(c.trainableVariables()[0].dataSync())),
    }),
  );
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(snapshots[1], snapshots[0], 'epoch 2 at rate 0 changes nothing');
  assert.deepEqual(snapshots[2], snapshots[0]);
  const init = toyClassifier(2).trainableVariables()[0].dataSync();
  assert.notDeepEqual(snapshots[0], Array.from(init), 'epoch 1 at rate 0.05 did train');
});
