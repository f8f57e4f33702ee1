/**
 * Fuzz targets: each loader of an untrusted file, fed inputs mutated from a valid file. A target's
 * `run` must either load the input or throw the project's {@link UserError}; any other error, a
 * hang or an unbounded allocation is a failure. `test/fuzz/parsers.test.ts` runs every target a few
 * hundred times in `npm test`; `npm run fuzz` (test/fuzz/run.ts) runs each 10,000 times or more.
 *
 * To add a loader (for example the checkpoint loader), append a {@link FuzzTarget} to
 * {@link FUZZ_TARGETS}: a name, an arbitrary of inputs (use {@link mutatedBytes} or
 * {@link mutatedJson} around a valid file) and `run`, which returns when the input loaded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../../src/errors.ts';
import { idxDataset, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parseIdx } from '../../src/data/idx.ts';
import { cifarDataset, parseCifarBatch, CIFAR_RECORD_BYTES } from '../../src/data/cifar.ts';
import { decodeImage } from '../../src/node/image.ts';
import { fileHandler } from '../../src/node/fsio.ts';
import { checkCardFitsModel, loadClassifier } from '../../src/node/models.ts';
import { parseLabels, validateCard } from '../../src/models/card.ts';
import { initNodeBackend } from '../../src/node/backend.ts';
import type { CheckpointFiles } from '../../src/train/checkpointFormat.ts';
import { loadCheckpointTarget, mutatedCheckpoint, seedCheckpoint } from '../train/checkpointFuzz.ts';

/** One loader under fuzzing. */
export interface FuzzTarget<T = any> {
  name: string;
  /** Inputs: mostly mutations of a valid file, so that parsing gets deep. */
  input: () => fc.Arbitrary<T>;
  /** Loads one input: returns when it loaded, or throws (a UserError is the only accepted error). */
  run: (input: T) => void | Promise<void>;
  /** Runs per input in `npm test` (default 200). */
  testRuns?: number;
}

// ---------------------------------------------------------------------------------------------
// Mutators

/** One edit of a byte string. */
type ByteEdit =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; n: number };

const interestingU32 = fc.constantFrom(
  0,
  1,
  2,
  3,
  0x7f,
  0xff,
  0x100,
  0xffff,
  0x7fffffff,
  0x80000000,
  0xffffffff,
  10000,
  60000,
);

/** Bytes made from `base` by up to `maxEdits` random edits (byte sets, big-endian u32 fields, cuts, inserts). */
export function mutatedBytes(base: Uint8Array, maxEdits = 6): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: Math.max(0, base.length + 8) });
  const edit: fc.Arbitrary<ByteEdit> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at, value: fc.nat({ max: 255 }) }),
    // Header fields (lengths, sizes, counts) are where parsers trust their input most.
    fc.record({
      kind: fc.constant('u32' as const),
      at: fc.nat({ max: 40 }),
      value: fc.oneof(interestingU32, fc.nat()),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, n: fc.nat({ max: 16 }) }),
  );
  return fc.array(edit, { maxLength: maxEdits }).map((edits) => {
    let b = Uint8Array.from(base);
    for (const e of edits) {
      const i = Math.min(e.at, b.length);
      if (e.kind === 'set' && i < b.length) b[i] = e.value;
      else if (e.kind === 'u32' && i + 4 <= b.length) new DataView(b.buffer).setUint32(i, e.value >>> 0);
      else if (e.kind === 'truncate') b = b.slice(0, i);
      else if (e.kind === 'insert') b = Uint8Array.from([...b.subarray(0, i), ...e.bytes, ...b.subarray(i)]);
      else if (e.kind === 'delete') b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + e.n)]);
    }
    return b;
  });
}

/** Values a hostile file likes to hold: huge and negative numbers, paths out, wrong types. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    -1,
    0,
    1,
    3,
    1e9,
    2 ** 31,
    2 ** 53,
    -(2 ** 31),
    1.5,
    NaN,
    Infinity,
    null,
    '',
    'x',
    '../../../../etc/passwd',
    '../../../../dev/zero',
    '/dev/zero',
    '/etc/passwd',
    '.',
    '..',
    'weights.bin',
    'float32',
    'int32',
    'bool',
    'string',
    'complex64',
    'uint8',
    [],
    {},
    [3, 3, 1, 32],
    [1e9, 1e9],
    [-1],
  ),
);

/** Every path (list of keys) into a JSON value, the root included. */
function jsonPaths(
  v: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...prefix, i], out));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) jsonPaths(x, [...prefix, k], out);
  return out;
}

/** JSON made from `base` by up to `maxEdits` edits: a value replaced by a hostile one, or deleted. */
export function mutatedJson<T>(base: T, maxEdits = 4): fc.Arbitrary<T> {
  const paths = jsonPaths(base);
  const edit = fc.record({ path: fc.nat({ max: paths.length - 1 }), value: hostileValue, del: fc.boolean() });
  return fc.array(edit, { maxLength: maxEdits }).map((edits) => {
    let v = structuredClone(base) as unknown;
    for (const e of edits) {
      const p = paths[e.path];
      if (p.length === 0) {
        v = e.value;
        continue;
      }
      let parent = v as Record<string | number, unknown> | undefined;
      for (const k of p.slice(0, -1))
        parent = parent && typeof parent === 'object' ? (parent[k] as typeof parent) : undefined;
      if (!parent || typeof parent !== 'object') continue;
      const last = p[p.length - 1];
      if (e.del && !Array.isArray(parent)) delete parent[last];
      else parent[last] = e.value;
    }
    return v as T;
  });
}

// ---------------------------------------------------------------------------------------------
// Valid seeds

function idxBytes(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Uint8Array.from(Buffer.concat([head, data]));
}
const IDX_IMAGES = idxBytes(
  IDX_IMAGES_MAGIC,
  [3, 4, 4],
  Uint8Array.from({ length: 48 }, (_, i) => i * 5),
);
const IDX_LABELS = idxBytes(IDX_LABELS_MAGIC, [3], Uint8Array.from([1, 0, 9]));
const CIFAR = Uint8Array.from({ length: 2 * CIFAR_RECORD_BYTES }, (_, i) =>
  i % CIFAR_RECORD_BYTES === 0 ? (i / CIFAR_RECORD_BYTES) * 7 : i % 251,
);

const MODEL_DIR = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  '..',
  'models',
  'mnist-small-cnn',
);
const MODEL_JSON = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8'));
const CARD = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'advlens.json'), 'utf8'));
const LABELS = Array.from({ length: 10 }, (_, i) => ({ index: i, name: `digit ${i}` }));

let images: { png: Uint8Array; jpeg: Uint8Array } | undefined;
async function seedImages(): Promise<{ png: Uint8Array; jpeg: Uint8Array }> {
  if (!images) {
    const px = Buffer.from(Uint8Array.from({ length: 6 * 5 * 3 }, (_, i) => (i * 37) % 256));
    const raw = sharp(px, { raw: { width: 6, height: 5, channels: 3 } });
    images = {
      png: new Uint8Array(await raw.clone().png().toBuffer()),
      jpeg: new Uint8Array(await raw.clone().jpeg({ quality: 80 }).toBuffer()),
    };
  }
  return images;
}

/** A scratch model folder whose model.json a run rewrites; weights.bin is linked from the shipped model. */
let scratchDir: string | undefined;
function modelScratch(): string {
  if (!scratchDir) {
    scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-fuzz-'));
    fs.copyFileSync(path.join(MODEL_DIR, 'weights.bin'), path.join(scratchDir, 'weights.bin'));
  }
  return scratchDir;
}

let smallCnn: tfl.LayersModel | undefined;
async function referenceModel(): Promise<tfl.LayersModel> {
  if (!smallCnn) {
    await initNodeBackend('cpu');
    smallCnn = (await loadClassifier(MODEL_DIR)).model as tfl.LayersModel;
  }
  return smallCnn;
}

// ---------------------------------------------------------------------------------------------
// Targets

export const FUZZ_TARGETS: FuzzTarget[] = [
  {
    // A training checkpoint (state.json, weights, optimizer slots) as `train --resume` reads it.
    name: 'checkpoint',
    input: () => mutatedCheckpoint(checkpointSeed!),
    run: async (files: CheckpointFiles) => {
      if ((await loadCheckpointTarget(files)) === 'refused') throw new UserError('checkpoint refused'); // counted as a user error: the loader said so in one line
    },
    testRuns: 50, // test/train/checkpointFuzz.test.ts runs 300 more
  },
  {
    name: 'idx',
    input: () =>
      fc.record({
        images: fc.oneof(mutatedBytes(IDX_IMAGES), fc.uint8Array({ maxLength: 64 })),
        labels: fc.oneof(mutatedBytes(IDX_LABELS), fc.constant(IDX_LABELS)),
        limit: fc.option(fc.nat({ max: 5 }), { nil: undefined }),
      }),
    run: ({ images, labels, limit }) => {
      parseIdx(images, IDX_IMAGES_MAGIC, { file: 'images' });
      idxDataset(
        { bytes: images, file: 'images' },
        { bytes: labels, file: 'labels' },
        {
          name: 'fuzz',
          source: 'fuzz',
          classNames: Array.from({ length: 10 }, (_, i) => String(i)),
          limit: limit === 0 ? undefined : limit,
        },
      );
    },
  },
  {
    name: 'cifar',
    input: () =>
      fc.record({
        bytes: fc.oneof(mutatedBytes(CIFAR), fc.uint8Array({ maxLength: 64 })),
        limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      }),
    run: ({ bytes, limit }) => {
      const b = parseCifarBatch(bytes, 'batch.bin', limit);
      cifarDataset([b], { name: 'fuzz', source: 'fuzz', limit });
    },
  },
  {
    name: 'png',
    input: () => fc.constant(null).chain(() => mutatedBytes(images!.png, 4)),
    run: async (bytes) => {
      // As the commands decode: fitted to a model's input size (the full-size decode is bounded
      // by MAX_IMAGE_PIXELS, but a 100-megapixel float copy per input would make the run slow).
      const img = await decodeImage(bytes, { size: [8, 8], channels: 3 });
      if (img.data.length !== 8 * 8 * 3) throw new Error(`shape ${img.shape}`);
    },
  },
  {
    name: 'jpeg',
    input: () => fc.constant(null).chain(() => mutatedBytes(images!.jpeg, 4)),
    run: async (bytes) => {
      await decodeImage(bytes, { size: [8, 8], channels: 1 });
    },
  },
  {
    name: 'model.json',
    input: () => mutatedJson(MODEL_JSON, 3),
    run: async (json) => {
      const dir = modelScratch();
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      fs.rmSync(path.join(dir, 'advlens.json'), { force: true });
      const c = await loadClassifier(dir, { onWarning: () => {} });
      c.model.dispose();
    },
    testRuns: 100,
  },
  {
    name: 'weights-manifest',
    input: () =>
      fc.record({
        manifest: mutatedJson(MODEL_JSON.weightsManifest, 4),
        weightsLength: fc.oneof(fc.constant(-1), fc.nat({ max: 300_000 })),
      }),
    run: async ({ manifest, weightsLength }) => {
      const dir = modelScratch();
      const weights = path.join(dir, 'weights.bin');
      if (weightsLength >= 0) fs.truncateSync(weights, weightsLength);
      fs.writeFileSync(
        path.join(dir, 'model.json'),
        JSON.stringify({ ...MODEL_JSON, weightsManifest: manifest }),
      );
      try {
        const a = await fileHandler(dir).load!();
        const need = (a.weightSpecs ?? []).length;
        if (need > 0 && !a.weightData) throw new Error('specs without data');
      } finally {
        if (weightsLength >= 0) fs.copyFileSync(path.join(MODEL_DIR, 'weights.bin'), weights);
      }
    },
  },
  {
    name: 'card',
    input: () =>
      fc.oneof({ weight: 4, arbitrary: mutatedJson(CARD, 3) }, { weight: 1, arbitrary: fc.jsonValue() }),
    run: async (json) => {
      const card = validateCard(json, 'advlens.json');
      checkCardFitsModel(await referenceModel(), card, 'fuzz');
    },
  },
  {
    name: 'labels.json',
    input: () =>
      fc.oneof(
        { weight: 3, arbitrary: mutatedJson(LABELS, 3) },
        {
          weight: 1,
          arbitrary: mutatedJson(
            LABELS.map((l) => l.name),
            3,
          ),
        },
        { weight: 1, arbitrary: fc.jsonValue() },
      ),
    run: (json) => {
      const names = parseLabels(json, 10);
      if (names.length !== 10 || names.some((n) => typeof n !== 'string'))
        throw new Error(`bad names ${names}`);
    },
  },
];

/** Prepares what the targets share (seed images, the backend); call once before running any. */
export async function prepareTargets(): Promise<void> {
  await seedImages();
  await referenceModel();
  checkpointSeed = await seedCheckpoint();
}

/** A valid training checkpoint (test/train/checkpointFuzz.ts), the seed of the checkpoint target. */
let checkpointSeed: CheckpointFiles | null = null;

/** Outcome counts of running one target. */
export interface FuzzCounts {
  runs: number;
  loaded: number;
  userErrors: number;
  /** The slowest single input, in ms (a hang would show here, or never return). */
  slowestMs: number;
}

/**
 * The property of a target: every input loads or throws a UserError, within `maxMs`; counts go into
 * `counts`. Leaked tensors count as a failure too.
 */
export function property<T>(
  t: FuzzTarget<T>,
  counts: FuzzCounts,
  maxMs = 10_000,
): fc.IAsyncPropertyWithHooks<[T]> {
  return fc.asyncProperty(t.input(), async (x) => {
    const tensors = tf.memory().numTensors;
    const t0 = performance.now();
    try {
      await t.run(x);
      counts.loaded++;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      if (e.message.includes('\n')) throw new Error(`a UserError of several lines: ${e.message}`);
      counts.userErrors++;
    } finally {
      counts.runs++;
    }
    const ms = performance.now() - t0;
    counts.slowestMs = Math.max(counts.slowestMs, ms);
    if (ms > maxMs) throw new Error(`${t.name}: one input took ${ms.toFixed(0)} ms`);
    if (tf.memory().numTensors !== tensors)
      throw new Error(`${t.name}: ${tf.memory().numTensors - tensors} tensors leaked`);
  });
}

export const newCounts = (): FuzzCounts => ({ runs: 0, loaded: 0, userErrors: 0, slowestMs: 0 });
