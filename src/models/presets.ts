import { parseLabels, type ModelCard } from './card.ts';
import { VERSION } from '../version.ts';

/**
 * Presets describe outside models that come without an advlens card: how to feed them and what
 * their outputs mean. A preset is chosen by name (`--preset`) or recognised from the model's files.
 */
export interface Preset {
  name: string;
  /** True when a model.json (parsed) and the folder's file names look like this model. */
  recognise(modelJson: { modelTopology?: unknown }, files: string[]): boolean;
  /** The card, given the folder's labels.json (parsed) if any. */
  card(labelsJson: unknown): ModelCard;
}

/**
 * Class names from a folder's labels.json (parsed; undefined when there is none): an array of names,
 * or of objects with a `name` (and `index`), checked by {@link parseLabels}; 'class i' without one.
 */
export function labelsFrom(json: unknown, classes: number, file = 'labels.json'): string[] {
  if (json === undefined) return Array.from({ length: classes }, (_, i) => `class ${i}`);
  return parseLabels(json, classes, file);
}

const darknetTiny: Preset = {
  name: 'darknet-tiny',
  recognise(json, files) {
    const text = JSON.stringify(json.modelTopology ?? {});
    return files.includes('labels.json') && text.includes('"batch_input_shape":[null,224,224,3]') && text.includes('leaky_re_lu_15') && text.includes('conv2d_16');
  },
  card(labelsJson) {
    return {
      format: 'advlens-card/1',
      name: 'darknet-tiny',
      description: 'Darknet tiny ImageNet classifier (1.0 M parameters), from ml5 data and models (MIT). Input 224x224 RGB in [0,1], 1000 logits.',
      architecture: 'darknet-tiny',
      modelType: 'layers',
      preprocess: { height: 224, width: 224, channels: 3, resize: 'fill', scale: [0, 1] },
      labels: labelsFrom(labelsJson, 1000),
      output: 'logits',
      // conv2d_16 is the 1x1 conv to the 1000 classes before global average pooling: its output is CAM.
      layers: { lastConv: 'leaky_re_lu_15', camFeatures: 'leaky_re_lu_15', camDense: 'conv2d_16' },
      versions: { advlens: VERSION },
      created: new Date(0).toISOString(),
      license: 'MIT (ml5 data and models)',
    };
  },
};

/** Known outside models by name, each recognised from its files and described by a card (today darknet tiny). */
export const PRESETS: Record<string, Preset> = { 'darknet-tiny': darknetTiny };
