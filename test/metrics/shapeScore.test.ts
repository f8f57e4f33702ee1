import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeMagnitude, pearson, shapeScore, shapeScores } from '../../src/metrics/shapeScore.ts';
import type { ExplainSetResult } from '../../src/explain/explainSet.ts';

// A 4x4 two-channel image: a vertical step from 0 (columns 0-1) to 1 (columns 2-3) in both channels.
const step = {
  data: new Float32Array(Array.from({ length: 16 }, (_, p) => (p % 4 >= 2 ? 1 : 0)).flatMap((v) => [v, v])),
  shape: [4, 4, 2] as [number, number, number],
};

test('edgeMagnitude of a vertical step is 4 beside the step and 0 elsewhere (Sobel by hand)', () => {
  // Column 1: right column (1, 1, 1 weighted 1, 2, 1) minus left (0) = 4; column 2 likewise; columns 0
  // and 3 see equal values on both sides (the border replicated); gy is 0 everywhere.
  assert.deepEqual(Array.from(edgeMagnitude(step)), [0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0]);
  // A diagonal corner: the single bright pixel at (0, 0) of a 3x3 grey image.
  const corner = {
    data: new Float32Array([1, 0, 0, 0, 0, 0, 0, 0, 0]),
    shape: [3, 3, 1] as [number, number, number],
  };
  const e = edgeMagnitude(corner);
  // At (1, 1): gx = -(1) (top-left, weight 1), gy = -(1): magnitude sqrt(2).
  assert.ok(Math.abs(e[4] - Math.SQRT2) < 1e-6);
  // At (0, 0) with replication: left and top neighbours are the pixel itself: gx = -(1 + 2 + 1*0)...
  // rows r-1 = 0 (replicated), r, r+1 = 1: gx = at(-1,1)+2at(0,1)+at(1,1) - at(-1,-1) - 2at(0,-1) - at(1,-1) = 0 - 1 - 2 - 0 = -3.
  // gy = at(1,-1)+2at(1,0)+at(1,1) - at(-1,-1) - 2at(-1,0) - at(-1,1) = 0 - 1 - 2 - 0 = -3.
  assert.ok(Math.abs(e[0] - Math.sqrt(18)) < 1e-6);
});

test('pearson equals the hand-computed value and is NaN for a constant array', () => {
  // a = 1, 2, 3; b = 2, 4, 7: sab = 5, saa = 2, sbb = 114/9 -> 5 / sqrt(228/9) = 0.993399.
  assert.ok(Math.abs(pearson([1, 2, 3], [2, 4, 7]) - 5 / Math.sqrt(228 / 9)) < 1e-12);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [2, 4, 7])));
});

test('shapeScore is 1 for a map that is the edge map (either sign) and lower for one that is not', () => {
  const edges = edgeMagnitude(step);
  assert.ok(Math.abs(shapeScore(edges, step) - 1) < 1e-6);
  assert.ok(
    Math.abs(
      shapeScore(
        edges.map((v) => -v),
        step,
      ) - 1,
    ) < 1e-6,
  );
  // A map on the left half, 1 1 0 0 per row, against edges 0 4 4 0: deviations +-1/2 and -2 2 2 -2
  // give a covariance of -1 + 1 - 1 + 1 = 0 per row: uncorrelated, by hand.
  const left = Array.from({ length: 16 }, (_, p) => (p % 4 < 2 ? 1 : 0));
  assert.ok(Math.abs(shapeScore(left, step)) < 1e-6);
  // Noise-like maps score well below an edge map.
  const noise = Array.from({ length: 16 }, (_, p) => ((p * 7) % 5) / 4);
  assert.ok(shapeScore(noise, step) < 0.5);
});

test('shapeScores gives each model and method its per-image scores and their mean, skipping flat maps', () => {
  const edges = edgeMagnitude(step);
  const left = Float32Array.from({ length: 16 }, (_, p) => (p % 4 < 2 ? 1 : 0));
  const set = {
    names: ['robust', 'standard'],
    methods: ['smoothgrad'],
    pictures: [
      { image: step, values: [[edges], [left]] },
      { image: step, values: [[new Float32Array(16)], [edges]] },
    ],
  } as unknown as ExplainSetResult;
  const r = shapeScores(set);
  assert.deepEqual(
    r.map((x) => [
      x.model,
      x.method,
      x.perImage.map((v) => (v === null ? null : Math.round(v * 1e6) / 1e6)),
      x.mean && Math.round(x.mean * 1e6) / 1e6,
    ]),
    [
      ['robust', 'smoothgrad', [1, null], 1],
      ['standard', 'smoothgrad', [0, 1], 0.5],
    ],
  );
});
