/**
 * Issue 15, "nothing lost": a checkpoint that a kill, a full disk or a hand damaged is either
 * recovered whole or refused with one line that says what to do (remove it, or drop --resume),
 * and a resume asks for what it cannot do (no checkpoint, one past --epochs) is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeClassifier } from '../../src/models/classifier.ts';
import { initNodeBackend } from '../../src/node/backend.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { createRng } from '../../src/engine/rng.ts';
import { UserError } from '../../src/errors.ts';
import { train, type TrainOptions } from '../../src/train/loop.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { folderCheckpoint } from '../../src/node/checkpoint.ts';
import { C, H, tinyGapCnn } from './tinyGapCnn.ts';

await initNodeBackend('wasm');

const rng = createRng(5);
const set = makeDataset({
  name: 'noise',
  source: 'test',
  shape: [H, H, 1],
  classNames: ['a', 'b', 'c'],
  pixels: Float32Array.from({ length: 12 * H * H }, () => rng.next()),
  labels: Int32Array.from({ length: 12 }, (_, i) => i % C),
});

const options = (over: Partial<TrainOptions> = {}): TrainOptions => ({
  objective: makeObjective('normal'),
  epochs: 2,
  batchSize: 4,
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

/** A folder holding the checkpoint after epoch 1 of a 2-epoch run (stopped there as a kill would stop it). */
async function checkpointed(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-ckpt-'));
  const stop = () => {
    throw new Error('interrupted');
  };
  await assert.rejects(
    train(tinyGapCnn(4), set, options({ checkpoint: folderCheckpoint(dir), onEpoch: stop })),
    /interrupted/,
  );
  return dir;
}

/** A classifier of another architecture for the same images: flatten -> dense(3). */
function denseClassifier() {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [H, H, 1] }));
  m.add(tfl.layers.dense({ units: C }));
  return makeClassifier(m, { ...tinyGapCnn(1).card, architecture: 'dense' });
}

const resume = (dir: string, over: Partial<TrainOptions> = {}) =>
  train(tinyGapCnn(99), set, options({ checkpoint: folderCheckpoint(dir), resume: true, ...over }));

/** The rejection is one UserError line that says to remove the checkpoint or drop --resume. */
async function refusedAsDamaged(p: Promise<unknown>, detail: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof UserError, `a UserError, not ${e.name}: ${e.message}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, /is damaged/);
    assert.match(e.message, detail);
    assert.match(e.message, /remove that folder to start the run over, or drop --resume/);
    assert.doesNotMatch(e.message, /re-download|re-copy/);
    return true;
  });
}

for (const [name, damage, detail] of [
  [
    'a state.json that is not JSON',
    (d: string) => fs.writeFileSync(path.join(d, 'state.json'), '{"epochsDone": 1,'),
    /state\.json is not valid JSON/,
  ],
  [
    'a state.json whose history disagrees with epochsDone',
    (d: string) => {
      const f = path.join(d, 'state.json');
      fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), epochsDone: 2 }));
    },
    /history does not list the 2 epochs/,
  ],
  [
    'truncated model weights',
    (d: string) => fs.truncateSync(path.join(d, 'weights.bin'), 100),
    /weights\.bin holds 100 bytes where \d+ are expected/,
  ],
  [
    'a truncated optimizer file',
    (d: string) => fs.truncateSync(path.join(d, 'optimizer.bin'), 37),
    /optimizer\.bin holds 37 bytes where \d+ are expected/,
  ],
  [
    'a missing optimizer manifest',
    (d: string) => fs.rmSync(path.join(d, 'optimizer.json')),
    /optimizer\.json is missing/,
  ],
  [
    'NaN in the weights',
    (d: string) => {
      const f = path.join(d, 'weights.bin');
      const b = fs.readFileSync(f);
      b.writeFloatLE(NaN, 8);
      fs.writeFileSync(f, b);
    },
    /not a finite number/,
  ],
] as const) {
  test(`resuming from a checkpoint with ${name} is refused in one line that says to remove it or drop --resume`, async () => {
    const dir = await checkpointed();
    try {
      damage(path.join(dir, 'checkpoint'));
      await refusedAsDamaged(resume(dir), detail);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a checkpoint of another architecture is refused as such', async () => {
  const dir = await checkpointed();
  try {
    await assert.rejects(
      train(denseClassifier(), set, options({ checkpoint: folderCheckpoint(dir), resume: true })),
      /another architecture/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('killed between the two renames of a save (only checkpoint.old left, a half-written checkpoint.tmp), the run resumes to the uninterrupted weights', async () => {
  const dir = await checkpointed();
  try {
    const ck = path.join(dir, 'checkpoint');
    fs.renameSync(ck, `${ck}.old`);
    fs.mkdirSync(`${ck}.tmp`);
    fs.writeFileSync(path.join(`${ck}.tmp`, 'model.json'), '{"modelTop');
    const resumed = tinyGapCnn(99);
    const r = await train(resumed, set, options({ checkpoint: folderCheckpoint(dir), resume: true }));
    assert.equal(r.resumedFrom, 1);
    const full = tinyGapCnn(4);
    await train(full, set, options());
    assert.deepEqual(weights(resumed), weights(full), 'bit-identical');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming without a checkpoint is refused (it would silently start over)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-ckpt-'));
  try {
    await assert.rejects(resume(dir), /no checkpoint to resume; drop --resume/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming a checkpoint past --epochs is refused, naming both', async () => {
  const dir = await checkpointed();
  try {
    await train(tinyGapCnn(99), set, options({ epochs: 2, checkpoint: folderCheckpoint(dir), resume: true }));
    await assert.rejects(
      resume(dir, { epochs: 1 }),
      /after epoch 2, past --epochs 1; resume with --epochs 2 or more/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
