/**
 * The explorer server's images: uploads sniffed by their content (never by name or declared type),
 * decoded with the CLI's limits (src/node/image.ts) and a pixel limit of the server's own, stored as
 * PNG re-encoded from the decoded pixels under a server-chosen name (`img-<sha256 16>.png`, the hash
 * of the PNG) in the server's folder. The name the user gave is kept only as a display label.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { UserError } from '../errors.ts';
import { decodeRaw, encodePng, MAX_IMAGE_SIDE } from '../node/image.ts';
import { readBounded, readJson, writeFileAtomic } from '../node/fsio.ts';
import { HttpError } from './errors.ts';

/** An image the server holds. */
export interface StoredImage {
  id: string;
  name: string;
  width: number;
  height: number;
  /** sha256 of the stored PNG (the cache key's part). */
  sha256: string;
}

/** The image formats the server takes, by their first bytes. */
export function sniffImage(b: Uint8Array): 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff' | 'avif' | null {
  const at = (i: number, s: string) => [...s].every((ch, k) => b[i + k] === ch.charCodeAt(0));
  if (b.length >= 8 && b[0] === 0x89 && at(1, 'PNG\r\n\x1a\n')) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return 'gif';
  if (b.length >= 12 && at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
  if (at(0, 'II*\0') || at(0, 'MM\0*')) return 'tiff';
  if (b.length >= 12 && at(4, 'ftyp') && (at(8, 'avif') || at(8, 'avis'))) return 'avif';
  return null;
}

/** A file name as a display label: its last path part, printable, at most 100 characters. */
export function displayName(name: unknown): string {
  const s = typeof name === 'string' ? name : '';
  const base = s.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f<>"'`]/g, '').trim();
  return clean.slice(0, 100) || 'image';
}

const ID = /^img-[0-9a-f]{16}$/;

/** The image store in `dir`. */
export class ImageStore {
  constructor(
    readonly dir: string,
    readonly limits: { imageBytes: number; imagePixels: number },
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** The PNG file of image `id` (an id of the store's form, or a 404). */
  file(id: unknown): string {
    if (typeof id !== 'string' || !ID.test(id))
      throw new HttpError(
        404,
        `no image '${String(id).slice(0, 40)}'; image ids look like img-0123456789abcdef`,
      );
    const f = path.join(this.dir, `${id}.png`);
    if (!fs.existsSync(f)) throw new HttpError(404, `no image ${id}; upload it with POST /api/images`);
    return f;
  }

  /** The record of image `id`. */
  get(id: unknown): StoredImage {
    const f = this.file(id);
    return readJson<StoredImage>(f.replace(/\.png$/, '.json'), 'image record');
  }

  /** The last PNGs read (small ones), by id: images are immutable (their id is their hash). */
  private readonly recent = new Map<string, Buffer>();

  /** The stored PNG's bytes. */
  png(id: unknown): Buffer {
    const hit = typeof id === 'string' ? this.recent.get(id) : undefined;
    if (hit) return hit;
    const b = readBounded(this.file(id), 'image', this.limits.imageBytes * 4 + 1024 * 1024);
    if (b.length <= 1024 * 1024) {
      this.recent.set(id as string, b);
      if (this.recent.size > 64) this.recent.delete(this.recent.keys().next().value!);
    }
    return b;
  }

  /**
   * Stores an uploaded image: sniffed, checked against the limits, decoded, re-encoded as PNG.
   * A {@link UserError} (400) for a non-image, a 413 for too many bytes or pixels.
   */
  async add(bytes: Uint8Array, name: unknown): Promise<StoredImage> {
    const label = displayName(name);
    if (bytes.length > this.limits.imageBytes)
      throw new HttpError(
        413,
        `${label} is ${bytes.length} bytes, more than the ${this.limits.imageBytes} this server takes per image`,
      );
    const kind = sniffImage(bytes);
    if (!kind)
      throw new UserError(
        `${label} is not an image (its content is not PNG, JPEG, GIF, WebP, TIFF or AVIF, whatever its name); upload an image file`,
      );
    let meta: Metadata;
    try {
      // The header only (no pixels decoded): the declared size is checked below, before decoding.
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (e) {
      throw new UserError(
        `${label} is not a ${kind} image advlens can read (${String((e as Error).message).split('\n')[0]})`,
      );
    }
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    if (w * h > this.limits.imagePixels || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE)
      throw new HttpError(
        413,
        `${label} declares ${w}x${h} pixels, more than the ${this.limits.imagePixels} this server decodes; resize it first`,
      );
    const raw = await decodeRaw(bytes);
    return this.addPixels(raw.data, raw.shape, label);
  }

  /** Stores pixels (uint8 or float in [0, 1], [H, W, C]) as a PNG under a content-hash id. */
  async addPixels(
    data: Uint8Array | Float32Array,
    shape: [number, number, number],
    name: string,
  ): Promise<StoredImage> {
    const png = await encodePng(data, shape);
    return this.addPng(png, shape, name);
  }

  /** Stores a PNG the server made itself (an adversarial image), under its content-hash id. */
  addPng(png: Uint8Array, shape: readonly number[], name: string): StoredImage {
    const sha256 = crypto.createHash('sha256').update(png).digest('hex');
    const id = `img-${sha256.slice(0, 16)}`;
    const rec: StoredImage = { id, name: displayName(name), width: shape[1], height: shape[0], sha256 };
    const file = path.join(this.dir, `${id}.png`);
    if (!fs.existsSync(file)) {
      writeFileAtomic(file, png);
      writeFileAtomic(path.join(this.dir, `${id}.json`), JSON.stringify(rec));
    }
    return rec;
  }
}
