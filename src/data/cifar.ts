/**
 * The CIFAR-10 binary release (https://www.cs.toronto.edu/~kriz/cifar.html,
 * `cifar-10-batches-bin/`): each batch file is a run of 3073-byte records, one label byte (0-9)
 * then 1024 red, 1024 green and 1024 blue bytes of a 32x32 image in row-major order. advlens keeps
 * images as [H, W, C], so the planes are interleaved while parsing.
 */
import { UserError } from '../errors.ts';
import { CIFAR10_CLASSES } from './catalog.ts';
import { makeDataset, type Dataset } from './dataset.ts';

/** Bytes per CIFAR-10 record: 1 label + 3 x 32 x 32 pixels. */
export const CIFAR_RECORD_BYTES = 3073;
const SIDE = 32;
const PLANE = SIDE * SIDE;

/** One parsed batch file: pixels [n, 32, 32, 3] uint8 and labels [n]. */
export interface CifarBatch {
  pixels: Uint8Array;
  labels: Int32Array;
}

/**
 * Parses the records of one batch file (at most `limit` of them), converting each from planar
 * [3, 32, 32] to [32, 32, 3]. Throws a {@link UserError} naming `file` when its length is not a
 * whole number of records or a label is not 0-9.
 */
export function parseCifarBatch(bytes: Uint8Array, file: string, limit?: number, fix?: string): CifarBatch {
  const again = fix ?? 're-download it with `advlens data fetch cifar10`';
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD_BYTES !== 0) {
    throw new UserError(
      `${file}: ${bytes.length} bytes is not a whole number of ${CIFAR_RECORD_BYTES}-byte CIFAR-10 records (truncated or not a CIFAR-10 binary batch); ${again}`,
    );
  }
  const total = bytes.length / CIFAR_RECORD_BYTES;
  const n = limit === undefined ? total : Math.min(total, limit);
  const pixels = new Uint8Array(n * PLANE * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const rec = i * CIFAR_RECORD_BYTES;
    const label = bytes[rec];
    if (label > 9) {
      throw new UserError(
        `${file}: record ${i} has label ${label}, not 0-9 (not a CIFAR-10 batch?); ${again}`,
      );
    }
    labels[i] = label;
    const out = i * PLANE * 3;
    for (let p = 0; p < PLANE; p++) {
      pixels[out + 3 * p] = bytes[rec + 1 + p];
      pixels[out + 3 * p + 1] = bytes[rec + 1 + PLANE + p];
      pixels[out + 3 * p + 2] = bytes[rec + 1 + 2 * PLANE + p];
    }
  }
  return { pixels, labels };
}

/**
 * Class names from the release's `batches.meta.txt` (one per line); falls back to the standard
 * list when the text does not hold exactly ten names.
 */
export function parseBatchesMeta(text: string | undefined): string[] {
  if (text === undefined) return CIFAR10_CLASSES.slice();
  const names = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return names.length === 10 ? names : CIFAR10_CLASSES.slice();
}

/**
 * Joins parsed batches into one {@link Dataset} of uint8 pixels, shape [32, 32, 3], keeping at most
 * `limit` examples in file order.
 */
export function cifarDataset(
  batches: CifarBatch[],
  opts: { name: string; source: string; classNames?: string[]; limit?: number },
): Dataset {
  const total = batches.reduce((s, b) => s + b.labels.length, 0);
  const n = opts.limit === undefined ? total : Math.min(total, opts.limit);
  const per = PLANE * 3;
  const pixels = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  let at = 0;
  for (const b of batches) {
    const k = Math.min(b.labels.length, n - at);
    if (k <= 0) break;
    pixels.set(b.pixels.subarray(0, k * per), at * per);
    labels.set(b.labels.subarray(0, k), at);
    at += k;
  }
  return makeDataset({
    name: opts.name,
    source: opts.source,
    classNames: opts.classNames ?? CIFAR10_CLASSES.slice(),
    shape: [SIDE, SIDE, 3],
    pixels,
    labels,
  });
}
