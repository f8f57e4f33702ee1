import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';

/**
 * Which class each map explains: the model's prediction (default), the true label, one class for
 * every image, or one class per image.
 */
export type ExplainTarget = 'predicted' | 'label' | number | number[];

/** Options every explainer takes (Captum's one interface); each method's type adds its own. */
export interface CommonExplainOptions {
  /** The class explained (default `'predicted'`). */
  target?: ExplainTarget;
  /** The score differentiated: the target's logit (default) or its cross-entropy. */
  score?: 'logit' | 'ce';
  /** Images (or noise samples, or path points) per internal forward/backward pass. */
  batchSize?: number;
}

/** Options of gradient saliency and Gradient x Input. */
export type GradientOptions = CommonExplainOptions;

/** Options of SmoothGrad (see {@link ExplainOptions} for each). */
export interface SmoothGradOptions extends CommonExplainOptions {
  samples?: number;
  spread?: number;
  aggregate?: 'mean' | 'sum';
  seed?: number;
  sampleRange?: [number, number];
}

/** Options of Integrated Gradients (see {@link ExplainOptions} for each). */
export interface IntegratedGradientsOptions extends CommonExplainOptions {
  steps?: number;
  rule?: 'riemann-right' | 'trapezoid';
  baseline?: 'zeros' | 'blur' | 'uniform' | tf.Tensor | ArrayLike<number>;
  blurSigma?: number;
  seed?: number;
  sampleRange?: [number, number];
}

/** Options of CAM: logits only. */
export interface CamOptions extends Omit<CommonExplainOptions, 'score'> {
  score?: 'logit';
}

/** Options of Grad-CAM (see {@link ExplainOptions} for each). */
export interface GradCamOptions extends CamOptions {
  layer?: string;
  relu?: boolean;
}

/**
 * One options object for any explainer by name (a command that runs several methods gives them
 * one): the common options plus every built-in method's own. Each explainer reads the options its
 * record declares and ignores the others, and echoes them back in {@link ExplainResult.options}
 * with its defaults filled in. Images are float32 [N, H, W, C] in [0, 1]; inference mode.
 */
export interface ExplainOptions {
  /** The class explained (default `'predicted'`). */
  target?: ExplainTarget;
  /**
   * The score S differentiated (ALGORITHMS.md section 2): the target's logit (default) or the
   * cross-entropy of the target, `-log softmax(f(x))_t` (its gradient points away from the class;
   * display it with `abs`). CAM and Grad-CAM explain logits only.
   */
  score?: 'logit' | 'ce';
  /** Images (or noise samples, or path points) per internal forward/backward pass (default 32). */
  batchSize?: number;
  /** Seed for SmoothGrad's noise and IG's `uniform` baseline (default 0). */
  seed?: number;
  /**
   * SmoothGrad and Integrated Gradients: compute only the noise samples (path points) `a .. b - 1` of
   * the full count; the maps are then partial sums that add up to the full map over a partition of
   * the samples (how a pool splits one image's samples across workers). Per-image numbers computed
   * from the map (IG's `delta`) are those of the partial map.
   */
  sampleRange?: [number, number];

  /** SmoothGrad: noise samples per image n (default 25, as PAIR's library; AT-CNN used 100). */
  samples?: number;
  /** SmoothGrad: noise std as a fraction of each image's range max(x) - min(x) (default 0.15). */
  spread?: number;
  /** SmoothGrad: average the sample gradients (default `'mean'`) or sum them as AT-CNN's code did. */
  aggregate?: 'mean' | 'sum';

  /** Integrated Gradients: path points m (default 100, as in the Int/Int2 code). */
  steps?: number;
  /** Integrated Gradients: right Riemann sum (default) or the trapezoid rule (m + 1 points). */
  rule?: 'riemann-right' | 'trapezoid';
  /**
   * Integrated Gradients: the baseline a: `'zeros'` (black, default), `'blur'` (each image
   * Gaussian-blurred with `blurSigma`), `'uniform'` (U(0,1) noise from `seed`), or an image
   * [H, W, C] or [N, H, W, C] as a tensor or a flat array.
   */
  baseline?: 'zeros' | 'blur' | 'uniform' | tf.Tensor | ArrayLike<number>;
  /** Integrated Gradients: the blur baseline's std in pixels (default min(H, W) / 10). */
  blurSigma?: number;

  /** Grad-CAM: the layer explained (default the card's `layers.lastConv`, else `layers.camFeatures`). */
  layer?: string;
  /** Grad-CAM: apply ReLU to the map (default true). */
  relu?: boolean;
}

/** What every explainer returns; the caller owns `maps`. */
export interface ExplainResult {
  /**
   * Maps [N, h, w, c] at the method's own resolution: the input's [H, W, C] for gradient methods,
   * the feature map's [h, w, 1] for CAM and Grad-CAM (see `upsample` for display).
   */
  maps: tf.Tensor4D;
  /** The class each map explains. */
  targets: number[];
  /** The options used, defaults filled in. */
  options: Record<string, unknown>;
  /** S(x) per image: the explained score. */
  scores?: number[];
  /** Integrated Gradients: S(a) per image at the baseline. */
  baselineScores?: number[];
  /** Integrated Gradients: completeness gap sum_i IG_i - (S(x) - S(a)) per image. */
  delta?: number[];
  /** Integrated Gradients: |delta| / |S(x) - S(a)| per image (Infinity or NaN where S(x) = S(a)). */
  relativeError?: number[];
  /** CAM: the target's bias b_t per image, so that mean over positions of the map + bias = logit. */
  bias?: number[];
}

/** One signature for every explainer: `(model, batch, options) -> result`; O is the method's options. */
export type Explainer<O = ExplainOptions> = (model: Classifier, batch: Batch, options?: O) => ExplainResult;
