import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { createRng } from '../../src/engine/rng.ts';
import { pathwayGraph } from '../../src/pathways/graph.ts';
import { edgeScores, selectEdges } from '../../src/pathways/edges.ts';

await initNodeBackend('wasm');
const DARKNET = '../shared/models/darknet-tiny';

function resnet8(): Classifier {
  return makeClassifier(buildArchitecture('resnet', [32, 32, 3], 10, 3), {
    format: 'advlens-card/1',
    name: 'resnet8',
    architecture: 'resnet',
    modelType: 'layers',
    preprocess: plainPreprocess(32, 32, 3),
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    output: 'logits',
    versions: {},
    created: '',
  });
}

function images(m: Classifier, n: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  const [h, w, c] = m.inputShape;
  return tf.tensor4d(
    Float32Array.from({ length: n * h * w * c }, () => rng.next()),
    [n, h, w, c],
  );
}

/**
 * The independent computation: the via layer's own convolution (or dense product), rebuilt from its
 * config without bias and activation, run on its input with every channel but the source channel's
 * (`keep`: one channel, or all positions of one channel after a Flatten) zeroed; output channel j,
 * spatial max. For identity edges: the input channel's spatial max.
 */
function independent(
  m: Classifier,
  via: string,
  kind: string,
  input: tf.Tensor,
  keep: number[],
  j: number,
): Float32Array {
  return tf.tidy(() => {
    const cin = input.shape[input.rank - 1]!;
    const spatial = input.rank === 4;
    const mask = tf.reshape(
      tf.sum(tf.oneHot(tf.tensor1d(keep, 'int32'), cin), 0),
      spatial ? [1, 1, 1, cin] : [1, cin],
    );
    const xi = tf.mul(input, mask);
    let y = xi;
    let out = keep[0];
    if (kind !== 'identity') {
      const layer = (m.model as tfl.LayersModel).getLayer(via);
      const cfg = { ...layer.getConfig(), useBias: false, activation: 'linear', name: undefined };
      const clone = kind === 'dense' ? tfl.layers.dense(cfg as never) : tfl.layers.conv2d(cfg as never);
      clone.build(input.shape);
      clone.setWeights([layer.getWeights()[0]]);
      y = clone.apply(xi) as tf.Tensor;
      for (const w of clone.weights) w.dispose();
      out = j;
    }
    const yj = tf.slice(y, spatial ? [0, 0, 0, out] : [0, out], spatial ? [-1, -1, -1, 1] : [-1, 1]);
    return (spatial ? tf.max(yj, [1, 2, 3]) : tf.reshape(yj, [-1])).dataSync() as Float32Array;
  });
}

/** Three random neurons per layer; every edge between them against the independent computation. */
function checkModel(m: Classifier, n: number, seed: number, expectKinds: string[]): number {
  const g = pathwayGraph(m);
  const rng = createRng(seed);
  const keep: Record<string, number[]> = {};
  for (const l of g.layers)
    keep[l.name] = [...new Set([0, 1, 2].map(() => Math.floor(rng.next() * l.channels)))];
  // identity edges need the same channel on both sides: keep the source's channels in the target too
  for (const c of g.connections)
    if (c.kind === 'identity')
      keep[c.to] = [...new Set([...keep[c.to], ...keep[c.from].map((f) => f + c.toOffset)])];
  const lists = selectEdges(g, keep);
  assert.deepEqual([...new Set(lists.filter((l) => l.pairs.length).map((l) => l.kind))].sort(), expectKinds);
  const x = images(m, n, seed);
  const before = tf.memory().numTensors;
  const scores = edgeScores(m, g, lists, x, 2);
  assert.equal(tf.memory().numTensors, before, 'edgeScores leaks no tensor');
  let checked = 0;
  lists.forEach((l, k) => {
    const c = g.connections.find((q) => q.via === l.via && q.from === l.from && q.to === l.to)!;
    const { activations, logits } = m.taps(x, [c.input]);
    logits.dispose();
    const input = activations[c.input];
    l.pairs.forEach(([f, t], p) => {
      const keep = c.inIndex.filter((_, q) => c.fromChannel[q] === f);
      const want = independent(m, c.via, c.kind, input, keep, t - c.toOffset);
      for (let b = 0; b < n; b++) {
        const got = scores[k][b * l.pairs.length + p];
        assert.ok(
          Math.abs(got - want[b]) <= 1e-5 * Math.max(1, Math.abs(want[b])),
          `${c.via} ${c.from}:${f} -> ${c.to}:${t} image ${b}: ${got} vs ${want[b]}`,
        );
        checked++;
      }
    });
    input.dispose();
  });
  x.dispose();
  return checked;
}

test('edge influence equals the layer convolution with all input channels but one zeroed (gap-cnn)', async () => {
  const m = await loadClassifier('models/mnist-gap-cnn');
  assert.ok(checkModel(m, 3, 1, ['conv', 'dense']) > 50);
});

test('edge influence equals the independent computation on ResNet-8: strided, 1x1 projection and identity edges', () => {
  const m = resnet8();
  assert.ok(checkModel(m, 2, 2, ['conv', 'dense', 'identity']) > 50);
});

test('edge influence through a Flatten sums the dense weights over the positions of a channel (small-cnn)', async () => {
  const m = await loadClassifier('models/mnist-small-cnn');
  assert.ok(checkModel(m, 2, 4, ['conv', 'dense']) > 20);
});

test(
  'edge influence equals the independent computation on darknet tiny',
  { skip: !fs.existsSync(DARKNET) && `${DARKNET} is absent` },
  async () => {
    const m = await loadClassifier(DARKNET);
    assert.ok(checkModel(m, 1, 3, ['conv']) > 50);
  },
);

test('every unit is reached from the input side and reaches the logits (connected graph)', async () => {
  const models: Classifier[] = [
    await loadClassifier('models/mnist-gap-cnn'),
    await loadClassifier('models/mnist-small-cnn'),
    resnet8(),
  ];
  if (fs.existsSync(DARKNET)) models.push(await loadClassifier(DARKNET));
  for (const m of models) {
    const g = pathwayGraph(m);
    const last = g.layers[g.layers.length - 1];
    assert.ok(last.logits && last.channels === m.labels.length);
    const first = g.layers.filter((l) => !g.connections.some((c) => c.to === l.name)).map((l) => l.name);
    assert.deepEqual(first, [g.layers[0].name], `${m.card.name}: only the first layer has no incoming edges`);
    for (const l of g.layers.slice(0, -1))
      assert.ok(
        g.connections.some((c) => c.from === l.name),
        `${m.card.name}: ${l.name} has outgoing edges`,
      );
  }
});
