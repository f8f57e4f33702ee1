/**
 * Gradient saliency: Simonyan et al., "Deep Inside Convolutional Networks: Visualising Image
 * Classification Models and Saliency Maps", 2014. The map is grad_x S(x), with S the target's logit
 * (default) or cross-entropy; Gradient x Input (Shrikumar et al., 2016) multiplies it by x.
 * Options (GradientOptions): `target` 'predicted', `score` 'logit', `batchSize` 32 (8 above 64x64
 * inputs). Input: images [N, H, W, C] in [0, 1]; maps [N, H, W, C] at input size.
 *
 *   const r = gradient(model, batch, { target: 'label' });
 *   r.maps.dispose();
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import type { ExplainResult, GradientOptions } from './types.ts';
import { COMMON_EXPLAIN_SPECS, defineExplainer } from './record.ts';
import { batchedGradient, defaultBatchSize, resolveTargets } from './scores.ts';
import type { OptionSpecs, Resolved } from '../options.ts';

// The shared helpers lived here; these re-exports keep imports from './gradient.ts' working.
export {
  accumulateGradients,
  defaultBatchSize,
  resolveTargets,
  sampleRangeOf,
  scoreGradient,
  scoreOf,
  scoresOf,
} from './scores.ts';

/** The plain input gradient's options (Simonyan et al. 2014): only the options every explainer shares. */
export const GRADIENT_OPTIONS = {
  ...COMMON_EXPLAIN_SPECS,
} satisfies OptionSpecs<GradientOptions>;

/** The common options with the batch size's default for `model`'s input size. */
export function commonSettings(model: Classifier, o: Resolved<GradientOptions, typeof GRADIENT_OPTIONS>) {
  return {
    target: o.target,
    score: o.score,
    batchSize: o.batchSize ?? defaultBatchSize(model.inputShape),
  } as const;
}

const GRADIENT_FACTS = {
  samplesPerImage: null,
  needsCam: false,
  needsLayersModel: false,
  signed: true,
  resolution: 'input',
} as const;

/** grad_x S(x) [N, H, W, C] with its targets and settings, reported as `method` (caller owns `maps`). */
function gradientMaps(
  model: Classifier,
  batch: Batch,
  o: Resolved<GradientOptions, typeof GRADIENT_OPTIONS>,
  method: string,
): ExplainResult {
  const d = commonSettings(model, o);
  const targets = resolveTargets(model, batch, d.target);
  const maps = batchedGradient(model, batch.x, targets, d.score, d.batchSize);
  return { maps, targets, options: { method, ...d } };
}

/** Gradient saliency grad_x S(x), [N, H, W, C] (caller owns `maps`). */
export const gradientExplainer = defineExplainer<GradientOptions, typeof GRADIENT_OPTIONS>({
  name: 'gradient',
  summary: 'gradient saliency (Simonyan et al. 2014): grad_x S(x)',
  options: GRADIENT_OPTIONS,
  facts: GRADIENT_FACTS,
  explain: (model, batch, o) => gradientMaps(model, batch, o, 'gradient'),
});

/** Gradient x Input: x * grad_x S(x), [N, H, W, C] (caller owns `maps`). */
export const gradientXInputExplainer = defineExplainer<GradientOptions, typeof GRADIENT_OPTIONS>({
  name: 'gradient-x-input',
  summary: 'Gradient x Input (Shrikumar et al. 2016): x * grad_x S(x)',
  options: GRADIENT_OPTIONS,
  facts: GRADIENT_FACTS,
  explain: (model, batch, o) => {
    const g = gradientMaps(model, batch, o, 'gradient-x-input');
    const maps = tf.mul(g.maps, batch.x) as tf.Tensor4D;
    g.maps.dispose();
    return { ...g, maps };
  },
});

/** Gradient saliency (see the file's header); validates its options. */
export const gradient = gradientExplainer.run;
/** Gradient x Input (see the file's header); validates its options. */
export const gradientXInput = gradientXInputExplainer.run;
