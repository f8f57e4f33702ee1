import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { importance, median, rankPercentile, channelScores } from '../../src/pathways/neurons.ts';
import { neuronGroups, topChannels, vulnerability } from '../../src/pathways/groups.ts';
import { pathwayGraph } from '../../src/pathways/graph.ts';
import { comparePathways } from '../../src/pathways/compare.ts';
import type { PathwaysResult } from '../../src/pathways/pathways.ts';

await initNodeBackend('wasm');

test('median and within-layer percentile equal a hand computation (ties share their mean rank)', () => {
  // 3 images x 4 channels; channel medians: c0 med(1,5,3)=3, c1 med(2,2,9)=2, c2 med(7,0,3)=3, c3 med(4,8,6)=6
  const s = Float32Array.from([1, 2, 7, 4, 5, 2, 0, 8, 3, 9, 3, 6]);
  const imp = importance(s, 3, 4);
  assert.deepEqual([...imp.median], [3, 2, 3, 6]);
  // ranks: c1 = 1, c0 and c2 tie for 2 and 3 -> 2.5, c3 = 4; divided by 4 channels
  assert.deepEqual([...imp.percentile], [0.625, 0.25, 0.625, 1]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.deepEqual([...rankPercentile([10, 20])], [0.5, 1]);
  assert.ok(importance(new Float32Array(0), 0, 2).percentile.every(Number.isNaN));
});

test('groups follow Bluff: both, original only, target only, exploited (first per strength, minus both top lists)', () => {
  // 8 channels, k = 3, 2 exploited kept per strength
  const original = [9, 8, 1, 7, 0, 0, 0, 0]; // top 3: 0, 1, 3
  const target = [0, 9, 0, 8, 7, 0, 0, 0]; // top 3: 1, 3, 4
  const weak = [5, 0, 4, 0, 0, 3, 2, 1]; // top 3: 0, 2, 5 -> minus top lists: 2, 5
  const strong = [0, 6, 0, 0, 0, 0, 5, 4]; // top 3: 1, 6, 7 -> 6, 7
  const g = neuronGroups(original, target, [weak, strong], { k: 3, exploitedPerStrength: 2 });
  assert.deepEqual(g.both, [1, 3]);
  assert.deepEqual(g.original, [0]);
  assert.deepEqual(g.target, [4]);
  assert.deepEqual(g.exploitedAt, [
    [2, 5],
    [6, 7],
  ]);
  assert.deepEqual(g.exploited, [2, 5, 6, 7]);
  // with one kept per strength, the rest are dropped; a strength without images (NaN) exploits nothing
  const one = neuronGroups(original, target, [weak, strong, new Array(8).fill(NaN)], {
    k: 3,
    exploitedPerStrength: 1,
  });
  assert.deepEqual(one.exploitedAt, [[2], [6], []]);
  // defaults: k = 10, 5 per strength
  const wide = Array.from({ length: 30 }, (_, i) => i);
  const d = neuronGroups(wide, wide, [wide.map((v) => -v)]);
  assert.equal(d.both.length, 10);
  assert.deepEqual(d.exploitedAt[0], [0, 1, 2, 3, 4]);
  assert.deepEqual(topChannels([1, 3, 3, 2], 3), [1, 2, 3]);
});

test('vulnerability is sum_s |pct_s - pct_original| / s, skipping strengths without images', () => {
  const v = vulnerability(
    [0.5, 1],
    [
      [0.75, 0.5],
      [0.25, 1],
      [NaN, NaN],
    ],
    [0.1, 0.2, 0.3],
  );
  assert.ok(Math.abs(v[0] - (0.25 / 0.1 + 0.25 / 0.2)) < 1e-12);
  assert.ok(Math.abs(v[1] - 0.5 / 0.1) < 1e-12);
});

test('channel scores are the spatial max of each tapped map and the logits, with no leak', async () => {
  const m = await loadClassifier('models/mnist-gap-cnn');
  const g = pathwayGraph(m);
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const s = channelScores(m, g.layers, x, 2);
  assert.equal(tf.memory().numTensors, before);
  const { activations, logits } = m.taps(x, ['conv2']);
  const want = tf.max(activations.conv2, [1, 2]).dataSync();
  assert.deepEqual([...s.conv2], [...want]);
  assert.deepEqual([...s.logits], [...logits.dataSync()]);
  tf.dispose([activations.conv2, logits, x]);
});

test('the two-model comparison counts exploited neurons and averages vulnerability per layer', () => {
  const fake = (exploited: number[], vul: number[]) =>
    ({
      success: [{ strength: 1, attempted: 4, succeeded: 1, kept: 1 }],
      layers: [
        { name: 'c', kind: 'conv', tap: 'c', channels: 4, logits: false, depth: 1 },
        { name: 'l', kind: 'dense', tap: '', channels: 2, logits: true, depth: 2 },
      ],
      groups: { c: { both: [], original: [], target: [], exploited, exploitedAt: [exploited] } },
      vulnerability: { c: vul, l: [0, 0] },
    }) as unknown as PathwaysResult;
  const [a, b] = comparePathways([
    { name: 'a', result: fake([1, 3], [0.5, 1, 0, 2]) },
    { name: 'b', result: fake([], [0, 0, 0, 0.25]) },
  ]);
  assert.deepEqual(a.success, [0.25]);
  assert.deepEqual(a.layers, [
    {
      layer: 'c',
      channels: 4,
      exploited: 2,
      meanVulnerability: 0.875,
      exploitedVulnerability: 1.5,
      maxVulnerability: 2,
    },
  ]);
  assert.equal(b.layers[0].exploited, 0);
  assert.ok(Number.isNaN(b.layers[0].exploitedVulnerability));
});
