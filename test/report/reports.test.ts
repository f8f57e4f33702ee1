import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageEncoder } from '../../src/report/files.ts';
import { fileContent } from '../../src/report/files.ts';
import { adversarialGrid, robustnessReport } from '../../src/report/robustness.ts';
import { explainReport } from '../../src/report/explain.ts';
import { reportPage } from '../../src/report/html.ts';
import { colorLegend } from '../../src/report/plot.ts';
import type { RobustnessResult, RobustExample } from '../../src/metrics/robustness.ts';
import type { ExplainSetResult } from '../../src/explain/explainSet.ts';
import { displayDefaults } from '../../src/explain/display.ts';

/** An encoder that records what it was given and answers the pixels as bytes. */
function recorder() {
  const calls: { data: number[]; shape: number[]; svg?: string }[] = [];
  const enc: ImageEncoder = {
    png: async (data, shape) => {
      calls.push({ data: Array.from(data), shape: [...shape] });
      return Uint8Array.from([calls.length]);
    },
    pngWithSvg: async (data, shape, svg) => {
      calls.push({ data: Array.from(data), shape: [...shape], svg });
      return Uint8Array.from([calls.length]);
    },
  };
  return { enc, calls };
}

/** A 2x2 gray example with the given perturbation. */
function example(eps: number, index: number, delta: number[], prediction: number): RobustExample {
  const clean = [0.2, 0.4, 0.6, 0.8];
  return {
    attack: 'pgd-linf',
    eps,
    index,
    label: index,
    cleanPrediction: index,
    prediction,
    image: Float32Array.from(clean, (v, i) => v + delta[i]),
    delta: Float32Array.from(delta),
  };
}

const result: RobustnessResult = {
  clean: { accuracy: 1, correct: 2, examples: 2, predictions: Int32Array.from([0, 1]) },
  rows: [0, 0.1].map((eps) => ({
    attack: 'pgd-linf',
    eps,
    examples: 2,
    correct: eps ? 1 : 2,
    accuracy: eps ? 0.5 : 1,
    successRate: eps ? 0.5 : 0,
    meanLinf: eps,
    meanL2: eps,
    meanL1: eps,
    seconds: 0.1,
    options: {},
  })),
  checks: [{ attack: 'pgd-linf', name: 'eps 0 equals clean', passed: true, detail: 'ok' }],
  examples: [
    example(0, 0, [0, 0, 0, 0], 0),
    example(0, 1, [0, 0, 0, 0], 1),
    example(0.1, 0, [0.1, -0.1, 0, 0.05], 1),
    example(0.1, 1, [0.05, 0, 0, -0.05], 1),
  ],
};

test('adversarialGrid: clean images on top, one row per eps > 0, perturbations amplified by one factor per row', async () => {
  const { enc, calls } = recorder();
  const g = await adversarialGrid(result, {
    labels: ['zero', 'one'],
    shape: [2, 2, 1],
    dir: 'ex',
    encoder: enc,
  });
  assert.deepEqual(
    g.files.map((f) => f.path),
    ['ex/clean-0.png', 'ex/clean-1.png', 'ex/0.png', 'ex/0-delta.png', 'ex/1.png', 'ex/1-delta.png'],
  );
  // The clean image is x' - delta.
  calls[0].data.forEach((v, i) => assert.ok(Math.abs(v - [0.2, 0.4, 0.6, 0.8][i]) < 1e-6));
  // Row eps 0.1: largest |delta| 0.1, so k = 5 for both images: 0.5 + 5 delta.
  const amp = (d: number[]) => d.map((x) => 0.5 + 5 * x);
  calls[3].data.forEach((v, i) => assert.ok(Math.abs(v - amp([0.1, -0.1, 0, 0.05])[i]) < 1e-6));
  calls[5].data.forEach((v, i) => assert.ok(Math.abs(v - amp([0.05, 0, 0, -0.05])[i]) < 1e-6));
  assert.match(g.html, /perturbation ×5\.0/);
  assert.match(g.html, /zero → one/);
  assert.equal((g.html.match(/<tr>/g) ?? []).length, 3, 'header, clean, eps 0.1');
  assert.doesNotMatch(g.html, /eps 0</, 'no eps 0 row: the clean row shows it');
});

test('robustnessReport returns the page, results.json and the example images', async () => {
  const { enc } = recorder();
  const prov = { command: 'advlens eval', seconds: 1 };
  const files = await robustnessReport(
    { model: { name: 'tiny', labels: ['zero', 'one'] }, shape: [2, 2, 1], result, provenance: prov },
    enc,
  );
  assert.deepEqual(
    files.map((f) => f.path).filter((p) => !p.startsWith('examples/')),
    ['index.html', 'results.json'],
  );
  assert.equal(files.filter((f) => f.path.startsWith('examples/')).length, 6);
  const json = JSON.parse(fileContent(files, 'results.json') as string);
  assert.deepEqual(json.provenance, prov);
  assert.deepEqual(json.rows, result.rows);
  assert.equal(json.clean.predictions, undefined);
  const html = fileContent(files, 'index.html') as string;
  assert.match(html, /Sanity checks: all passed/);
  assert.match(html, /<svg/);
  assert.match(html, /<details>/);
  assert.match(html, /href="#examples"/, 'table of contents');
});

test('explainReport: input, map and overlay PNGs per image, a labelled grid, explain.json and the page', async () => {
  const { enc, calls } = recorder();
  const disp = displayDefaults({});
  const set: ExplainSetResult = {
    names: ['m'],
    methods: ['gradient'],
    shape: [2, 2, 1],
    rows: [
      {
        index: 0,
        input: 'img.png',
        label: null,
        models: [
          {
            model: 'm',
            predicted: { index: 1, label: 'one', probability: 0.9 },
            methods: {
              gradient: {
                target: { index: 1, label: 'one', probability: 0.9 },
                stats: { min: 0, max: 1, mean: 0.5, meanAbs: 0.5 },
                mapShape: [2, 2, 1],
                upsampled: false,
                scale: 2,
              },
            },
          },
        ],
      },
    ],
    pictures: [
      {
        image: { data: Float32Array.from([0, 1, 0, 1]), shape: [2, 2, 1] },
        values: [[Float32Array.from([0, 1, 0.5, 0])]],
      },
    ],
    explainers: { m: { gradient: {} } },
    display: { ...disp, percentile: 99, sharedScale: 's', upsampling: 'u' },
    seeds: 'x',
  };
  const r = await explainReport(set, { overlay: true, provenance: { command: 'c' }, encoder: enc });
  assert.deepEqual(
    r.files.map((f) => f.path),
    [
      '000-input.png',
      '000-m-gradient.png',
      '000-m-gradient-overlay.png',
      'grid.png',
      'explain.json',
      'index.html',
    ],
  );
  assert.deepEqual(r.results[0].models[0].methods.gradient.files, {
    map: '000-m-gradient.png',
    overlay: '000-m-gradient-overlay.png',
  });
  // The map is coloured: value 1 is the colormap's top (inferno: pale yellow), 0 its bottom.
  assert.deepEqual(calls[1].data.slice(3, 6), [252, 255, 164]);
  assert.deepEqual(calls[1].data.slice(0, 3), [0, 0, 4]);
  const grid = calls[3];
  assert.deepEqual(grid.shape, [r.grid.height, r.grid.width, 3]);
  assert.match(grid.svg!, /img\.png/);
  assert.match(grid.svg!, />m gradient</);
  assert.equal(r.grid.content, 'overlays');
  const json = JSON.parse(fileContent(r.files, 'explain.json') as string);
  assert.deepEqual(json.results, JSON.parse(JSON.stringify(r.results)));
  assert.match(fileContent(r.files, 'index.html') as string, /linearGradient/, 'colour-scale legend');
});

test('reportPage: anchors for every section, unique, and a contents list linking them', () => {
  const html = reportPage(
    'T',
    [
      { title: 'Accuracy', html: '' },
      { title: 'Accuracy', html: '' },
      { title: 'Robustness: PGD L-inf', html: '' },
    ],
    { a: 1 },
  );
  assert.match(html, /<h2 id="accuracy">/);
  assert.match(html, /<h2 id="accuracy-2">/);
  assert.match(html, /<a href="#robustness-pgd-l-inf">/);
  assert.match(html, /<details><summary>/);
  assert.doesNotMatch(
    reportPage('T', [{ title: 'A', html: '' }], {}),
    /Contents/,
    'no contents for one section',
  );
});

test('colorLegend: the signed scale runs blue, white, red with -scale, 0, +scale ticks', () => {
  const svg = colorLegend('diverging', 'signed', { scaleLabel: 's' });
  assert.match(svg, /stop offset="0\.0000" stop-color="rgb\(33,102,172\)"/);
  assert.match(svg, /stop offset="0\.5000" stop-color="rgb\(247,247,247\)"/);
  assert.match(svg, /stop offset="1\.0000" stop-color="rgb\(178,24,43\)"/);
  assert.match(svg, />−s</);
  assert.match(svg, />\+s</);
});
