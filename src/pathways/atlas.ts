/**
 * The neuron atlas of a model (Bluff's neuron detail for every neuron, after Lucid's and OpenAI
 * Microscope's per-channel pages): for each channel of each pathway layer (graph.ts; the logits unit
 * excluded), a feature visualisation (featureVis.ts, optimised in batches of channels) and the dataset
 * images that activate it most, cropped to its receptive field (patches.ts). The atlas is computed in
 * *pieces* (one layer's patches; one batch of channels' feature visualisations) so that an adapter
 * can store each piece as it is done, resume an interrupted atlas and reuse a finished one: the
 * Node adapter (src/node/atlasRun.ts) caches it on disk by the model's content hash.
 *
 *   const plan = atlasPlan(atlasGraph(model), { layers: ['conv3'] });   // the pieces to compute
 *   const piece = atlasPiece(model, plan[0], x);              // pixels of its images
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import { pathwayGraph, type PathwayLayer } from './graph.ts';
import { FEATURE_VIS_DEFAULTS, featureVisBatch, type FeatureVisOptions } from './featureVis.ts';
import { datasetPatches, patchPixels } from './patches.ts';
import type { Pixels } from './detail.ts';
import type { ProvenanceStamp } from '../report/provenance.ts';

/** The version of the atlas index (`atlas.json`). */
export const ATLAS_FORMAT = 'advlens-atlas/1';

/** What the atlas holds: layers and channels, feature visualisation (or none), patches per neuron. */
export interface AtlasOptions {
  /** Pathway layer names (default every layer but the logits). */
  layers?: string[];
  /** Channels of every chosen layer (default all; channels past a layer's width are skipped). */
  channels?: number[];
  /** Feature visualisation options, or false for none. */
  featureVis?: FeatureVisOptions | false;
  /** Channels optimised together in one feature visualisation batch. */
  featureVisBatch?: number;
  /** Dataset patches per neuron (Bluff: 10); 0 for none. */
  patches?: number;
  /** Images per forward pass when looking for patches. */
  batchSize?: number;
}

/** The atlas defaults: every non-logits layer and channel, Lucid's feature visualisation in batches of 32, 10 patches. */
export const ATLAS_DEFAULTS = {
  featureVis: FEATURE_VIS_DEFAULTS,
  featureVisBatch: 32,
  patches: 10,
  batchSize: 32,
};

/** One piece of atlas work: a layer's patches, or the feature visualisations of some of its channels. */
export type AtlasPiece =
  | { kind: 'patches'; layer: PathwayLayer; channels: number[] }
  | { kind: 'featureVis'; layer: PathwayLayer; channels: number[] };

/** The options that decide an atlas's content, with defaults filled in (what a cache is keyed by). */
export function atlasSettings(o: AtlasOptions = {}): {
  featureVis: Required<FeatureVisOptions> | false;
  patches: number;
} {
  return {
    featureVis: o.featureVis === false ? false : { ...FEATURE_VIS_DEFAULTS, ...o.featureVis },
    patches: o.patches ?? ATLAS_DEFAULTS.patches,
  };
}

/** The layers an atlas can hold: the model's pathway layers but the logits unit. */
export function atlasGraph(model: Classifier): PathwayLayer[] {
  return pathwayGraph(model).layers.filter((l) => !l.logits);
}

/** The atlas's layers (of `all`, from {@link atlasGraph}) and, per layer, its channels: the chosen ones (checked) or all. */
export function atlasLayers(
  all: PathwayLayer[],
  o: Pick<AtlasOptions, 'layers' | 'channels'> = {},
): { layer: PathwayLayer; channels: number[] }[] {
  let layers = all;
  if (o.layers) {
    layers = o.layers.map((n) => {
      const l = all.find((x) => x.name === n);
      if (!l)
        throw new UserError(
          `layer '${n}' is not a pathway layer of the model; choose among ${all.map((x) => x.name).join(', ')}`,
        );
      return l;
    });
  }
  for (const c of o.channels ?? [])
    if (!Number.isInteger(c) || c < 0)
      throw new UserError(`channel ${c} is not a channel index; give integers >= 0`);
  return layers.map((layer) => ({
    layer,
    channels: o.channels
      ? [...new Set(o.channels)].filter((c) => c < layer.channels).sort((a, b) => a - b)
      : Array.from({ length: layer.channels }, (_, c) => c),
  }));
}

/**
 * The pieces an atlas of `graph` ({@link atlasGraph}) needs, leaving out what `done(layer, channel, what)` says is already there:
 * per layer, one patches piece (channels lacking patches) and feature visualisation pieces of at
 * most `featureVisBatch` channels.
 */
export function atlasPlan(
  graph: PathwayLayer[],
  o: AtlasOptions = {},
  done: (layer: string, channel: number, what: AtlasPiece['kind']) => boolean = () => false,
): AtlasPiece[] {
  const s = atlasSettings(o);
  const batch = o.featureVisBatch ?? ATLAS_DEFAULTS.featureVisBatch;
  if (!Number.isInteger(batch) || batch < 1)
    throw new UserError(`featureVisBatch must be an integer >= 1 (got ${batch})`);
  const pieces: AtlasPiece[] = [];
  for (const { layer, channels } of atlasLayers(graph, o)) {
    if (s.patches > 0) {
      const need = channels.filter((c) => !done(layer.name, c, 'patches'));
      if (need.length) pieces.push({ kind: 'patches', layer, channels: need });
    }
    if (s.featureVis) {
      const need = channels.filter((c) => !done(layer.name, c, 'featureVis'));
      for (let i = 0; i < need.length; i += batch)
        pieces.push({ kind: 'featureVis', layer, channels: need.slice(i, i + batch) });
    }
  }
  return pieces;
}

/** A dataset patch of the atlas: its pixels, the image's index in the data, the activation and the box. */
export type AtlasPatch = Pixels & {
  image: number;
  activation: number;
  box: [number, number, number, number];
};

/** The result of one piece, per channel (in the piece's order). */
export type AtlasPieceResult =
  | { kind: 'patches'; patches: AtlasPatch[][] }
  | { kind: 'featureVis'; images: (Pixels & { activation: number; objective: [number, number] })[] };

/**
 * Computes one piece: the top patches of its channels in x [N, H, W, C] (required for a patches
 * piece), or their feature visualisations (seeded by the options' seed plus the first channel, so a
 * piece gives the same images whichever pieces ran before it). Leaves no tensor behind.
 */
export function atlasPiece(
  model: Classifier,
  piece: AtlasPiece,
  x: tf.Tensor4D | undefined,
  o: AtlasOptions = {},
): AtlasPieceResult {
  const s = atlasSettings(o);
  if (piece.kind === 'patches') {
    if (!x) throw new UserError('dataset patches need images; give a dataset');
    const top = datasetPatches(model, piece.layer.tap, piece.channels, x, {
      count: s.patches,
      batchSize: o.batchSize ?? ATLAS_DEFAULTS.batchSize,
    });
    return {
      kind: 'patches',
      patches: top.map((ps) =>
        ps.map((p) => ({ ...patchPixels(x, p), image: p.image, activation: p.activation, box: p.box })),
      ),
    };
  }
  if (!s.featureVis) throw new Error('atlasPiece: a feature visualisation piece with featureVis off');
  const fv = s.featureVis;
  const r = featureVisBatch(model, piece.layer.tap, piece.channels, {
    ...fv,
    seed: fv.seed + piece.channels[0],
  });
  const [, H, W, C] = r.images.shape;
  const data = r.images.dataSync() as Float32Array;
  r.images.dispose();
  return {
    kind: 'featureVis',
    images: piece.channels.map((_, b) => ({
      data: data.slice(b * H * W * C, (b + 1) * H * W * C),
      shape: [H, W, C] as [number, number, number],
      activation: r.activations[b],
      objective: [r.objectives[b][0], r.objectives[b].at(-1)!] as [number, number],
    })),
  };
}

/** One neuron of the atlas: its feature visualisation and top dataset patches (paths relative to the atlas folder). */
export interface AtlasNeuron {
  featureVis?: { file: string; activation: number; objective: [number, number] };
  patches?: { file: string; image: number; activation: number; box: [number, number, number, number] }[];
}

/** `atlas.json`: the model's hash, the settings of each kind of content, the layers and the neurons done. */
export interface AtlasIndex {
  format: typeof ATLAS_FORMAT;
  /** SHA-256 of the model's files (the Node adapter's `modelHash`); another hash empties the atlas. */
  modelHash: string;
  model: { dir: string; name: string; architecture: string };
  /** The pathway layers of the model (all of them, whether in the atlas or not). */
  graph: PathwayLayer[];
  /** The settings the feature visualisations and the patches were made with (null: none made yet). */
  featureVis: Required<FeatureVisOptions> | null;
  /** `limit`: the images asked for; `images`: how many the dataset gave. */
  patches: { count: number; data: string; limit: number; images: number } | null;
  /** Per layer, per channel (as a string key): what is done. */
  neurons: Record<string, Record<string, AtlasNeuron>>;
  /** Who made the atlas and when it last changed (src/report/provenance.ts). */
  provenance: { command: string | null; model: string } & ProvenanceStamp;
}
