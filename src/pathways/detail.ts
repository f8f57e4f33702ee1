/**
 * Neuron detail (Bluff): for every neuron of a pathways graph, the image patches that activate it most
 * among the given images (cropped to its receptive field) and, optionally, its feature visualisation.
 * Pixels are returned as plain arrays ([h, w, C] row-major, in [0, 1]) for an adapter to encode.
 *
 *   const d = neuronDetails(model, result, x, { featureVisSteps: 0 });   // d['conv2:17'].patches
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { graphNeurons, type PathwaysResult } from './pathways.ts';
import { datasetPatches, patchPixels } from './patches.ts';
import { featureVisBatch } from './featureVis.ts';

/** Channels whose feature visualisations are optimised together. */
const FV_BATCH = 32;

/** An image as raw float pixels in [0, 1] and its shape [H, W, C]. */
export interface Pixels {
  data: Float32Array;
  shape: [number, number, number];
}

/** What the report shows of one neuron: its top dataset patches and, optionally, its feature visualisation. */
export interface NeuronDetail {
  patches: (Pixels & { image: number; activation: number })[];
  featureVis?: Pixels & { activation: number };
}

/** Options of the neuron details: patches per neuron, feature-visualisation steps (0: none), batch size, seed, progress. */
export interface DetailOptions {
  /** Patches per neuron (Bluff: 10). */
  patches?: number;
  /** Feature visualisation steps per neuron; 0 for none (Lucid: 512). */
  featureVisSteps?: number;
  batchSize?: number;
  seed?: number;
  /** Called after each layer. */
  onProgress?: (done: number, total: number) => void;
  /** Whether neuron `layer:channel` already has its patches or feature visualisation (an atlas): then they are not computed. */
  have?: (key: string, what: 'patches' | 'featureVis') => boolean;
}

/**
 * Patches (and feature visualisations) of the graph's neurons, keyed `layer:channel`, but those that
 * `o.have` says exist (their entries lack them); no tensor is left.
 */
export function neuronDetails(
  model: Classifier,
  r: PathwaysResult,
  x: tf.Tensor4D,
  o: DetailOptions = {},
): Record<string, NeuronDetail> {
  const keep = graphNeurons(r);
  const out: Record<string, NeuronDetail> = {};
  const layers = r.layers.filter((l) => !l.logits);
  const have = o.have ?? (() => false);
  layers.forEach((l, k) => {
    const chans = keep[l.name];
    const need = chans.filter((c) => !have(`${l.name}:${c}`, 'patches'));
    const top = need.length
      ? datasetPatches(model, l.tap, need, x, { count: o.patches ?? 10, batchSize: o.batchSize })
      : [];
    chans.forEach((c) => {
      const key = `${l.name}:${c}`;
      const i = need.indexOf(c);
      const d: NeuronDetail = {
        patches:
          i < 0
            ? []
            : top[i].map((p) => ({ ...patchPixels(x, p), image: p.image, activation: p.activation })),
      };
      out[key] = d;
    });
    const fv = o.featureVisSteps ? chans.filter((c) => !have(`${l.name}:${c}`, 'featureVis')) : [];
    for (let i = 0; i < fv.length; i += FV_BATCH) {
      const part = fv.slice(i, i + FV_BATCH);
      const v = featureVisBatch(model, l.tap, part, { steps: o.featureVisSteps, seed: o.seed });
      const [, H, W, C] = v.images.shape;
      const data = v.images.dataSync() as Float32Array;
      v.images.dispose();
      part.forEach((c, b) => {
        out[`${l.name}:${c}`].featureVis = {
          data: data.slice(b * H * W * C, (b + 1) * H * W * C),
          shape: [H, W, C],
          activation: v.activations[b],
        };
      });
    }
    o.onProgress?.(k + 1, layers.length);
  });
  return out;
}
