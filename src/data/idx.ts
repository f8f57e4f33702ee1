/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
 * header `00 00 <type> <ndims>`, one uint32 per dimension, then the values. advlens reads the
 * unsigned-byte type (0x08): images have magic 0x00000803 [N, rows, cols], labels 0x00000801 [N].
 * These parsers take bytes that are already decompressed; {@link isGzip} tells the caller when to
 * gunzip first.
 */
import { UserError } from '../errors.ts';
import { makeDataset, type Dataset } from './dataset.ts';

/** A parsed IDX file of unsigned bytes. */
export interface Idx {
  /** Dimensions, e.g. [10000, 28, 28] or [10000]. */
  dims: number[];
  /** The values, row-major (a view into the input bytes). */
  data: Uint8Array;
}

/** Magic number of an IDX file of unsigned-byte images [N, rows, cols]. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned-byte labels [N]. */
export const IDX_LABELS_MAGIC = 0x00000801;

/** True when `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Where the bytes came from and how to fix a bad file, for error messages. */
export interface IdxSource {
  /** File name or path, named in every error. */
  file: string;
  /** How to fix a bad file, e.g. "re-download it with `advlens data fetch mnist`". */
  fix?: string;
}

function fail(src: IdxSource, what: string): never {
  throw new UserError(`${src.file}: ${what}; ${src.fix ?? 're-download the file'}`);
}

/**
 * Reads the header of an IDX file: its magic number and dimensions. Needs only the first
 * `4 + 4 * ndims` bytes, so a caller can count examples without reading the data.
 */
export function idxHeader(
  bytes: Uint8Array,
  src: IdxSource,
): { magic: number; dims: number[]; offset: number } {
  if (bytes.length < 4) fail(src, `only ${bytes.length} bytes, too short for an IDX file`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(src, `not an IDX file (starts with ${hex(bytes, 4)}, expected 00 00 08 01 or 00 00 08 03)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const ndims = bytes[3];
  const offset = 4 + 4 * ndims;
  if (bytes.length < offset)
    fail(src, `header truncated (${bytes.length} bytes, ${ndims} dimensions need ${offset})`);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  return { magic, dims, offset };
}

/**
 * Parses an IDX file of unsigned bytes with the `expected` magic number, checking that the data
 * is exactly as long as the dimensions say. Throws a {@link UserError} naming the file and the fix
 * for a wrong magic number or a truncated or overlong file.
 */
export function parseIdx(bytes: Uint8Array, expected: number, src: IdxSource): Idx {
  if (isGzip(bytes)) fail(src, 'still gzip-compressed (gunzip it first)');
  const { magic, dims, offset } = idxHeader(bytes, src);
  if (magic !== expected) {
    const what = (m: number) =>
      m === IDX_IMAGES_MAGIC ? 'images' : m === IDX_LABELS_MAGIC ? 'labels' : 'unknown type';
    fail(
      src,
      `magic number 0x${magic.toString(16).padStart(8, '0')} (${what(magic)}), expected 0x${expected
        .toString(16)
        .padStart(8, '0')} (${what(expected)})`,
    );
  }
  const need = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - offset;
  if (have < need) fail(src, `truncated: ${have} data bytes where [${dims.join(', ')}] needs ${need}`);
  if (have > need) fail(src, `${have - need} bytes of trailing data after [${dims.join(', ')}]`);
  return { dims, data: bytes.subarray(offset, offset + need) };
}

/** Options for {@link idxDataset}. */
export interface IdxDatasetOptions {
  /** Dataset name (the spec), e.g. `mnist:test`. */
  name: string;
  /** Where it was read from. */
  source: string;
  classNames: string[];
  /** Keep only the first `limit` examples. */
  limit?: number;
  /** How to fix bad files, for error messages. */
  fix?: string;
}

/**
 * Builds a {@link Dataset} (uint8 pixels, shape [rows, cols, 1]) from the decompressed bytes of an
 * IDX image file and an IDX label file. Throws a {@link UserError} naming both files when their
 * counts differ or a label is outside the class list.
 */
export function idxDataset(
  images: { bytes: Uint8Array; file: string },
  labels: { bytes: Uint8Array; file: string },
  opts: IdxDatasetOptions,
): Dataset {
  const img = parseIdx(images.bytes, IDX_IMAGES_MAGIC, { file: images.file, fix: opts.fix });
  const lab = parseIdx(labels.bytes, IDX_LABELS_MAGIC, { file: labels.file, fix: opts.fix });
  if (img.dims.length !== 3)
    fail({ file: images.file, fix: opts.fix }, `${img.dims.length} dimensions, expected 3`);
  if (lab.dims.length !== 1)
    fail({ file: labels.file, fix: opts.fix }, `${lab.dims.length} dimensions, expected 1`);
  const [n, rows, cols] = img.dims;
  if (lab.dims[0] !== n) {
    throw new UserError(
      `${images.file} holds ${n} images but ${labels.file} holds ${lab.dims[0]} labels; the two files come from different sets or one is damaged; ${opts.fix ?? 're-download them'}`,
    );
  }
  const k = opts.limit === undefined ? n : Math.min(n, opts.limit);
  const per = rows * cols;
  const labelValues = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    const l = lab.data[i];
    if (l >= opts.classNames.length) {
      fail(
        { file: labels.file, fix: opts.fix },
        `label ${l} at example ${i} is not one of the ${opts.classNames.length} classes`,
      );
    }
    labelValues[i] = l;
  }
  return makeDataset({
    name: opts.name,
    source: opts.source,
    classNames: opts.classNames,
    shape: [rows, cols, 1],
    // A copy, so the (possibly much larger) decompressed file can be freed.
    pixels: img.data.slice(0, k * per),
    labels: labelValues,
  });
}

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
