/**
 * Image files in Node, through sharp (libvips): decode any JPEG, PNG, WebP, GIF, TIFF or AVIF to
 * pixels in [0, 1], fitted to a size and a channel count; encode pixels losslessly as PNG; read a
 * list of files or a class-per-folder tree as a {@link Dataset}. EXIF orientation is applied and
 * transparency is flattened onto white.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { UserError } from '../errors.ts';
import { makeDataset, type Dataset } from '../data/dataset.ts';
import { mapPool, type DecodeOptions, type Fit, type RawImage, type TreeReader } from '../data/folder.ts';

export type { DecodeOptions, Fit, RawImage } from '../data/folder.ts';

/** A decoded image: float32 [H, W, C] in [0, 1]. */
export interface DecodedImage {
  data: Float32Array;
  shape: [number, number, number];
}

function label(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : 'image buffer';
}

/** Largest image advlens decodes, in pixels (10,000 x 10,000): a header declaring more is refused before any allocation. */
export const MAX_IMAGE_PIXELS = 100_000_000;
/** Longest image side advlens decodes (JPEG's own limit). */
export const MAX_IMAGE_SIDE = 65535;
/** Largest image file advlens reads, in bytes. */
export const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

function checkFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP')
      throw new UserError(`${file} is a symbolic link that loops back on itself; fix or remove the link`);
    if (code === 'ENOENT' && isLink(file))
      throw new UserError(
        `${file} is a symbolic link to nothing (${fs.readlinkSync(file)}); fix or remove the link`,
      );
    throw new UserError(`image not found: ${file}`);
  }
  if (st.isDirectory()) {
    throw new UserError(
      `${file} is a folder, not an image; for a class-per-folder tree use the dataset spec folder:${file}`,
    );
  }
  if (!st.isFile())
    throw new UserError(`${file} is not a regular file (a device, fifo or socket); give an image file`);
  if (st.size > MAX_IMAGE_BYTES)
    throw new UserError(
      `${file} is ${st.size} bytes, more than the ${MAX_IMAGE_BYTES} advlens reads for one image`,
    );
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A sharp pipeline over untrusted input: pixel count limited, so a huge declared size is refused. */
function open(input: string | Uint8Array): Sharp {
  return sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS });
}

/** Applies `size`/`fit` and `channels` to a sharp pipeline and returns the raw pixels. */
async function finish(p: Sharp, channels: 1 | 3, opts: DecodeOptions): Promise<RawImage> {
  if (opts.size) {
    const [h, w] = opts.size;
    p = p.resize({ width: w, height: h, fit: opts.fit === 'cover' ? 'cover' : 'fill', position: 'centre' });
  }
  p = channels === 1 ? p.grayscale() : p.toColourspace('srgb');
  const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    shape: [info.height, info.width, info.channels],
  };
}

/**
 * Decodes an image file or buffer to uint8 [H, W, C]. `size` [H, W] resizes (`fit` `fill`
 * stretches, `cover` resizes the short side and centre-crops); `channels` converts to gray (1) or
 * sRGB (3); without it, grayscale images give 1 channel and others 3. Throws a {@link UserError}
 * naming the file when it is missing or not an image.
 */
export async function decodeRaw(input: string | Uint8Array, opts: DecodeOptions = {}): Promise<RawImage> {
  if (typeof input === 'string') checkFile(input);
  let img: RawImage;
  let channels = opts.channels;
  try {
    const meta = await open(input).metadata();
    if ((meta.width ?? 0) > MAX_IMAGE_SIDE || (meta.height ?? 0) > MAX_IMAGE_SIDE)
      throw new UserError(
        `${label(input)} declares ${meta.width}x${meta.height} pixels, a side over the ${MAX_IMAGE_SIDE} advlens decodes; resize it first`,
      );
    if (channels === undefined) channels = (meta.channels ?? 3) <= 2 ? 1 : 3;
    img = await finish(open(input).rotate().flatten({ background: '#ffffff' }), channels, opts);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const msg = String((e as Error)?.message ?? e).split('\n')[0];
    if (/pixel limit/i.test(msg))
      throw new UserError(
        `${label(input)} declares more than ${MAX_IMAGE_PIXELS} pixels, more than advlens decodes; resize it first`,
      );
    throw new UserError(
      `${label(input)} is not an image advlens can read (JPEG, PNG, WebP, GIF, TIFF, AVIF): ${msg}`,
    );
  }
  if (img.shape[2] !== channels)
    throw new Error(`sharp gave ${img.shape[2]} channels, asked for ${channels}`);
  return img;
}

/**
 * Decodes an image file or buffer to float32 [H, W, C] in [0, 1] (see {@link decodeRaw} for the
 * options). Throws a {@link UserError} naming the file when it is missing or not an image.
 */
export async function decodeImage(
  input: string | Uint8Array,
  opts: DecodeOptions = {},
): Promise<DecodedImage> {
  const raw = await decodeRaw(input, opts);
  const data = new Float32Array(raw.data.length);
  for (let i = 0; i < data.length; i++) data[i] = raw.data[i] / 255;
  return { data, shape: raw.shape };
}

/**
 * Encodes pixels [H, W, C] (C = 1, 3 or 4) as a lossless PNG: float32 values are taken in [0, 1]
 * (clamped), uint8 values in 0-255.
 */
export async function encodePng(
  data: Float32Array | Uint8Array,
  shape: readonly [number, number, number] | readonly number[],
): Promise<Buffer> {
  const [h, w, c] = shape;
  if (data.length !== h * w * c)
    throw new Error(`encodePng: ${data.length} values do not fill ${h}x${w}x${c}`);
  if (c !== 1 && c !== 3 && c !== 4) throw new Error(`encodePng: ${c} channels; PNG needs 1, 3 or 4`);
  const img = sharp(toBytes(data), { raw: { width: w, height: h, channels: c } });
  // A one-channel image stays a grayscale PNG (sharp would otherwise write RGB).
  return (c === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}

/** Pixels as uint8 0-255: uint8 input as is, float input in [0, 1] scaled, clamped and rounded. */
function toBytes(data: Float32Array | Uint8Array): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    bytes[i] = Math.round((v > 1 ? 1 : v > 0 ? v : 0) * 255);
  }
  return bytes;
}

/** Options for {@link loadImageDataset}. */
export interface ImageDatasetOptions extends DecodeOptions {
  /** Dataset name (default `images`). */
  name?: string;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Reads image files as an unlabelled {@link Dataset}: every image gets label 0 of the single class
 * `unknown` (a Dataset has no "no label"). Without `size`, every image is resized to the first
 * one's size; without `channels`, the first image decides.
 */
export async function loadImageDataset(paths: string[], opts: ImageDatasetOptions = {}): Promise<Dataset> {
  if (paths.length === 0) throw new UserError('no image files given');
  const first = await decodeRaw(paths[0], opts);
  const [h, w, c] = first.shape;
  const per = h * w * c;
  const pixels = new Uint8Array(paths.length * per);
  pixels.set(first.data, 0);
  let done = 1;
  opts.onProgress?.(done, paths.length);
  const fixed: DecodeOptions = { size: [h, w], channels: c as 1 | 3, fit: opts.fit };
  await mapPool(paths.slice(1), opts.concurrency ?? 16, async (p, i) => {
    pixels.set((await decodeRaw(p, fixed)).data, (i + 1) * per);
    opts.onProgress?.(++done, paths.length);
  });
  return makeDataset({
    name: opts.name ?? 'images',
    source: paths.join(', '),
    classNames: ['unknown'],
    shape: [h, w, c],
    pixels,
    labels: new Int32Array(paths.length),
  });
}

/** A {@link TreeReader} over the local file system, decoding with sharp. */
export function nodeTreeReader(): TreeReader {
  return {
    list: async (dir) => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch {
        throw new UserError(`folder not found: ${dir}`);
      }
      return entries.map((e) => ({
        name: e.name,
        isDir: e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name))),
      }));
    },
    join: (dir, name) => path.join(dir, name),
    decode: (file, opts) => decodeRaw(file, opts),
    real: (dir) => {
      try {
        return fs.realpathSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ELOOP')
          throw new UserError(`${dir} is a symbolic link that loops back on itself; remove the link`);
        return path.resolve(dir);
      }
    },
  };
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resizes and/or converts the channels of every image of `ds` (uint8 or float pixels) to `size`
 * and `channels`; returns `ds` itself when it already has that shape. The result has uint8 pixels.
 */
export async function fitDataset(
  ds: Dataset,
  opts: { size?: [number, number]; channels?: 1 | 3; fit?: Fit; concurrency?: number },
): Promise<Dataset> {
  const [h, w, c] = ds.shape;
  const [th, tw] = opts.size ?? [h, w];
  const tc = opts.channels ?? (c === 1 ? 1 : 3);
  if (th === h && tw === w && tc === c) return ds;
  const per = h * w * c;
  const outPer = th * tw * tc;
  const pixels = new Uint8Array(ds.size * outPer);
  const idx = Array.from({ length: ds.size }, (_, i) => i);
  await mapPool(idx, opts.concurrency ?? 16, async (i) => {
    const src = toBytes(ds.pixels.subarray(i * per, (i + 1) * per));
    const img = await finish(sharp(src, { raw: { width: w, height: h, channels: c as 1 | 3 } }), tc, {
      size: [th, tw],
      fit: opts.fit,
    });
    pixels.set(img.data, i * outPer);
  });
  return makeDataset({ ...ds, shape: [th, tw, tc], pixels });
}
