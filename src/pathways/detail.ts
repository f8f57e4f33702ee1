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
import { featureVis } from './featureVis.ts';

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
}

/** Patches (and feature visualisations) of the graph's neurons, keyed `layer:channel`; no tensor is left. */
export function neuronDetails(
  model: Classifier,
  r: PathwaysResult,
  x: tf.Tensor4D,
  o: DetailOptions = {},
): Record<string, NeuronDetail> {
  const keep = graphNeurons(r);
  const out: Record<string, NeuronDetail> = {};
  const layers = r.layers.filter((l) => !l.logits);
  layers.forEach((l, k) => {
    const chans = keep[l.name];
    const top = datasetPatches(model, l.tap, chans, x, { count: o.patches ?? 10, batchSize: o.batchSize });
    chans.forEach((c, i) => {
      const d: NeuronDetail = {
        patches: top[i].map((p) => ({ ...patchPixels(x, p), image: p.image, activation: p.activation })),
      };
      if (o.featureVisSteps) {
        const v = featureVis(model, l.tap, c, { steps: o.featureVisSteps, seed: o.seed });
        d.featureVis = {
          data: v.image.dataSync() as Float32Array,
          shape: v.image.shape.slice(1) as [number, number, number],
          activation: v.activation,
        };
        v.image.dispose();
      }
      out[`${l.name}:${c}`] = d;
    });
    o.onProgress?.(k + 1, layers.length);
  });
  return out;
}
