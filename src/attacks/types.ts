import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';

/**
 * The options several attacks share, as one object given to any attack by name (evaluation runs
 * many attacks with one). Each attack reads the options it declares (its record's `options`) and
 * ignores the others; its own typed options (`PgdOptions`, `SnowOptions`, ...) say which. Pixels are
 * in [0, 1].
 */
export interface AttackOptions {
  /** Perturbation budget in [0,1] pixel units (L-inf) or in L2 norm of the [0,1] image. */
  eps: number;
  norm?: 'linf' | 'l2';
  steps?: number;
  /** Step size alpha. */
  stepSize?: number;
  randomStart?: boolean;
  /** Extra random restarts; the worst case per example is kept. */
  restarts?: number;
  /** Target class per example (targeted attack) or one class for all; untargeted when absent. */
  target?: number | number[];
  /** Loss to ascend: cross-entropy (default) or the logit margin of Carlini and Wagner. */
  loss?: 'ce' | 'cw';
  /** Stop updating an example once it is misclassified (or reaches its target). */
  earlyStop?: boolean;
  /** Seed for the random start. */
  seed?: number;
}

/** Options for an attack called by name: the shared ones, plus any attack's own (`rounds`, `budget`, ...). */
export type AttackArgs = AttackOptions | (AttackOptions & Record<string, unknown>);

/** What every attack returns; the caller owns the tensors. */
export interface AttackResult {
  /** Adversarial images [N, H, W, C] in [0, 1]. */
  xAdv: tf.Tensor4D;
  /** Per example: misclassified (untargeted) or classified as its target (targeted). */
  success: boolean[];
  /** Logits on xAdv [N, K]. */
  logits: tf.Tensor2D;
  /** The options used, defaults filled in. */
  options: Record<string, unknown>;
  /** Minimum-eps search only: the smallest successful budget per example (NaN where none was found). */
  epsPerExample?: number[];
  /** Per-example measurements an attack reports besides success (e.g. AAI's Kendall tau); NaN = not measured. */
  metrics?: Record<string, number[]>;
}

/** One signature for every attack: `(model, batch, options) -> result`; O is the attack's own options. */
export type Attack<O = AttackArgs> = (model: Classifier, batch: Batch, options: O) => AttackResult;
