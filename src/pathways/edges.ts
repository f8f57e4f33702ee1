/**
 * Edge influence (Bluff, ALGORITHMS.md section 6). The influence of input channel i on output channel
 * j of a convolution, on one image, is the spatial max of channel i's input map convolved with the
 * single kernel slice `W[:, :, i, j]` (a depthwise convolution with the layer's stride, padding and
 * dilation; before bias, batch norm and activation). A dense layer is a convolution on a 1x1 map:
 * x_i W[i, j] (after a Flatten: summed over the positions of channel i). An identity edge (a channel
 * passed unchanged into a residual addition or a concatenation) weighs the spatial max of that
 * channel. Over an image set, an edge's weight is the median of its influences. See graph.ts for which edges exist.
 *
 *   const inf = edgeInfluence(convLayer, input, [0, 3], [5]);   // [N * 2 * 1]: (n, i, j) row-major
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';
import type { Connection, PathwayGraph } from './graph.ts';
import { median } from './neurons.ts';

/** Output elements per depthwise pass (memory bound for large maps). */
const CHUNK_ELEMENTS = 1 << 23;

const pair = (v: unknown): [number, number] =>
  Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number];

/**
 * Influences [N * |inChannels| * |outChannels|] ((n, i, j) row-major) of a Conv2D or Dense layer's input
 * channels `inChannels` on its output channels `outChannels`, for its input `input` ([N, H, W, Cin], or
 * [N, Cin] for a dense layer). Tensors are freed.
 */
export function edgeInfluence(
  layer: tfl.layers.Layer,
  input: tf.Tensor,
  inChannels: number[],
  outChannels: number[],
): Float32Array {
  const n = input.shape[0];
  const ni = inChannels.length;
  const nj = outChannels.length;
  const out = new Float32Array(n * ni * nj);
  if (ni === 0 || nj === 0 || n === 0) return out;
  const kernel = layer.getWeights()[0]; // [kh, kw, Cin, Cout] or [Cin, Cout]; owned by the layer
  const cfg = layer.getConfig();
  const is = tf.tensor1d(inChannels, 'int32');
  try {
    if (input.rank === 2) {
      tf.tidy(() => {
        const x = tf.gather(input, is, 1); // [N, ni]
        const w = tf.gather(tf.gather(kernel, is, 0), tf.tensor1d(outChannels, 'int32'), 1); // [ni, nj]
        out.set(tf.mul(tf.reshape(x, [n, ni, 1]), tf.reshape(w, [1, ni, nj])).dataSync());
      });
      return out;
    }
    const k4 = kernel.rank === 2 ? tf.reshape(kernel, [1, 1, ...kernel.shape]) : kernel;
    const strides = kernel.rank === 2 ? [1, 1] : pair(cfg.strides);
    const dilations = kernel.rank === 2 ? [1, 1] : pair(cfg.dilationRate ?? 1);
    const padding = kernel.rank === 2 ? 'valid' : (cfg.padding as 'same' | 'valid');
    const [, h, w] = input.shape;
    const perJ = n * ni * Math.ceil(h / strides[0]) * Math.ceil(w / strides[1]);
    const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / perJ));
    const x = tf.gather(input, is, 3); // [N, H, W, ni]
    const wIn = tf.gather(k4, is, 2); // [kh, kw, ni, Cout]
    try {
      for (let j0 = 0; j0 < nj; j0 += step) {
        const js = outChannels.slice(j0, j0 + step);
        const m = tf.tidy(() => {
          const wij = tf.gather(wIn, tf.tensor1d(js, 'int32'), 3) as tf.Tensor4D; // [kh, kw, ni, |js|]
          const y = tf.depthwiseConv2d(
            x as tf.Tensor4D,
            wij,
            strides as [number, number],
            padding,
            'NHWC',
            dilations as [number, number],
          ); // [N, H', W', ni * |js|], channel i * |js| + j
          return tf.max(y, [1, 2]); // [N, ni * |js|]
        });
        const v = m.dataSync();
        m.dispose();
        for (let b = 0; b < n; b++)
          for (let i = 0; i < ni; i++)
            for (let j = 0; j < js.length; j++)
              out[(b * ni + i) * nj + j0 + j] = v[(b * ni + i) * js.length + j];
      }
    } finally {
      tf.dispose([x, wIn]);
      if (k4 !== kernel) k4.dispose();
    }
    return out;
  } finally {
    is.dispose();
  }
}

/** The edges of one connection between chosen neurons: (from channel, to channel) pairs. */
export interface EdgeList {
  via: string;
  kind: Connection['kind'];
  from: string;
  to: string;
  /** [from channel, to channel] per edge. */
  pairs: [number, number][];
}

/** Which neurons to keep per layer (all channels of a layer that is absent). */
export type NeuronSelection = Record<string, number[]>;

/** The edges of `graph` whose two ends are both in `keep` (all when a layer is absent from `keep`). */
export function selectEdges(graph: PathwayGraph, keep: NeuronSelection): EdgeList[] {
  const channels = new Map(graph.layers.map((l) => [l.name, l.channels]));
  const kept = (layer: string) =>
    new Set(keep[layer] ?? Array.from({ length: channels.get(layer)! }, (_, i) => i));
  return graph.connections.map((c) => {
    const kf = kept(c.from);
    const kt = kept(c.to);
    const pairs: [number, number][] = [];
    const ins = c.fromChannel.map((f, k) => [f, k] as const).filter(([f]) => kf.has(f));
    if (c.kind === 'identity') {
      for (const [f, k] of ins)
        if (kt.has(c.toOffset + c.inIndex[k])) pairs.push([f, c.toOffset + c.inIndex[k]]);
    } else {
      const outs = [...kt].filter((t) => t >= c.toOffset && t < c.toOffset + c.width).sort((a, b) => a - b);
      for (const f of new Set(ins.map(([f]) => f))) for (const t of outs) pairs.push([f, t]);
    }
    return { via: c.via, kind: c.kind, from: c.from, to: c.to, pairs };
  });
}

/**
 * Influence of every edge of `lists` on each image of x [N, H, W, C] in [0, 1]: per list, [N * pairs]
 * (image-major). Tensors are freed.
 */
export function edgeScores(
  model: Classifier,
  graph: PathwayGraph,
  lists: EdgeList[],
  x: tf.Tensor4D,
  batchSize = 32,
): Float32Array[] {
  const lm = model.model as tfl.LayersModel;
  const n = x.shape[0];
  const conns = lists.map((l) =>
    graph.connections.find((c) => c.via === l.via && c.from === l.from && c.to === l.to)!,
  );
  const out = lists.map((l) => new Float32Array(n * l.pairs.length));
  const inputs = [...new Set(conns.filter((c, k) => lists[k].pairs.length > 0).map((c) => c.input))];
  for (let b0 = 0; b0 < n; b0 += batchSize) {
    const m = Math.min(batchSize, n - b0);
    const { activations, logits } = tf.tidy(() =>
      model.taps(tf.slice(x, [b0, 0, 0, 0], [m, -1, -1, -1]), inputs),
    );
    logits.dispose();
    try {
      lists.forEach((l, k) => {
        if (l.pairs.length === 0) return;
        const c = conns[k];
        const input = activations[c.input];
        const pos = new Map(c.fromChannel.map((f, q) => [f, c.inIndex[q]]));
        let v: Float32Array;
        const np = l.pairs.length;
        if (c.kind === 'identity') {
          const ii = l.pairs.map(([f]) => pos.get(f)!);
          v = tf.tidy(() => {
            const a = input.rank === 4 ? tf.max(input, [1, 2]) : input;
            return tf.gather(a, tf.tensor1d(ii, 'int32'), 1).dataSync() as Float32Array;
          });
        } else {
          // pairs are a full product of distinct from channels by distinct to channels; a channel
          // flattened before a dense layer has many inputs, whose influences add up
          const fs = [...new Set(l.pairs.map(([f]) => f))];
          const ts = [...new Set(l.pairs.map(([, t]) => t))];
          const want = new Set(fs);
          const rows = c.inIndex.filter((_, q) => want.has(c.fromChannel[q]));
          const rowOf = c.fromChannel.filter((f) => want.has(f));
          const inf = edgeInfluence(
            lm.getLayer(c.via),
            input,
            rows,
            ts.map((t) => t - c.toOffset),
          );
          const fi = new Map(fs.map((f, i) => [f, i]));
          const ti = new Map(ts.map((t, j) => [t, j]));
          const sum = new Float64Array(m * fs.length * ts.length);
          for (let b = 0; b < m; b++)
            rowOf.forEach((f, q) => {
              for (let j = 0; j < ts.length; j++)
                sum[(b * fs.length + fi.get(f)!) * ts.length + j] +=
                  inf[(b * rows.length + q) * ts.length + j];
            });
          v = new Float32Array(m * np);
          for (let b = 0; b < m; b++)
            l.pairs.forEach(
              ([f, t], p) => (v[b * np + p] = sum[(b * fs.length + fi.get(f)!) * ts.length + ti.get(t)!]),
            );
        }
        out[k].set(v, b0 * np);
      });
    } finally {
      tf.dispose(Object.values(activations));
    }
  }
  return out;
}

/** Median over the `n` images of each edge's influence ([n * pairs] -> [pairs]); NaN when n is 0. */
export function edgeMedians(scores: Float32Array, n: number, pairs: number): Float64Array {
  const out = new Float64Array(pairs);
  const col = new Float64Array(n);
  for (let p = 0; p < pairs; p++) {
    for (let i = 0; i < n; i++) col[i] = scores[i * pairs + p];
    out[p] = median(col);
  }
  return out;
}
