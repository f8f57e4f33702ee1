/**
 * Dataset patches of a neuron (Bluff's neuron detail, after Lucid and Summit): the images that
 * activate a channel most, each cropped to the receptive field of the position where its map peaks.
 * The receptive field follows the layer geometry from the input to the tapped layer (kernel, stride,
 * dilation and TensorFlow's 'same' padding of every convolution and pooling; zero padding shifts it;
 * global pooling spans the image); where paths join (residual additions, concatenations), the widest
 * field is kept.
 *
 *   const rf = receptiveField(model, 'conv3');     // { size: [18, 18], stride: [4, 4], start: [...] }
 *   const top = datasetPatches(model, 'conv3', [17], x);   // top[0]: 10 { image, activation, box }
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import { topChannels } from './groups.ts';

/** Per axis [y, x]: field size, jump between neighbouring outputs, and the centre of output 0 (input pixels). */
export interface ReceptiveField {
  size: [number, number];
  stride: [number, number];
  start: [number, number];
}

const two = (v: unknown): [number, number] =>
  Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number];

/** The receptive field of the named layer's outputs in the model's input. */
export function receptiveField(model: Classifier, layer: string): ReceptiveField {
  if (!(model.model instanceof tfl.LayersModel))
    throw new UserError('receptive fields need a tfjs layers model');
  const lm = model.model;
  const [H, W] = model.inputShape;
  const memo = new Map<tfl.layers.Layer, ReceptiveField>();
  const rf = (l: tfl.layers.Layer): ReceptiveField => {
    const hit = memo.get(l);
    if (hit) return hit;
    const ins = l.inboundNodes[0]?.inboundLayers ?? [];
    let r: ReceptiveField;
    if (ins.length === 0) r = { size: [1, 1], stride: [1, 1], start: [0, 0] };
    else {
      const prev = ins.map(rf).sort((a, b) => b.size[0] * b.size[1] - a.size[0] * a.size[1])[0];
      const cfg = l.getConfig();
      const cls = l.getClassName();
      const inShape = ins[0].outputShape as number[];
      if (cls === 'Conv2D' || (cls.endsWith('Pooling2D') && !cls.startsWith('Global'))) {
        const k = two(cls === 'Conv2D' ? cfg.kernelSize : cfg.poolSize);
        const s = two(cfg.strides ?? k);
        const d = cls === 'Conv2D' ? two(cfg.dilationRate ?? 1) : [1, 1];
        const r2: ReceptiveField = { size: [0, 0], stride: [0, 0], start: [0, 0] };
        for (const a of [0, 1] as const) {
          const ke = (k[a] - 1) * d[a] + 1;
          const n = inShape[1 + a];
          const left =
            cfg.padding === 'same'
              ? Math.floor(Math.max((Math.ceil(n / s[a]) - 1) * s[a] + ke - n, 0) / 2)
              : 0;
          r2.size[a] = prev.size[a] + (ke - 1) * prev.stride[a];
          r2.stride[a] = prev.stride[a] * s[a];
          r2.start[a] = prev.start[a] + ((ke - 1) / 2 - left) * prev.stride[a];
        }
        r = r2;
      } else if (cls === 'ZeroPadding2D') {
        const p = cfg.padding as number | number[] | number[][];
        const top = Array.isArray(p)
          ? Array.isArray(p[0])
            ? [p[0][0], (p[1] as number[])[0]]
            : [p[0] as number, p[1] as number]
          : [p, p];
        r = {
          ...prev,
          start: [prev.start[0] - top[0] * prev.stride[0], prev.start[1] - top[1] * prev.stride[1]],
        };
      } else if (cls.startsWith('Global') || cls === 'Flatten' || cls === 'Dense') {
        r = { size: [H, W], stride: [H, W], start: [(H - 1) / 2, (W - 1) / 2] };
      } else r = prev;
    }
    memo.set(l, r);
    return r;
  };
  return rf(lm.getLayer(layer));
}

/** The box [y0, x0, y1, x1) of output position (p, q), clipped to an H x W image. */
export function fieldBox(
  r: ReceptiveField,
  p: number,
  q: number,
  H: number,
  W: number,
): [number, number, number, number] {
  const cy = r.start[0] + p * r.stride[0];
  const cx = r.start[1] + q * r.stride[1];
  const y0 = Math.max(0, Math.ceil(cy - (r.size[0] - 1) / 2));
  const x0 = Math.max(0, Math.ceil(cx - (r.size[1] - 1) / 2));
  const y1 = Math.min(H, Math.floor(cy + (r.size[0] - 1) / 2) + 1);
  const x1 = Math.min(W, Math.floor(cx + (r.size[1] - 1) / 2) + 1);
  return [y0, x0, y1, x1];
}

/** A dataset patch: which image, the neuron's activation there, where its maximum is, and the receptive-field box. */
export interface Patch {
  /** Index of the image in x. */
  image: number;
  /** The neuron's activation (its map's max) on the image. */
  activation: number;
  /** Where the map peaks, and the input box [y0, x0, y1, x1) it sees. */
  at: [number, number];
  box: [number, number, number, number];
}

/**
 * For each channel of the tapped layer `tap`, the `count` images of x [N, H, W, C] that activate it
 * most, with the receptive-field box around the peak of its map. Tensors are freed.
 */
export function datasetPatches(
  model: Classifier,
  tap: string,
  channels: number[],
  x: tf.Tensor4D,
  o: { count?: number; batchSize?: number } = {},
): Patch[][] {
  const count = o.count ?? 10;
  const bs = o.batchSize ?? 32;
  const [, H, W] = x.shape;
  const n = x.shape[0];
  const act = channels.map(() => new Float32Array(n));
  const pos = channels.map(() => new Int32Array(n));
  let mapW = 1;
  for (let i = 0; i < n; i += bs) {
    const m = Math.min(bs, n - i);
    const [mx, arg, w] = tf.tidy(() => {
      const { activations, logits } = model.taps(tf.slice(x, [i, 0, 0, 0], [m, -1, -1, -1]), [tap]);
      logits.dispose();
      let a = activations[tap];
      if (a.rank === 2) a = tf.reshape(a, [m, 1, 1, -1]);
      const sel = tf.gather(a, tf.tensor1d(channels, 'int32'), 3); // [m, h, w, k]
      const flat = tf.reshape(tf.transpose(sel, [0, 3, 1, 2]), [m, channels.length, -1]);
      return [tf.max(flat, 2), tf.argMax(flat, 2), a.shape[2]] as const;
    });
    mapW = w as number;
    const mv = (mx as tf.Tensor).dataSync();
    const av = (arg as tf.Tensor).dataSync();
    tf.dispose([mx as tf.Tensor, arg as tf.Tensor]);
    channels.forEach((_, k) => {
      for (let b = 0; b < m; b++) {
        act[k][i + b] = mv[b * channels.length + k];
        pos[k][i + b] = av[b * channels.length + k];
      }
    });
  }
  const r = receptiveField(model, tap);
  return channels.map((_, k) =>
    topChannels(act[k], count).map((img) => {
      const at: [number, number] = [Math.floor(pos[k][img] / mapW), pos[k][img] % mapW];
      return { image: img, activation: act[k][img], at, box: fieldBox(r, at[0], at[1], H, W) };
    }),
  );
}

/** The pixels of a patch of image `patch.image` of x [N, H, W, C]: [y1 - y0, x1 - x0, C], row-major. */
export function patchPixels(
  x: tf.Tensor4D,
  patch: Patch,
): { data: Float32Array; shape: [number, number, number] } {
  const [y0, x0, y1, x1] = patch.box;
  const c = x.shape[3];
  const data = tf.tidy(
    () => tf.slice(x, [patch.image, y0, x0, 0], [1, y1 - y0, x1 - x0, c]).dataSync() as Float32Array,
  );
  return { data, shape: [y1 - y0, x1 - x0, c] };
}
