/**
 * Node-side loading of the style-transfer networks and paintings for `stylize` (the networks
 * themselves are in the browser-safe `src/data/transforms/`): the fast networks' raw variables
 * (`manifest.json`: name -> filename, shape; little-endian float32 files), the arbitrary networks'
 * two graph models, and the paintings of a folder. Every read is bounded (src/node/fsio.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfc from '@tensorflow/tfjs-converter';
import { UserError } from '../errors.ts';
import { fileHandler, readBounded, readJson, weightFile } from './fsio.ts';
import { decodeImage } from './image.ts';
import { checkFastStyleVariables, type FastStyleVariables } from '../data/transforms/fastStyle.ts';
import {
  arbitraryStylizer,
  fastStylizer,
  type ArbitraryStyleModels,
  type Stylizer,
  type StylizeOptions,
  PAINTING_SIZE,
} from '../data/transforms/stylize.ts';
import { fastStyleNet } from '../data/transforms/fastStyle.ts';
import { dataSearchDirs } from './loadData.ts';

/** Largest variable file read (the biggest real one is 576 KiB). */
const MAX_VARIABLE_BYTES = 64 * 1024 * 1024;

/**
 * Reads a fast style network's variables from `dir` (manifest.json and one file per variable);
 * the caller owns the tensors. One-line {@link UserError}s for a missing, malformed or truncated file.
 */
export function loadFastStyleVariables(dir: string): FastStyleVariables {
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = readJson<Record<string, { filename?: unknown; shape?: unknown }>>(
    manifestPath,
    'style network manifest',
  );
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest))
    throw new UserError(`${manifestPath} is not a manifest (name -> {filename, shape})`);
  const vars: FastStyleVariables = {};
  try {
    for (const [name, e] of Object.entries(manifest)) {
      const shape = e?.shape;
      if (
        typeof e?.filename !== 'string' ||
        !Array.isArray(shape) ||
        !shape.every((d) => Number.isInteger(d) && d > 0)
      )
        throw new UserError(
          `${manifestPath}: variable '${name}' needs a filename and a shape of whole numbers`,
        );
      const size = (shape as number[]).reduce((a, b) => a * b, 1);
      const { file } = weightFile(dir, e.filename, manifestPath);
      const bytes = readBounded(file, 'style network variable', MAX_VARIABLE_BYTES);
      if (bytes.length !== size * 4)
        throw new UserError(
          `${file} holds ${bytes.length} bytes, but ${name} of shape ${shape.join('x')} needs ${size * 4}; re-copy the model`,
        );
      const values = new Float32Array(size);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < size; i++) values[i] = view.getFloat32(i * 4, true);
      vars[name] = tf.tensor(values, shape as number[], 'float32');
    }
    checkFastStyleVariables(vars, dir);
  } catch (e) {
    tf.dispose(Object.values(vars));
    throw e;
  }
  return vars;
}

/** Loads the arbitrary style transfer's `style` and `transfer` graph models from `dir`. */
export async function loadArbitraryStyle(dir: string): Promise<ArbitraryStyleModels> {
  for (const part of ['style', 'transfer'])
    if (!fs.existsSync(path.join(dir, part, 'model.json')))
      throw new UserError(
        `${dir} has no ${part}/model.json; point --style-models at the arbitrary-style folder`,
      );
  const style = await tfc.loadGraphModel(fileHandler(path.join(dir, 'style')));
  const transfer = await tfc.loadGraphModel(fileHandler(path.join(dir, 'transfer')));
  return { style, transfer };
}

/** The paintings of `dir` (sorted JPEG/PNG files), each [1, size, size, 3] in [0, 1] (resized, centre crop). */
export async function loadPaintings(
  dir: string,
  size = PAINTING_SIZE,
): Promise<{ names: string[]; images: tf.Tensor4D[] }> {
  let names: string[];
  try {
    names = fs
      .readdirSync(dir)
      .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
      .sort();
  } catch {
    throw new UserError(`painting folder not found: ${dir}`);
  }
  if (names.length === 0) throw new UserError(`${dir} has no paintings (JPEG, PNG or WebP files)`);
  const images: tf.Tensor4D[] = [];
  for (const n of names) {
    const img = await decodeImage(path.join(dir, n), { size: [size, size], channels: 3, fit: 'cover' });
    images.push(tf.tensor4d(img.data, [1, size, size, 3]));
  }
  return { names, images };
}

/** Where the style models and paintings are: `dir` given, else `<data dir>/..` of the shared layout. */
export interface StyleAssets {
  /** Folder of `arbitrary-style/` and `style-transfer/` (default: `models` beside the data dirs). */
  modelsDir?: string;
  /** Folder of paintings (default: `style-images` in the data dirs). */
  paintingsDir?: string;
  dataDir?: string;
}

function findDir(candidates: string[], what: string, flag: string): string {
  const hit = candidates.find((d) => fs.existsSync(d));
  if (!hit)
    throw new UserError(
      `${what} not found (looked in ${candidates.slice(0, 4).join(', ')}); give it with ${flag}`,
    );
  return hit;
}

/** Candidate folders: each data search dir, and `../models` beside it (the shared layout). */
function candidates(assets: StyleAssets, sub: string, models: boolean): string[] {
  const out: string[] = [];
  for (const d of dataSearchDirs({ dataDir: assets.dataDir }).map((s) => s.path)) {
    out.push(models ? path.join(d, '..', 'models', sub) : path.join(d, sub));
  }
  out.push(models ? path.join('..', 'shared', 'models', sub) : path.join('..', 'shared', 'data', sub));
  return out;
}

/**
 * A ready {@link Stylizer} for `method` (`arbitrary` or `fast:<style>`), with its models and
 * paintings loaded; `dispose()` also frees the models.
 */
export async function loadStylizer(
  method: string,
  opts: StyleAssets & StylizeOptions & { seed?: number; strength?: number } = {},
): Promise<Stylizer & { sources: Record<string, string> }> {
  if (method === 'arbitrary') {
    const modelsDir = opts.modelsDir
      ? path.join(opts.modelsDir, 'arbitrary-style')
      : findDir(candidates(opts, 'arbitrary-style', true), 'the arbitrary style models', '--style-models');
    const paintingsDir =
      opts.paintingsDir ?? findDir(candidates(opts, 'style-images', false), 'the paintings', '--paintings');
    const { names, images } = await loadPaintings(paintingsDir);
    const models = await loadArbitraryStyle(modelsDir).catch((e) => {
      tf.dispose(images);
      throw e;
    });
    try {
      const s = arbitraryStylizer(models, images, { ...opts, paintingNames: names });
      const freeVectors = s.dispose;
      return Object.assign(s, {
        sources: { models: path.resolve(modelsDir), paintings: path.resolve(paintingsDir) },
        dispose: () => {
          freeVectors();
          models.style.dispose();
          models.transfer.dispose();
        },
      });
    } catch (e) {
      models.style.dispose();
      models.transfer.dispose();
      throw e;
    } finally {
      tf.dispose(images);
    }
  }
  const m = /^fast:([A-Za-z0-9_-]+)$/.exec(method);
  if (!m)
    throw new UserError(
      `stylisation method '${method}' is unknown; use arbitrary or fast:<style> (fast:wave, fast:udnie, ...)`,
    );
  const root = opts.modelsDir
    ? path.join(opts.modelsDir, 'style-transfer')
    : findDir(candidates(opts, 'style-transfer', true), 'the fast style networks', '--style-models');
  const dir = path.join(root, m[1]);
  if (!fs.existsSync(dir)) {
    const have = fs.readdirSync(root).sort().join(', ');
    throw new UserError(`no style network '${m[1]}' in ${root}; choose one of ${have}`);
  }
  const vars = loadFastStyleVariables(dir);
  const s = fastStylizer(fastStyleNet(vars), m[1], opts);
  return Object.assign(s, {
    sources: { models: path.resolve(dir) },
    dispose: () => tf.dispose(Object.values(vars)),
  });
}
