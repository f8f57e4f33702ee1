/**
 * Saliency maps as pictures (ALGORITHMS.md section 2, Display): abs or signed values, a channel
 * reduction, division by the 99th percentile (or a scale shared by several maps, or none) and
 * clipping, a colormap (perceptual `inferno`-like for magnitudes, blue-white-red for signed maps),
 * and an overlay on the image. Everything is plain arrays in, uint8 RGB [H, W, 3] out, ready for
 * `encodePng` (node/image.ts).
 *
 *   const img = renderMap(mapAt(r.maps, 0), { sign: 'abs' });      // { data, shape: [H, W, 3] }
 *   const png = await encodePng(img.data, img.shape);
 */
import type * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';

/** One map or image, row-major [H, W, C]. */
export interface Plane {
  data: Float32Array;
  shape: [number, number, number];
}

/** An RGB picture, uint8 [H, W, 3]. */
export interface Rgb {
  data: Uint8Array;
  shape: [number, number, 3];
}

/** How a map's colour channels become one plane: their sum, the value of largest magnitude, or the mean. */
export type ChannelReduction = 'sum' | 'max-abs' | 'mean';
/** Display colours: inferno for magnitudes, a blue-white-red diverging map for signed values, or grey. */
export type Colormap = 'inferno' | 'diverging' | 'gray';

/** Display options; defaults in {@link displayDefaults}. */
export interface DisplayOptions {
  /** Magnitudes (default) or signed values. */
  sign?: 'abs' | 'signed';
  /** How channels become one value per pixel (default `sum`, after `abs` when sign is `abs`). */
  reduce?: ChannelReduction;
  /** Divide by this percentile of |values| (default 99), by a fixed number, or not at all ('none'). */
  scale?: number | 'none';
  percentile?: number;
  /** Default `inferno` for `abs`, `diverging` for `signed`. */
  colormap?: Colormap;
}

/** The options with their defaults filled in. */
export function displayDefaults(o: DisplayOptions = {}) {
  const sign = o.sign ?? 'abs';
  return {
    sign,
    reduce: o.reduce ?? 'sum',
    scale: o.scale,
    percentile: o.percentile ?? 99,
    colormap: o.colormap ?? (sign === 'abs' ? 'inferno' : 'diverging'),
  } as const;
}

/** Example `i` of maps or images [N, H, W, C] as a {@link Plane}. */
export function mapAt(maps: tf.Tensor4D, i: number): Plane {
  const [, h, w, c] = maps.shape;
  const per = h * w * c;
  return { data: (maps.dataSync() as Float32Array).slice(i * per, (i + 1) * per), shape: [h, w, c] };
}

/**
 * One value per pixel [H * W]: with `abs`, |v| per channel first; then the channels' sum, mean, or
 * the value of largest magnitude (`max-abs`, sign kept when signed).
 */
export function reduceChannels(
  map: Plane,
  sign: 'abs' | 'signed' = 'abs',
  how: ChannelReduction = 'sum',
): Float32Array {
  const [h, w, c] = map.shape;
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    let best = 0;
    for (let k = 0; k < c; k++) {
      const raw = map.data[p * c + k];
      const v = sign === 'abs' ? Math.abs(raw) : raw;
      s += v;
      if (Math.abs(v) > Math.abs(best)) best = v;
    }
    out[p] = how === 'sum' ? s : how === 'mean' ? s / c : best;
  }
  return out;
}

/** The q-th percentile (0-100) of |values|, interpolating linearly between order statistics. */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 100)) throw new UserError(`percentile must be in 0..100 (got ${q})`);
  const s = Float64Array.from(values, Math.abs).sort();
  if (s.length === 0) return 0;
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}

/** One scale for several maps (the q-th percentile of all their |values|), so they can be compared. */
export function sharedScale(maps: ArrayLike<number>[], q = 99): number {
  const all = new Float32Array(maps.reduce((n, m) => n + m.length, 0));
  let o = 0;
  for (const m of maps) for (let i = 0; i < m.length; i++) all[o++] = m[i];
  return percentile(all, q);
}

/** values / scale clipped to [0, 1] (`abs`) or [-1, 1] (`signed`); a zero scale gives zeros. */
export function normalise(
  values: ArrayLike<number>,
  scale: number,
  sign: 'abs' | 'signed' = 'abs',
): Float32Array {
  const lo = sign === 'abs' ? 0 : -1;
  return Float32Array.from(values, (v) => (scale > 0 ? Math.min(1, Math.max(lo, v / scale)) : 0));
}

// Anchors of a perceptual black-purple-orange-yellow ramp (inferno-like), at t = 0, 0.1, ..., 1.
const INFERNO_ANCHORS: [number, number, number][] = [
  [0, 0, 4],
  [22, 11, 57],
  [66, 10, 104],
  [106, 23, 110],
  [147, 38, 103],
  [188, 55, 84],
  [221, 81, 58],
  [243, 120, 25],
  [252, 165, 10],
  [246, 215, 70],
  [252, 255, 164],
];
// Blue - white - red, at t = 0, 0.5, 1.
const DIVERGING_ANCHORS: [number, number, number][] = [
  [33, 102, 172],
  [247, 247, 247],
  [178, 24, 43],
];

// Table entries: an odd count, so that the middle value (0 of a diverging map) has its own entry.
const ENTRIES = 257;

/** An RGB table of {@link ENTRIES} colours interpolated linearly between evenly spaced anchors. */
function table(anchors: [number, number, number][]): Uint8Array {
  const t = new Uint8Array(ENTRIES * 3);
  for (let i = 0; i < ENTRIES; i++) {
    const pos = (i / (ENTRIES - 1)) * (anchors.length - 1);
    const a = Math.min(Math.floor(pos), anchors.length - 2);
    const f = pos - a;
    for (let k = 0; k < 3; k++)
      t[i * 3 + k] = Math.round(anchors[a][k] + f * (anchors[a + 1][k] - anchors[a][k]));
  }
  return t;
}

const TABLES: Record<Colormap, Uint8Array> = {
  inferno: table(INFERNO_ANCHORS),
  diverging: table(DIVERGING_ANCHORS),
  gray: table([
    [0, 0, 0],
    [255, 255, 255],
  ]),
};

/**
 * Colours values [H * W]: in [0, 1] for `inferno` and `gray`, in [-1, 1] for `diverging` (0 is
 * white). Returns uint8 RGB [H * W * 3].
 */
export function colorize(values: ArrayLike<number>, colormap: Colormap = 'inferno'): Uint8Array {
  const t = TABLES[colormap];
  if (!t) throw new UserError(`unknown colormap '${colormap}'; use ${Object.keys(TABLES).join(', ')}`);
  const out = new Uint8Array(values.length * 3);
  for (let p = 0; p < values.length; p++) {
    const v = colormap === 'diverging' ? (values[p] + 1) / 2 : values[p];
    const i = Math.round(Math.min(1, Math.max(0, v)) * (ENTRIES - 1));
    out[p * 3] = t[i * 3];
    out[p * 3 + 1] = t[i * 3 + 1];
    out[p * 3 + 2] = t[i * 3 + 2];
  }
  return out;
}

/**
 * A map as display values [H * W] and the scale used: channel reduction, then division by the
 * percentile (default), by a given scale (share one across maps with {@link sharedScale}), or none.
 */
export function displayValues(map: Plane, o: DisplayOptions = {}): { values: Float32Array; scale: number } {
  const d = displayDefaults(o);
  const v = reduceChannels(map, d.sign, d.reduce);
  const scale = d.scale === 'none' ? 1 : (d.scale ?? percentile(v, d.percentile));
  return { values: normalise(v, scale, d.sign), scale };
}

/** A map as a coloured picture [H, W, 3] (see {@link displayValues} and {@link colorize}). */
export function renderMap(map: Plane, o: DisplayOptions = {}): Rgb & { scale: number } {
  const d = displayDefaults(o);
  const { values, scale } = displayValues(map, o);
  return { data: colorize(values, d.colormap), shape: [map.shape[0], map.shape[1], 3], scale };
}

/**
 * Blends a coloured map over an image of the same size (gray or RGB, [0, 1]):
 * out = (1 - a) * image + a * heat, with a = alpha, times `weights` per pixel when given (for
 * example the display values, so that unimportant pixels show the image).
 */
export function overlay(image: Plane, heat: Rgb, alpha = 0.5, weights?: ArrayLike<number>): Rgb {
  const [h, w, c] = image.shape;
  if (heat.shape[0] !== h || heat.shape[1] !== w)
    throw new UserError(
      `map ${heat.shape[0]}x${heat.shape[1]} and image ${h}x${w} differ in size; upsample the map first`,
    );
  const out = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    const a = alpha * (weights ? Math.min(1, Math.max(0, Math.abs(weights[p]))) : 1);
    for (let k = 0; k < 3; k++) {
      const px = image.data[p * c + (c === 1 ? 0 : k)] * 255;
      out[p * 3 + k] = Math.round(Math.min(255, Math.max(0, (1 - a) * px + a * heat.data[p * 3 + k])));
    }
  }
  return { data: out, shape: [h, w, 3] };
}
