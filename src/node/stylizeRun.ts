/**
 * `advlens stylize`: a stylised copy of a dataset written once, as a class-per-folder tree of
 * lossless PNGs (`OUT/<class>/<index>.png`, the index in the source set, zero-padded) plus
 * `OUT/advlens-stylize.json` (what produced it), so evaluations load it as `folder:OUT` instead of
 * stylising again. Every class gets its folder (also an empty one), so `folder:OUT` has the
 * source's labels. Resumable: each PNG is written atomically and a rerun with the same options
 * skips the images already there; with other options it stops with a one-line error. Each image
 * is stylised from (seed, index) alone, so a resumed run writes the same pixels as a whole one.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.ts';
import { getBatch } from '../data/dataset.ts';
import type { Stylizer } from '../data/transforms/stylize.ts';
import { UserError } from '../errors.ts';
import { readJson, writeFileAtomic } from './fsio.ts';
import { encodePng } from './image.ts';
import { gridLabelsSvg, gridLayout, gridPixels, type GridPicture } from '../report/grid.ts';
import { nodeImageEncoder } from './reportFiles.ts';

/** The provenance file's name inside the output folder. */
export const STYLIZE_PROVENANCE = 'advlens-stylize.json';

/**
 * What must match for a rerun to resume a folder (the rest of the provenance may differ). Not the
 * limit: image i depends on (seed, i) only, so a rerun with a larger --limit extends the folder.
 */
export interface StylizeKey {
  data: string;
  method: string;
  seed: number;
  workSize: number;
  /** Style strength of the arbitrary network, present only when it is not 1. */
  strength?: number;
}

/** Options of {@link stylizeDataset}. */
export interface StylizeDatasetOptions {
  key: StylizeKey;
  /** Extra provenance fields (command, sources, versions...), written with the key. */
  provenance: object;
  /** Images per stylisation batch (default 8). */
  batchSize?: number;
  onProgress?: (done: number, total: number, skipped: number) => void;
}

/** The result of {@link stylizeDataset}. */
export interface StylizeDatasetResult {
  dir: string;
  images: number;
  written: number;
  skipped: number;
  seconds: number;
  /** Images stylised per second (written ones only). */
  imagesPerSecond: number;
}

/** File of image `i` (of `n`): `<class>/<index>.png`. */
export function stylizedFile(ds: Dataset, i: number): string {
  const digits = Math.max(5, String(ds.size - 1).length);
  return path.join(ds.classNames[ds.labels[i]], `${String(i).padStart(digits, '0')}.png`);
}

function checkClassNames(names: string[]): void {
  for (const n of names)
    if (n === '' || n === '.' || n === '..' || /[\\/\0]/.test(n) || n.startsWith('.'))
      throw new UserError(
        `class name '${n}' cannot be a folder name; stylize needs class names usable as folders`,
      );
}

/**
 * Checks that `dir` can take a stylisation made with `key`: new, empty, or holding one made with
 * the same key (to resume). A one-line {@link UserError} otherwise; creates nothing.
 */
export function checkStylizeFolder(dir: string, key: StylizeKey): void {
  const provFile = path.join(dir, STYLIZE_PROVENANCE);
  if (fs.existsSync(provFile)) {
    const old = readJson<{ key?: StylizeKey }>(provFile, 'stylize provenance');
    if (JSON.stringify(old.key) !== JSON.stringify(key))
      throw new UserError(
        `${dir} holds a stylisation made with ${JSON.stringify(old.key)}; rerun with those options to resume it, or choose another --out`,
      );
  } else if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    throw new UserError(
      `${dir} is not empty and holds no ${STYLIZE_PROVENANCE}; choose an empty or new --out folder`,
    );
  }
}

/**
 * Stylises `data` into `dir` with `stylizer` (see the file comment). Throws a one-line
 * {@link UserError} when `dir` holds a stylisation made with other options.
 */
export async function stylizeDataset(
  data: Dataset,
  stylizer: Stylizer,
  dir: string,
  opts: StylizeDatasetOptions,
): Promise<StylizeDatasetResult> {
  if (data.shape[2] !== 3)
    throw new UserError(
      `stylize needs colour images; ${opts.key.data} has ${data.shape[2]} channel(s) (the networks paint RGB textures)`,
    );
  checkClassNames(data.classNames);
  checkStylizeFolder(dir, opts.key);
  const provFile = path.join(dir, STYLIZE_PROVENANCE);
  const write = (status: 'in progress' | 'complete', extra: Record<string, unknown> = {}) =>
    writeFileAtomic(
      provFile,
      JSON.stringify(
        {
          ...opts.provenance,
          key: opts.key,
          classes: data.classNames,
          images: data.size,
          layout: '<class>/<index in the source set>.png, lossless PNG at the source size',
          status,
          ...extra,
        },
        null,
        2,
      ) + '\n',
    );
  fs.mkdirSync(dir, { recursive: true });
  for (const c of data.classNames) fs.mkdirSync(path.join(dir, c), { recursive: true });
  write('in progress');
  const todo: number[] = [];
  for (let i = 0; i < data.size; i++) if (!fs.existsSync(path.join(dir, stylizedFile(data, i)))) todo.push(i);
  const skipped = data.size - todo.length;
  const [h, w, c] = data.shape;
  const bs = opts.batchSize ?? 8;
  const t0 = performance.now();
  let done = skipped;
  opts.onProgress?.(done, data.size, skipped);
  for (let at = 0; at < todo.length; at += bs) {
    const idx = todo.slice(at, at + bs);
    const { x, y } = getBatch(data, idx);
    let pixels: Float32Array;
    try {
      const out = stylizer(x, idx);
      pixels = out.dataSync() as Float32Array;
      out.dispose();
    } finally {
      tf.dispose([x, y]);
    }
    const per = h * w * c;
    for (const [k, i] of idx.entries()) {
      const png = await encodePng(pixels.subarray(k * per, (k + 1) * per), [h, w, c]);
      writeFileAtomic(path.join(dir, stylizedFile(data, i)), png);
    }
    done += idx.length;
    opts.onProgress?.(done, data.size, skipped);
  }
  const seconds = (performance.now() - t0) / 1000;
  const imagesPerSecond = todo.length && seconds > 0 ? todo.length / seconds : NaN;
  write('complete', { lastRun: { written: todo.length, skipped, seconds, imagesPerSecond } });
  return {
    dir: path.resolve(dir),
    images: data.size,
    written: todo.length,
    skipped,
    seconds,
    imagesPerSecond,
  };
}

/**
 * A contact sheet of the first `count` images of `data` and their stylised copies in `dir`: a grid
 * of two rows per ten images (source above, stylised below), labelled with the class; PNG bytes.
 */
export async function contactSheet(data: Dataset, dir: string, count = 20): Promise<Uint8Array> {
  const { decodeImage } = await import('./image.ts');
  const n = Math.min(count, data.size);
  const [h, w, c] = data.shape;
  const per = h * w * c;
  const cols = Math.min(10, n);
  const rows: GridPicture[][] = [];
  const rowLabels: string[] = [];
  for (let start = 0; start < n; start += cols) {
    const src: GridPicture[] = [];
    const sty: GridPicture[] = [];
    for (let i = start; i < Math.min(n, start + cols); i++) {
      const orig = new Float32Array(per);
      for (let k = 0; k < per; k++) {
        const v = data.pixels[i * per + k];
        orig[k] = data.pixels instanceof Uint8Array ? v / 255 : v;
      }
      src.push({ data: orig, shape: [h, w, c] });
      const img = await decodeImage(path.join(dir, stylizedFile(data, i)), { channels: 3 });
      sty.push({ data: img.data, shape: img.shape });
    }
    rows.push(src, sty);
    rowLabels.push(`source ${start}-${start + src.length - 1}`, 'stylised');
  }
  const colLabels = Array.from({ length: cols }, (_, j) =>
    Array.from({ length: Math.ceil(n / cols) }, (_, r) => r * cols + j)
      .filter((i) => i < n)
      .map((i) => data.classNames[data.labels[i]])
      .join(' / '),
  );
  const labels = { rows: rowLabels.map((s) => [s]), cols: colLabels };
  const layout = gridLayout(rows.length, cols, h, w, labels);
  const px = gridPixels(rows, layout);
  return nodeImageEncoder.pngWithSvg(px, [layout.height, layout.width, 3], gridLabelsSvg(layout, labels));
}
