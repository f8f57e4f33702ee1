/**
 * Which card a model gets, whatever the loader reads it from (a folder in Node, URLs in a browser):
 * the `advlens.json` beside it, a preset named or recognised from its files, or a card inferred
 * from the model's input and output shapes (input in [0, 1], logits out, labels from labels.json).
 *
 *   const card = resolveCard(source) ?? inferCard(model, source);
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { UserError } from '../errors.ts';
import { validateCard, type ModelCard } from './card.ts';
import { PRESETS, labelsFrom } from './presets.ts';

/** The card's file name beside model.json. */
export const CARD_FILE = 'advlens.json';

/** What a loader found where a model lives. */
export interface ModelSource {
  /** The model's folder or URL, for messages and the inferred card's name. */
  where: string;
  /** The model's name when no card names it (the folder's name). */
  name: string;
  /** model.json, parsed. */
  modelJson: { modelTopology?: unknown; format?: string };
  /** The files the loader sees beside model.json (presets recognise models by them). */
  files: string[];
  /** advlens.json, parsed, and where it was read from; absent when there is none. */
  card?: { json: unknown; where: string };
  /** labels.json, parsed (undefined when absent); called only when a preset or an inferred card needs it. */
  labels(): unknown;
}

/**
 * The card for `src`: preset `preset` when named, else its advlens.json (checked to be one), else a
 * preset that recognises it; undefined when none applies (then {@link inferCard} after loading).
 */
export function resolveCard(src: ModelSource, preset?: string): ModelCard | undefined {
  if (preset) {
    const p = PRESETS[preset];
    if (!p) throw new UserError(`unknown preset '${preset}'; use one of ${Object.keys(PRESETS).join(', ')}`);
    return p.card(src.files.includes('labels.json') ? src.labels() : undefined);
  }
  if (src.card) {
    return validateCard(src.card.json, src.card.where);
  }
  const p = Object.values(PRESETS).find((pr) => pr.recognise(src.modelJson, src.files));
  return p ? p.card(src.labels()) : undefined;
}

/** Whether the model is a tfjs GraphModel (by its card, else by its model.json). */
export function isGraphModel(src: ModelSource, card: ModelCard | undefined): boolean {
  if (card) return card.modelType === 'graph';
  return src.modelJson.format === 'graph-model' || !!(src.modelJson.modelTopology as { node?: unknown })?.node;
}

/**
 * The card of a model that came without one: input [N, H, W, 1 or 3] in [0, 1] as the model
 * declares it, logits out, labels from labels.json. A {@link UserError} when the input is not an image.
 */
export function inferCard(model: tfl.LayersModel | GraphModel, src: ModelSource): ModelCard {
  const shape = (model.inputs[0].shape ?? []) as (number | null)[];
  const [, h, w, c] = shape;
  if (shape.length !== 4 || !h || !w || (c !== 1 && c !== 3)) {
    throw new UserError(
      `the model in ${src.where} takes input of shape [${shape}]; advlens needs images [N, H, W, 1 or 3] with a fixed H and W`,
    );
  }
  const outShape = (model.outputs[0].shape ?? []) as (number | null)[];
  const classes = outShape[outShape.length - 1] ?? 0;
  const labels = labelsFrom(
    src.files.includes('labels.json') ? src.labels() : undefined,
    classes,
    `${src.where}/labels.json`,
  );
  return {
    format: 'advlens-card/1',
    name: src.name,
    description: 'no advlens.json: assumed input in [0,1] and logits out; add a card to say otherwise',
    architecture: 'unknown',
    modelType: model instanceof tfl.LayersModel ? 'layers' : 'graph',
    preprocess: { height: h, width: w, channels: c, resize: 'fill', scale: [0, 1] },
    labels,
    output: 'logits',
    versions: {},
    created: new Date(0).toISOString(),
  };
}
