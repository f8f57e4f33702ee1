/**
 * "The map follows the object's shape" as a number (AT-CNN, Zhang & Zhu 2019, figure 1: SmoothGrad
 * maps of adversarially trained models trace edges, those of standard models look like noise):
 * Pearson's correlation, over pixel positions, between a saliency map's magnitude and the image's
 * edge magnitude (Sobel, on the mean of the channels, edges replicated at the border). 1: the map is
 * an edge map; 0: unrelated to edges.
 *
 *   const r = shapeScore(map, image); // map [H * W] (abs values), image {data, shape [H, W, C]}
 */
import type { Plane } from '../explain/display.ts';
import type { ExplainSetResult } from '../explain/explainSet.ts';

/**
 * Sobel gradient magnitude sqrt(gx^2 + gy^2) of the channel mean of `image` [H, W, C], with
 * edge-replicated borders; [H * W].
 */
export function edgeMagnitude(image: Plane): Float32Array {
  const [h, w, c] = image.shape;
  const grey = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += image.data[p * c + k];
    grey[p] = s / c;
  }
  const at = (r: number, q: number) =>
    grey[Math.min(h - 1, Math.max(0, r)) * w + Math.min(w - 1, Math.max(0, q))];
  const out = new Float32Array(h * w);
  for (let r = 0; r < h; r++)
    for (let q = 0; q < w; q++) {
      const gx =
        at(r - 1, q + 1) +
        2 * at(r, q + 1) +
        at(r + 1, q + 1) -
        at(r - 1, q - 1) -
        2 * at(r, q - 1) -
        at(r + 1, q - 1);
      const gy =
        at(r + 1, q - 1) +
        2 * at(r + 1, q) +
        at(r + 1, q + 1) -
        at(r - 1, q - 1) -
        2 * at(r - 1, q) -
        at(r - 1, q + 1);
      out[r * w + q] = Math.sqrt(gx * gx + gy * gy);
    }
  return out;
}

/** Pearson's correlation of two equal-length arrays; NaN when either is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error(`pearson: ${n} and ${b.length} values`);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** Correlation of a map's magnitude [H * W] with the edge magnitude of `image` (see the file comment). */
export function shapeScore(map: ArrayLike<number>, image: Plane): number {
  const abs = Float32Array.from(map, (v) => Math.abs(v));
  return pearson(abs, edgeMagnitude(image));
}

/** Per model and method: the shape score of every image's map, and their mean (NaNs left out). */
export interface ShapeScores {
  model: string;
  method: string;
  perImage: (number | null)[];
  mean: number | null;
}

/**
 * The shape score of every map of an explain set (its display values: magnitude summed over
 * channels, over the shared scale, clipped to [0, 1] at the 99th percentile).
 */
export function shapeScores(set: ExplainSetResult): ShapeScores[] {
  const out: ShapeScores[] = [];
  set.names.forEach((model, m) =>
    set.methods.forEach((method, k) => {
      const perImage = set.pictures.map((p) => {
        const r = shapeScore(p.values[m][k], p.image);
        return Number.isFinite(r) ? r : null;
      });
      const ok = perImage.filter((v): v is number => v !== null);
      out.push({
        model,
        method,
        perImage,
        mean: ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null,
      });
    }),
  );
  return out;
}
