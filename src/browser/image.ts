/**
 * Images in the browser: an `<img>`, an `ImageBitmap`, an `ImageData`, a canvas or an image file
 * (`Blob`) to pixels float32 [1, H, W, C] in [0, 1], fitted as a card's `preprocess` says, as Node's
 * `decodeImage` (sharp) does: transparency flattened onto white, `fill` stretches and `cover` resizes
 * the short side and centre-crops, gray is the luminance 0.2126 R + 0.7152 G + 0.0722 B taken in
 * linear light. Without resizing the pixels equal Node's; resized, the browser's resampler differs
 * from libvips' by a few levels. Works in a page and in a Web Worker (OffscreenCanvas).
 *
 *   const x = await imageTensor(fileInput.files[0], model.card.preprocess); // [1, 28, 28, 1]
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';
import type { Preprocess } from '../models/card.ts';

/** What {@link imagePixels} decodes. */
export type ImageSource =
  Blob | ImageBitmap | ImageData | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas;

/** Images as plain arrays: float32 values in [0, 1] laid out [N, H, W, C]. */
export interface Pixels {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** How to fit an image: its size [H, W], gray (1) or RGB (3), and `fill` or `cover`. */
export type FitOptions = Pick<Preprocess, 'height' | 'width' | 'channels'> & {
  resize?: Preprocess['resize'];
};

type Canvas2D = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

function context(w: number, h: number): Canvas2D {
  if (typeof OffscreenCanvas !== 'undefined') {
    const ctx = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
    if (ctx) return ctx;
  }
  if (typeof document !== 'undefined') {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    if (ctx) return ctx;
  }
  throw new Error('no 2D canvas here (OffscreenCanvas or document) to decode images with');
}

function sizeOf(s: Exclude<ImageSource, Blob>): [number, number] {
  if (typeof HTMLImageElement !== 'undefined' && s instanceof HTMLImageElement) {
    if (!s.complete || s.naturalWidth === 0)
      throw new UserError(
        `image ${s.src.slice(0, 80)} has not loaded (or is broken); await img.decode() first`,
      );
    return [s.naturalWidth, s.naturalHeight];
  }
  return [s.width, s.height];
}

/** sRGB level 0..255 to linear light, and back (the sRGB transfer function). */
const toLinear = Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
function fromLinear(l: number): number {
  const c = l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055;
  return Math.round(Math.min(1, Math.max(0, c)) * 255);
}

/**
 * Decodes `source` to pixels [1, H, W, C] in [0, 1] fitted to `fit` (a card's `preprocess`: its
 * size, channels and resize mode). A {@link UserError} when a Blob is not an image the browser reads.
 */
export async function imagePixels(source: ImageSource, fit: FitOptions): Promise<Pixels> {
  const { height: h, width: w, channels } = fit;
  let img: Exclude<ImageSource, Blob>;
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    try {
      img = await createImageBitmap(source);
    } catch (e) {
      throw new UserError(
        `the file (${source.type || 'unknown type'}, ${source.size} bytes) is not an image this browser can decode: ${(e as Error).message}`,
      );
    }
  } else img = source as Exclude<ImageSource, Blob>;
  // ImageData is drawn through a bitmap, so that it is scaled and composited like any other image.
  const drawable =
    typeof ImageData !== 'undefined' && img instanceof ImageData ? await createImageBitmap(img) : img;
  const [iw, ih] = sizeOf(img as Exclude<ImageSource, Blob>);
  // The source rectangle: the whole image (fill), or its centred crop of the target's aspect (cover).
  let [sx, sy, sw, sh] = [0, 0, iw, ih];
  if ((fit.resize ?? 'fill') === 'cover') {
    const s = Math.max(w / iw, h / ih);
    sw = Math.min(iw, w / s);
    sh = Math.min(ih, h / s);
    sx = (iw - sw) / 2;
    sy = (ih - sh) / 2;
  }
  const ctx = context(w, h);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, w, h);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(drawable as CanvasImageSource, sx, sy, sw, sh, 0, 0, w, h);
  if (drawable !== img) (drawable as ImageBitmap).close();
  if (img !== source) (img as ImageBitmap).close();
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const data = new Float32Array(h * w * channels);
  for (let p = 0; p < h * w; p++) {
    const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]];
    if (channels === 1)
      data[p] = fromLinear(0.2126 * toLinear[r] + 0.7152 * toLinear[g] + 0.0722 * toLinear[b]) / 255;
    else {
      data[3 * p] = r / 255;
      data[3 * p + 1] = g / 255;
      data[3 * p + 2] = b / 255;
    }
  }
  return { data, shape: [1, h, w, channels] };
}

/** {@link imagePixels} as a tensor [1, H, W, C] (the caller owns it). */
export async function imageTensor(source: ImageSource, fit: FitOptions): Promise<tf.Tensor4D> {
  const p = await imagePixels(source, fit);
  return tf.tensor4d(p.data, p.shape);
}

/** Several decoded images (or batches) as one batch [N, H, W, C] (all of one size). */
export function stackPixels(images: Pixels[]): Pixels {
  if (!images.length) throw new UserError('no images to stack; give at least one');
  const [, h, w, c] = images[0].shape;
  const n = images.reduce((a, p) => a + p.shape[0], 0);
  const data = new Float32Array(n * h * w * c);
  let at = 0;
  images.forEach((p, i) => {
    if (p.shape[1] !== h || p.shape[2] !== w || p.shape[3] !== c)
      throw new UserError(
        `image ${i} is ${p.shape.slice(1).join('x')}, the first ${h}x${w}x${c}; fit them to one size`,
      );
    data.set(p.data, at);
    at += p.data.length;
  });
  return { data, shape: [n, h, w, c] };
}
